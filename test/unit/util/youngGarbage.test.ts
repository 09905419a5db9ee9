/**
 * The collections that keep restores, putSync's snapshots and long walks under their memory bound depend on V8's gc
 * extension being reachable from a running process (src/util/youngGarbage.ts). On a Node where it is not, they
 * would silently stop: this test says so instead.
 */
import { describe, expect, it } from 'vitest';
import { collectAllGarbage, collectYoungGarbage } from '../../../src/util/youngGarbage.js';

describe('collectYoungGarbage', () => {
  it('runs a minor collection on this Node', () => {
    expect(collectYoungGarbage()).toBe(true);
    expect(collectYoungGarbage()).toBe(true); // the second call reuses the function found by the first
  });
});

describe('collectAllGarbage', () => {
  it('runs a full collection: an old object nothing holds any more is gone after it', async () => {
    let old: object[] | undefined = Array.from({ length: 1000 }, (_, i) => ({ i }));
    const ref = new WeakRef(old);
    // Promoted out of the young generation, where only a full collection frees it.
    collectYoungGarbage();
    collectYoungGarbage();
    old = undefined;
    await new Promise((r) => setImmediate(r)); // a WeakRef keeps its target alive to the end of the job that made it
    expect(collectAllGarbage()).toBe(true);
    // With { type: 'major' }, Node 20's V8 runs a minor collection, which leaves an old object where it is.
    expect(ref.deref()).toBeUndefined();
  });
});
