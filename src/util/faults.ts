/**
 * Test-only fault injection, so that safety claims are tested rather than
 * hoped. Driven by the environment variable CAIRN_TEST_FAULTS, a comma list of
 * `point:action:n` rules: at the n-th time `point` is reached (1-based),
 * `action` happens. Actions: an errno code (ENOSPC, EACCES, EIO, ...) throws a
 * system error with that code; `stall` writes `cairn-test-fault: stalled at
 * <point> <n>` on stderr and then never returns (a test kills the process on
 * that line, with no dependence on wall time); `hang` (faultPoint only) awaits a
 * promise that nothing settles, without keeping the process alive; `pause` (faultPoint only) writes
 * `cairn-test-fault: paused at <point> <n>` on stderr and waits until its standard input gets a line or is
 * closed, then goes on (a test holds a process at a point while it runs another, with no timing involved).
 * Unset, every call is a no-op.
 *
 * Points used by the restore engine: `restore-stage` (before each staged
 * entry), `restore-apply` (after each rename into the target),
 * `restore-rollback` (before each undone action), `restore-finish` (1: phase
 * applied written; 2: old/ moved to discard/, before HEAD; 3: the staging
 * directory removed, before the journal), `restore-rolled-back` (1: phase
 * rolled-back written, before the staging directory is removed; 2: before the
 * journal is), `restore-new` (a restore into a new directory; 1: the tree
 * staged and synced, before the rename; 2: after it, before the staging
 * directory is removed), `syncfs` (each call of
 * syncFileSystem(): a rule that trips makes it report syncfs unavailable, as
 * on a system without `sync -f`), `file-sync` (before each file fsyncTree()
 * syncs). And `free-space` (each freeBytes() call, util/freeSpace.ts): a rule that trips makes it report 0 bytes
 * free, as on a full disk. And `index-rebuild` (ops/rebuildIndex.ts: each rebuild of index.db, the rebuild lock
 * held, nothing built yet).
 */

interface FaultRule {
  point: string;
  action: string;
  n: number;
}

let parsed: { source: string; rules: FaultRule[] } | undefined;

function rules(): FaultRule[] {
  const source = process.env.CAIRN_TEST_FAULTS ?? '';
  if (parsed?.source !== source) {
    const list: FaultRule[] = [];
    for (const part of source.split(',')) {
      const [point, action, n] = part.trim().split(':');
      if (point && action && n && /^\d+$/.test(n)) list.push({ point, action, n: Number(n) });
    }
    parsed = { source, rules: list };
  }
  return parsed.rules;
}

/** An Error shaped like the one Node's fs throws for `code`. */
export function systemError(code: string, what: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: ${what}`) as NodeJS.ErrnoException; // shaped like Node's: 'EIO: ...'
  err.code = code;
  err.syscall = 'write';
  return err;
}

/** Reaches fault point `point` for the `count`-th time. */
export async function faultPoint(point: string, count: number): Promise<void> {
  const list = rules();
  if (list.length === 0) return;
  for (const r of list) {
    if (r.point !== point || r.n !== count) continue;
    if (r.action === 'stall') {
      process.stderr.write(`cairn-test-fault: stalled at ${point} ${count}\n`);
      const keepAlive = setInterval(() => undefined, 1 << 30);
      await new Promise<void>(() => undefined);
      clearInterval(keepAlive);
    }
    // A promise nothing will settle, with nothing else keeping the process alive: what a lost promise does (the
    // CLI must then fail, not exit 0 with the work half done).
    if (r.action === 'hang') await new Promise<void>(() => undefined);
    if (r.action === 'pause') {
      process.stderr.write(`cairn-test-fault: paused at ${point} ${count}\n`);
      await new Promise<void>((resolve) => {
        const go = () => {
          process.stdin.off('data', go).off('end', go).off('error', go);
          process.stdin.pause();
          resolve();
        };
        process.stdin.on('data', go).on('end', go).on('error', go);
      });
      return;
    }
    throw systemError(r.action, `injected fault at ${point} ${count}`);
  }
}

/**
 * faultPoint for synchronous code (a worker thread's loop): throws the rule's
 * errno at the `count`-th time, or for `stall` writes the same line as
 * faultPoint and blocks this thread for good. Worker threads see the process's
 * CAIRN_TEST_FAULTS, so a point can be reached off the main thread.
 * Points used by the object store, with the temp file created and nothing
 * written: `object-write` (each object putSync writes on the main thread),
 * `object-stage` (each chunk the staging worker writes). And by the reading
 * worker: `object-read-worker` (each group of objects it is asked to read).
 * And by a restore's writing worker: `restore-write-worker` (each small file, before it is created). And by
 * Materializer: `restore-link` (each hard link, before link(2); EPERM and the like make it write a copy).
 * And by refs.ts: `ref-written` (each tag or HEAD ref file written or removed,
 * durably, before the index is updated to match). And by repositoryLock.ts: `lock-write` (each lock file, its
 * temp file open and nothing written).
 */
export function faultPointSync(point: string, count: number): void {
  for (const r of rules()) {
    if (r.point !== point || r.n !== count) continue;
    if (r.action === 'stall') {
      process.stderr.write(`cairn-test-fault: stalled at ${point} ${count}\n`);
      for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    }
    throw systemError(r.action, `injected fault at ${point} ${count}`);
  }
}
