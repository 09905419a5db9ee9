import * as fs from 'node:fs';
import * as path from 'node:path';
import { Repository } from '../../src/index.js';

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

