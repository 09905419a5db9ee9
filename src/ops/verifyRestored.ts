/** Re-reads a restored tree and compares every file's content with the snapshot (restore --verify). */
import * as fsp from 'node:fs/promises';
import { IntegrityError } from '../errors.js';
import { nameBytes } from '../model/entryName.js';
import { isInline, targetBytes, type TreeEntry } from '../model/tree.js';
import type { RepoContext } from '../repoContext.js';
import type { ObjectId } from '../store/objectId.js';
import { sha256Hex } from '../util/hash.js';

const SLASH = Buffer.from('/');

export async function verifyRestoredTree(ctx: RepoContext, tree: ObjectId, dir: string | Buffer, rel = ''): Promise<number> {
  let checked = 0;
  const base = typeof dir === 'string' ? Buffer.from(dir) : dir;
  for (const e of await ctx.loadTree(tree)) {
    const p = Buffer.concat([base, SLASH, nameBytes(e)]);
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    checked += e.type === 'dir' ? await verifyRestoredTree(ctx, e.tree!, p, r) : await verifyRestoredEntry(ctx, e, p, r);
  }
  return checked;
}

/** Re-reads one restored file or symlink at `p` and compares it with entry `e`; returns 1. */
export async function verifyRestoredEntry(ctx: RepoContext, e: TreeEntry, p: Buffer | string, r: string): Promise<number> {
  if (e.type === 'symlink') {
    const t = await fsp.readlink(p, { encoding: 'buffer' });
    if (!t.equals(targetBytes(e))) throw new IntegrityError(`verify: symlink ${r} points elsewhere than the snapshot says`, { details: { path: r } });
    return 1;
  }
  const fh = await fsp.open(p, 'r');
  try {
    for (const id of e.chunks ?? []) {
      const length = isInline(e) ? (e.size ?? 0) : (await ctx.store.get(id)).length;
      const got = Buffer.alloc(length);
      const { bytesRead } = await fh.read(got, 0, length, null);
      if (bytesRead !== length || sha256Hex(got) !== id) {
        throw new IntegrityError(`verify: ${r} differs from the snapshot after restore`, { details: { path: r, object: id } });
      }
    }
    const extra = await fh.read(Buffer.alloc(1), 0, 1, null);
    if (extra.bytesRead !== 0) throw new IntegrityError(`verify: ${r} is longer than in the snapshot`, { details: { path: r } });
  } finally {
    await fh.close();
  }
  return 1;
}
