/**
 * ChunksAhead (src/ops/materialize.ts): a large file's chunks read several at once, whatever order the reads finish
 * in. The contents come out in the file's order; no more than `inFlight` reads run at once; a failed read fails the
 * chunk it was for, not an earlier one; settle() returns only when no read is left running.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunksAhead } from '../../../src/ops/materialize.js';
import type { ObjectId } from '../../../src/store/objectId.js';

const idOf = (i: number) => i.toString(16).padStart(64, '0') as ObjectId;

describe('ChunksAhead', () => {
  it('gives the chunks in order, with at most inFlight reads at once, and a failed read at its own place', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.option(fc.nat({ max: 39 })), fc.scheduler(), async (n, inFlight, failAt, s) => {
        const ids = Array.from({ length: n }, (_, i) => idOf(i));
        let running = 0;
        let most = 0;
        const ahead = new ChunksAhead(ids, inFlight, async (id) => {
          running++;
          most = Math.max(most, running);
          try {
            await s.schedule(Promise.resolve(), `read ${id.slice(-2)}`);
            if (failAt !== null && id === idOf(failAt)) throw new Error(`bad ${id}`);
            return Buffer.from(id);
          } finally {
            running--;
          }
        });
        const got: string[] = [];
        let failed: unknown;
        const consume = (async () => {
          for (let i = 0; i < n; i++) {
            try {
              got.push((await ahead.next()).toString());
            } catch (err) {
              failed = err;
              break;
            }
          }
          await ahead.settle();
          expect(running).toBe(0);
        })();
        await s.waitFor(consume);
        const stop = failAt !== null && failAt < n ? failAt : n;
        expect(got).toEqual(ids.slice(0, stop));
        if (stop < n) expect(String(failed)).toContain(`bad ${idOf(stop)}`);
        else expect(failed).toBeUndefined();
        expect(most).toBeLessThanOrEqual(inFlight);
        if (n > 0) expect(most).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });
});
