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

/**
 * Wraps `load` so that loading more than `budget` entries in all throws an
 * IntegrityError naming `what` (e.g. "snapshot 1a2b3c4d5e6f").
 */
export function budgetedLoader(load: TreeLoader, budget: number, what: string): TreeLoader {
  let loaded = 0;
  return async (id) => {
    const entries = await load(id);
    loaded += entries.length;
    if (loaded > budget) {
      throw new IntegrityError(
        `${what}: its trees name more than ${budget} entries, far more than its manifest records (a subtree named over and over: damaged or crafted)`,
        { hint: 'cairn never writes such a tree: forget the snapshot (`cairn forget <id>`) unless you know where it came from' },
      );
    }
    return entries;
  };
}
