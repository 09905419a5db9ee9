/**
 * The minor collections that keep restores and putSync's snapshots under their memory bound depend on V8's gc
 * extension being reachable from a running process (src/util/youngGarbage.ts). On a Node where it is not, they
 * would silently stop: this test says so instead.
 */
import { describe, expect, it } from 'vitest';
import { collectYoungGarbage } from '../../../src/util/youngGarbage.js';

describe('collectYoungGarbage', () => {
  it('runs a minor collection on this Node', () => {
    expect(collectYoungGarbage()).toBe(true);
    expect(collectYoungGarbage()).toBe(true); // the second call reuses the function found by the first
  });
});
