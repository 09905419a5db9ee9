/**
 * A ceiling on the main thread's young generation, for the loops that store
 * many objects (a first snapshot's walk). V8 doubles the young generation each
 * time more bytes survive its scavenges than it holds, up to 2 semi-spaces of
 * 16 MiB: a first snapshot of the 36k-file tree kept ~32 MiB committed there,
 * and the buffers of content and compressed forms that only a scavenge frees
 * waited in glibc's heap meanwhile. Stopped at 8 MiB, the tree's first
 * snapshot peaked at 162-170 MiB RSS instead of 191-201 (docs/performance.md).
 *
 * The size of the young generation can only be capped before V8 starts
 * (`--max-semi-space-size`), but how much it grows is read each time it grows:
 * `--semi-space-growth-factor=1`, set once it has reached the limit, stops it
 * there. V8's flags are the process's: a worker thread starting sets them back
 * to the command line's, so startWorker() (workerExecArgv.ts) applies the limit
 * again once a worker is online (reapplyYoungGenerationLimit).
 *
 * Off unless a program turns it on (setYoungGenerationLimit): V8's flags are
 * the whole process's, and an application that uses cairn as a library keeps
 * its own heap's behaviour. The CLI turns it on (cli/main.ts).
 */
import * as v8 from 'node:v8';

/** The young generation's committed size (two semi-spaces) at which it stops growing. */
export const YOUNG_GENERATION_LIMIT_BYTES = 8 * 1024 * 1024;

let limited = false;
let configured: number | undefined;

/** Turns the limit on for this process (`bytes`), or off again (undefined: what was in force stays). */
export function setYoungGenerationLimit(bytes: number | undefined): void {
  configured = bytes;
}

/** Bytes committed for the main isolate's young generation (V8's `new_space`), or 0 when V8 does not say. */
export function youngGenerationBytes(): number {
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_size;
  return 0;
}

function stopGrowth(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}

/**
 * Stops the young generation growing once it has reached `limit` bytes (by default the one set with
 * setYoungGenerationLimit; none: nothing is done); cheap enough to call every few MiB of work. True once the
 * limit is in force. It never shrinks what V8 has committed already.
 */
export function limitYoungGeneration(limit = configured): boolean {
  if (limit === undefined || youngGenerationBytes() < limit) return limited;
  // Set each time, not once: a worker started since may have set the flags back.
  stopGrowth();
  limited = true;
  return true;
}

/** Applies the limit again if it was in force (a worker thread's start sets V8's flags back). */
export function reapplyYoungGenerationLimit(): void {
  if (limited) stopGrowth();
}
