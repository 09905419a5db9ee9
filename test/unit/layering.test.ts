/** Enforces the import rule of docs/architecture.md: layers import only downward; cli only through src/index.ts. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

// Lower number = lower layer. A file may import from its own rank or below.
const RANKS: Array<[RegExp, number]> = [
  [/^src\/util\//, 0],
  [/^src\/errors\.ts$/, 0],
  [/^src\/store\//, 1],
  [/^src\/chunk\//, 2],
  [/^src\/model\//, 3],
  [/^src\/index\//, 4],
  [/^src\/(repositoryConfig|repositoryLocator|repositoryLock|refs|approval|auditTrail)\.ts$/, 5],
  [/^src\/repoContext\.ts$/, 6],
  [/^src\/snapshot\//, 7],
  [/^src\/ops\//, 8],
  [/^src\/[^/]+\.ts$/, 9], // repository.ts and other facades
  [/^src\/index\.ts$/, 10],
  [/^cli\//, 11],
];

function rank(file: string): number {
  if (file === 'src/index.ts') return 10;
  for (const [re, r] of RANKS) if (re.test(file)) return r;
  throw new Error(`no layer for ${file}: add it to RANKS and docs/architecture.md`);
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

describe('architecture', () => {
  it('every import goes to the same or a lower layer', () => {
    const bad: string[] = [];
    for (const file of [...sources('src'), ...sources('cli')]) {
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)) {
        const spec = m[1]!;
        if (!spec.startsWith('.')) {
          if (file.startsWith('src/') && spec === 'commander') bad.push(`${file} imports commander`);
          if (file.startsWith('cli/') && (spec === 'better-sqlite3' || spec === 'fs-extra')) bad.push(`${file} imports ${spec}`);
          continue;
        }
        const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec)).replace(/\.js$/, '.ts');
        if (file.startsWith('cli/') && target.startsWith('src/') && target !== 'src/index.ts') bad.push(`${file} imports ${target} (cli may use only src/index.ts)`);
        else if (rank(target) > rank(file)) bad.push(`${file} (layer ${rank(file)}) imports ${target} (layer ${rank(target)})`);
      }
    }
    expect(bad).toEqual([]);
  });
});
