import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { Repository } from '../../src/index.js';
import { describeTree } from '../helpers.js';

/** A repository with tiny chunks so sizes around chunk boundaries are cheap to reach. */
export async function smallChunkRepo(dir: string): Promise<Repository> {
  const r = await Repository.init({ repo: dir });
  r.close();
  const cfgFile = path.join(dir, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  cfg.chunker = { kind: 'cdc', min: 256, avg: 1024, max: 4096 };
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  return Repository.open({ repo: dir });
}


/**
 * Snapshots `src` into a fresh small-chunk repository in `caseDir`, restores it (verified) into `caseDir/out` and
 * expects the restore to equal the source (names, contents, modes, times); then runs `more` with both, and removes
 * `caseDir` whatever happens.
 */
export async function snapshotRestoreRoundTrip(
  caseDir: string,
  src: string,
  more: (repo: Repository, snapshot: Awaited<ReturnType<Repository['snapshot']>>, out: string) => Promise<void> | void = () => undefined,
): Promise<void> {
  const repo = await smallChunkRepo(path.join(caseDir, 'repo'));
  try {
    const s = await repo.snapshot({ path: src });
    expect(s.manifest.errors).toEqual([]);
    const out = path.join(caseDir, 'out');
    await repo.restore(s.id, { target: out, verify: true });
    expect(describeTree(out, { mtimes: true })).toEqual(describeTree(src, { mtimes: true }));
    await more(repo, s, out);
  } finally {
    repo.close();
    fs.rmSync(caseDir, { recursive: true, force: true });
  }
}
