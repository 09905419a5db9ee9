/** A repository in a temp dir, driven through the library, for op-level tests. The caller closes `repo` and removes `root`. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInline } from '../../../src/model/tree.js';
import { Repository } from '../../../src/repository.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { tempDir, writeTree, type TreeSpec } from '../../helpers.js';

export interface Fixture {
  root: string;
  repoDir: string;
  src: string;
  repo: Repository;
  /** Snapshot the source with a given time and type; returns the id. */
  snap(time: string, type?: string, message?: string): Promise<ObjectId>;
  write(spec: TreeSpec): void;
  reopen(approve?: boolean): Promise<Repository>;
}

/** `init.inlineMax: 0` stores every file as objects (for tests of damage to file objects). */
export async function makeFixture(spec: TreeSpec = {}, approve = true, init: { inlineMax?: number } = {}): Promise<Fixture> {
  const root = tempDir('cairn-ops-');
  const repoDir = path.join(root, 'repo');
  const src = path.join(root, 'src');
  let repo: Repository;
  try {
    writeTree(src, spec);
    repo = await Repository.init({ repo: repoDir, approve: () => approve, ...init });
  } catch (e) {
    fs.rmSync(root, { recursive: true, force: true });
    throw e;
  }
  const f: Fixture = {
    root,
    repoDir,
    src: fs.realpathSync(src),
    repo,
    async snap(time, type = 'daily', message = '') {
      return (await f.repo.snapshot({ path: src, time, type: type as never, message })).id;
    },
    write(s) {
      writeTree(src, s);
    },
    async reopen(ok = approve) {
      f.repo.close();
      f.repo = await Repository.open({ repo: repoDir, approve: () => ok });
      return f.repo;
    },
  };
  return f;
}

/** Every object id reachable from a snapshot (manifest, trees, chunks; not the chunks held inline in trees). */
export async function reachable(repo: Repository, id: ObjectId): Promise<Set<string>> {
  const out = new Set<string>([id]);
  const walk = async (tree: ObjectId): Promise<void> => {
    out.add(tree);
    for (const e of await repo.loadTree(tree)) {
      if (e.type === 'file' && !isInline(e)) for (const c of e.chunks ?? []) out.add(c);
      else if (e.type === 'dir') await walk(e.tree!);
    }
  };
  await walk((await repo.readManifest(id)).tree);
  return out;
}

export async function allObjects(repo: Repository): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const id of repo.store.list()) out.add(id);
  return out;
}

/** The chunk id of a small (single-chunk) file in a snapshot. */
export async function chunkOf(repo: Repository, ref: string, file: string): Promise<ObjectId> {
  const e = await repo.entryAt((await repo.readManifest(await repo.resolveRef(ref))).tree, file);
  if (!e || e.type !== 'file' || e.chunks?.length !== 1) throw new Error(`${file} is not a one-chunk file`);
  return e.chunks[0]!;
}

/** Flips one byte of a stored object (the last one). */
export function flipByte(repo: Repository, id: string): void {
  const p = repo.store.pathOf(id as ObjectId);
  const b = fs.readFileSync(p);
  b[b.length - 1] = b[b.length - 1]! ^ 0xff;
  fs.chmodSync(p, 0o644);
  fs.writeFileSync(p, b);
}
