/**
 * A full garbage collection when the main thread's old generation holds `slack` bytes more than after the last
 * one, for the loops that store many objects (a snapshot's walk with new content). V8 starts a full collection
 * when the old generation reaches a limit it sets from what the previous one kept, and before its first one that
 * limit is far above what a command keeps: a change step of 200k small files grew it to 82 MB used for 27 MB live,
 * the objects of each directory's walk promoted by the scavenges and dead soon after (docs/performance.md).
 *
 * Looked at from FsObjectStore.putSync's periodic collection, so a snapshot that stores nothing (a no-change
 * snapshot) never pays for the check. Off unless a program turns it on (setOldGenerationSlack): forcing
 * collections is the whole process's business; the CLI turns it on (cli/main.ts).
 */
import * as v8 from 'node:v8';
import { collectAllGarbage } from './youngGarbage.js';

/**
 * What the old generation may grow by between two full collections before one is forced. 16 MiB since the
 * twentieth session: with 32 a first snapshot of 100k small files never reached it (10 -> 33 MB used, 50 MB
 * committed by its end) and peaked at 149-154 MiB RSS, against 142-148 with 16 (6 interleaved rounds each; one more
 * full collection, ~50 ms); the db's first snapshot 149-153 -> 146-150 MiB (docs/performance.md).
 */
export const OLD_GENERATION_SLACK_BYTES = 16 * 1024 * 1024;

let configured: number | undefined;
/** Old-generation bytes in use after the last full collection (or at the first look). */
let base: number | undefined;

/** Whether a program turned the check on (setOldGenerationSlack): a worker it starts may then check its own heap. */
export function oldGenerationSlackEnabled(): boolean {
  return configured !== undefined;
}

/** Turns the check on for this process (`bytes` of slack), or off (undefined). */
export function setOldGenerationSlack(bytes: number | undefined): void {
  configured = bytes;
  base = undefined;
}

/** Bytes in use in the main isolate's old generation (its old space and its large objects). */
export function oldGenerationBytes(): number {
  let n = 0;
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'old_space' || s.space_name === 'large_object_space') n += s.space_used_size;
  return n;
}

/**
 * Runs a full collection when the old generation has grown by more than the slack since the last one (the first
 * call only takes the measure). True when it ran one.
 */
export function checkOldGenerationSlack(slack = configured): boolean {
  if (slack === undefined) return false;
  const used = oldGenerationBytes();
  if (base === undefined || used < base) {
    base = used; // the first look, or V8 collected on its own since
    return false;
  }
  if (used - base <= slack || !collectAllGarbage()) return false;
  base = oldGenerationBytes();
  return true;
}
