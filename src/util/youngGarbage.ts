/**
 * A minor garbage collection on demand, for a loop whose garbage is mostly
 * small buffers: each holds memory outside V8's heap (a decoded chunk) but
 * only ~100 bytes inside it, so the young generation fills, and the buffers
 * are freed, only after tens of megabytes of them. Restoring a 538 MB database
 * (65,751 page chunks, read on the main thread and the reading worker) peaked
 * at 157-159 MiB RSS without these collections and 144-151 MiB with one every
 * 8 groups of ~1 MiB on each thread (a scavenge of a small heap costs well
 * under a millisecond).
 *
 * Uses V8's gc extension, exposed to new contexts by --expose-gc (set here
 * with v8.setFlagsFromString); when that is unavailable, collectYoungGarbage()
 * does nothing and returns false.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

type GcFunction = (options?: { type?: 'minor' | 'major' }) => void;
let gc: GcFunction | null | undefined;

/** V8's gc function, found on first use; null when it is unavailable. */
function gcFunction(): GcFunction | null {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const f: unknown = vm.runInNewContext('typeof gc === "function" ? gc : undefined');
      gc = typeof f === 'function' ? (f as GcFunction) : null;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** Runs a minor collection; false when the gc extension is unavailable (nothing ran). */
export function collectYoungGarbage(): boolean {
  const f = gcFunction();
  if (!f) return false;
  f({ type: 'minor' });
  return true;
}

/**
 * A full collection: gc() without options (Node 20's V8 runs a minor one for `{ type: 'major' }`); false when the
 * gc extension is unavailable.
 */
export function collectAllGarbage(): boolean {
  const f = gcFunction();
  if (!f) return false;
  f();
  return true;
}
