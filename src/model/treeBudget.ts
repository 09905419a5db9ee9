/**
 * A bound on how many tree entries a walk of one or two snapshots may load.
 *
 * Trees are a DAG: one subtree may be named by many entries, which is how
 * identical directories share storage. A crafted tree can use that to name
 * 2^40 paths in a few kilobytes (each level naming the next twice), and any
 * walk that visits paths (the index's per-file history, a full diff) would
 * run for ever. A snapshot's manifest records how many files, directories and
 * symlinks its tree holds, so a walk is given a budget derived from those
 * counts: loading more entries than the manifests account for means the tree
 * disagrees with its manifest, which is damage, and the walk stops there.
 */
import { IntegrityError } from '../errors.js';
import type { SnapshotStats } from './manifest.js';
import type { TreeLoader } from './treeDiff.js';

/** The entries a snapshot's tree holds by its manifest (the root directory itself excluded). */
export function recordedEntries(stats: Pick<SnapshotStats, 'files' | 'dirs' | 'symlinks'>): number {
  return stats.files + stats.dirs + stats.symlinks;
}

/**
 * Slack over the recorded counts: the budget only has to stop a walk that is
 * exponentially larger than its manifest, so it never needs to be tight, and
 * a small counting difference must not turn a sound snapshot into "damage".
 */
export function entryBudget(...stats: Array<Pick<SnapshotStats, 'files' | 'dirs' | 'symlinks'> | undefined>): number {
  let sum = 0;
  for (const s of stats) if (s) sum += recordedEntries(s);
  return 2 * sum + 1024;
}

/** The error a walk throws when its trees name more than the manifest accounts for. */
function overBudget(what: string, kind: string, budget: number): IntegrityError {
  return new IntegrityError(
    `${what}: its trees name more than ${budget} ${kind}, far more than its manifest records (a subtree named over and over: damaged or crafted)`,
    { hint: 'cairn never writes such a tree: forget the snapshot (`cairn forget <id>`) unless you know where it came from' },
  );
}

/**
 * Slack over a manifest's logical bytes for a walk that writes file contents (a restore): as entryBudget, it only
 * has to stop a walk exponentially larger than its manifest (one object named by a million entries, or a file
 * listing one chunk a million times).
 */
export function byteBudget(...stats: Array<Pick<SnapshotStats, 'bytes'> | undefined>): number {
  let sum = 0;
  for (const s of stats) if (s) sum += s.bytes;
  return 2 * sum + 64 * 1024 * 1024;
}

/**
 * A budget spent synchronously by a walk that loads trees itself (the restore's writer): entries as trees are
 * loaded, bytes as file contents are written. Spending past either limit throws an IntegrityError naming `what`.
 */
export class WalkBudget {
  private entries = 0;
  private bytes = 0;

  constructor(
    readonly what: string,
    readonly maxEntries: number,
    readonly maxBytes: number = Number.POSITIVE_INFINITY,
  ) {}

  /** For a snapshot's whole tree, by its manifest's counts. */
  static forSnapshot(what: string, stats: Pick<SnapshotStats, 'files' | 'dirs' | 'symlinks' | 'bytes'>): WalkBudget {
    return new WalkBudget(what, entryBudget(stats), byteBudget(stats));
  }

  spendEntries(n: number): void {
    this.entries += n;
    if (this.entries > this.maxEntries) throw overBudget(this.what, 'entries', this.maxEntries);
  }

  spendBytes(n: number): void {
    this.bytes += n;
    if (this.bytes > this.maxBytes) throw overBudget(this.what, 'bytes of file content', this.maxBytes);
  }
}

/**
 * Wraps `load` so that loading more than `budget` entries in all throws an
 * IntegrityError naming `what` (e.g. "snapshot 1a2b3c4d5e6f").
 */
export function budgetedLoader(load: TreeLoader, budget: number, what: string): TreeLoader {
  const spent = new WalkBudget(what, budget);
  let sinceTurn = 0;
  return async (id) => {
    const entries = await load(id);
    spent.spendEntries(entries.length);
    // Trees served from the cache resolve at once, so a long walk would never give the event loop a turn, and
    // Ctrl-C (SIGINT, SIGTERM) would wait for its end: `ls -r` of a huge tree ran on for minutes after SIGINT.
    sinceTurn += entries.length;
    if (sinceTurn >= TURN_EVERY) {
      sinceTurn = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return entries;
  };
}

/** Entries a budgeted walk loads between its turns of the event loop. */
const TURN_EVERY = 8192;

/** See historyLoader. */
export const SHARING_FLOOR = 256 * 1024;
/** See historyLoader. */
export const SHARING_FACTOR = 64;

/**
 * budgetedLoader for the walks cairn runs on its own (the index's catch-up and `rebuild-index` computing per-file
 * history), which must end even for a tree bomb whose manifest also claims enormous counts, since every command
 * runs the catch-up: past SHARING_FLOOR entries loaded, a walk that has loaded more than SHARING_FACTOR times the
 * entries of the distinct trees it has seen stops too. A sound snapshot shares subtrees (identical directories)
 * far less than that as a rule; one that does (dozens of identical checkouts of a large tree) is only indexed
 * without its per-file history, with a warning.
 */
export function historyLoader(load: TreeLoader, budget: number, what: string): TreeLoader {
  const bounded = budgetedLoader(load, budget, what);
  const seen = new Set<string>();
  let distinct = 0;
  let loaded = 0;
  return async (id) => {
    const entries = await bounded(id);
    loaded += entries.length;
    if (!seen.has(id)) {
      seen.add(id);
      distinct += entries.length;
    }
    if (loaded > SHARING_FLOOR && loaded > SHARING_FACTOR * distinct) {
      throw new IntegrityError(
        `${what}: its trees name ${loaded} entries from ${seen.size} distinct trees of ${distinct} entries (one subtree named over and over: crafted, or a tree of many identical copies)`,
        { hint: 'its per-file history is not indexed; everything else about it is' },
      );
    }
    return entries;
  };
}
