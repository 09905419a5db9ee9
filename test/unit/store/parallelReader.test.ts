/**
 * ParallelReader (src/store/parallelReader.ts) with its real worker (the built dist/src/store/readerThread.js):
 * groups come back read, decoded (small snappy objects in WebAssembly) and verified, and a group with a damaged
 * object, or any group of a worker that cannot start, comes back undefined for the caller to read itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeObjectSync } from '../../../src/store/objectCodec.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { objectPath } from '../../../src/store/objectPath.js';
import { ParallelReader } from '../../../src/store/parallelReader.js';
import { sha256Hex } from '../../../src/util/hash.js';
import { tempDir } from '../../helpers.js';
import { content as seeded } from '../../property/treeArb.js';

const READER = fileURLToPath(new URL('../../../dist/src/store/readerThread.js', import.meta.url));
const root = tempDir('cairn-parallel-reader-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Stores `content` as an object file (snappy where it compresses) and returns its id. */
function put(content: Buffer): ObjectId {
  const id = sha256Hex(content) as ObjectId;
  const p = objectPath(root, id);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, encodeObjectSync(content, 'snappy'));
  return id;
}

describe('ParallelReader', () => {
  it('reads groups, decoded and verified; a damaged object fails its group', async () => {
    // Database-like pages: compressible, so the worker decodes snappy (WebAssembly) for each.
    const pages = Array.from({ length: 40 }, (_, i) => Buffer.concat([Buffer.alloc(5000, i), seeded(3192, i)]));
    const ids = pages.map(put);
    const reader = new ParallelReader(READER, root);
    const group = await reader.read(ids);
    expect(group).toEqual(Buffer.concat(pages));
    reader.release(group!);
    const again = await reader.read(ids.slice(10, 20));
    expect(again).toEqual(Buffer.concat(pages.slice(10, 20)));

    const damaged = put(Buffer.concat([Buffer.alloc(6000, 99), seeded(2000, 99)]));
    const p = objectPath(root, damaged);
    const stored = fs.readFileSync(p);
    stored[stored.length - 1] ^= 0xff;
    fs.writeFileSync(p, stored);
    expect(await reader.read([ids[0]!, damaged])).toBeUndefined();
  });

  it('a worker that cannot start leaves every group to the caller', async () => {
    const reader = new ParallelReader(path.join(root, 'no-such-worker.js'), root);
    expect(await reader.read([put(Buffer.from('x'.repeat(5000)))])).toBeUndefined();
    expect(await reader.read([put(Buffer.from('y'.repeat(5000)))])).toBeUndefined();
  });
});
