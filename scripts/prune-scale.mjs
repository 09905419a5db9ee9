// Measures prune on a synthetic repository of N objects (default 1,000,000):
// half of them reachable from one snapshot (N/2 one-chunk files in 1000-entry
// directories), half garbage. Run after `npm run build`:
//   node scripts/prune-scale.mjs 1000000
// It builds the repository, then runs prune --dry-run, prune, verify and
// stats with the V8 heap capped at 64 MiB, under /usr/bin/time, and prints
// each one's wall time and peak RSS.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const lib = await import(path.join(root, 'dist/src/index.js'));
const { encodeManifest } = await import(path.join(root, 'dist/src/model/manifest.js'));
const { encodeTree } = await import(path.join(root, 'dist/src/model/tree.js'));
const { snapshotMarker } = await import(path.join(root, 'dist/src/refs.js'));

const N = Number(process.argv[2] ?? 1_000_000);
const dir = fs.mkdtempSync(path.join(process.env.SCALE_DIR ?? os.tmpdir(), 'cairn-scale-'));
const repoDir = path.join(dir, 'repo');
const repo = await lib.Repository.init({ repo: repoDir });
const t0 = Date.now();
const half = Math.floor(N / 2);
const dirs = [];
let entries = [];
for (let i = 0; i < half; i++) {
  const { id } = await repo.store.put(Buffer.from(`reachable chunk ${i}`));
  entries.push({ name: `f${i}`, type: 'file', mode: 0o644, mtime: '0', size: 20, chunks: [id] });
  if (entries.length === 1000 || i === half - 1) {
    const t = await repo.store.put(encodeTree(entries));
    dirs.push({ name: `d${dirs.length}`, type: 'dir', mode: 0o755, mtime: '0', tree: t.id });
    entries = [];
  }
}
for (let i = 0; i < N - half - dirs.length - 2; i++) await repo.store.put(Buffer.from(`garbage chunk ${i}`));
const rootTree = await repo.store.put(encodeTree(dirs));
const manifest = {
  v: 1, kind: 'dir', tree: rootTree.id, source: '/synthetic', host: 'h', user: 'u', time: '2026-01-01T00:00:00.000Z', scanStart: '0',
  parents: [], mode: 'full', base: null, type: 'manual', message: 'scale', errors: [], warnings: [],
  stats: { files: half, dirs: dirs.length, symlinks: 0, bytes: half * 20, added: half, modified: 0, deleted: 0, unchanged: 0, bytesRead: 0, filesRead: 0, newObjects: 0, newBytes: 0, durationMs: 0, errors: 0 },
};
const m = await repo.store.put(encodeManifest(manifest));
await repo.store.flush();
fs.writeFileSync(snapshotMarker(repoDir, m.id), '');
repo.index.addSnapshot(m.id, manifest, []);
repo.close();
console.log(`built ${N} objects in ${((Date.now() - t0) / 1000).toFixed(1)} s under ${repoDir}`);

const cli = path.join(root, 'dist/bin/cairn.js');
// The V8 heap is capped at 64 MiB: if memory grew with the number of objects, these would crash at a million.
const HEAP = ['--max-old-space-size=64'];
for (const args of [['prune', '--dry-run', '--json'], ['--yes', 'prune', '--json'], ['verify', '--json'], ['stats', '--json']]) {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, ...HEAP, cli, '--repo', repoDir, ...args], { encoding: 'utf8' });
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1];
  const wall = /Elapsed \(wall clock\) time.*: (.+)/.exec(r.stderr)?.[1];
  let what = r.stderr.split('\n').filter((l) => /cairn|heap|memory/i.test(l)).slice(0, 3).join(' | ');
  try {
    const s = JSON.parse(r.stdout);
    what = args.includes('prune')
      ? `scanned ${s.scannedObjects}, reachable ${s.reachableObjects}, deleted ${s.deletedObjects}`
      : args[0] === 'verify'
        ? `ok ${s.ok}, ${s.trees} trees, ${s.objects} objects checked`
        : `${s.objects} objects, unique ${s.uniqueBytes} B`;
  } catch {
    /* keep stderr */
  }
  console.log(`cairn ${args.join(' ')}: exit ${r.status}, wall ${wall}, peak RSS ${rss ? (Number(rss) / 1024).toFixed(0) : '?'} MiB; ${what}`);
}
if (!process.env.KEEP) execFileSync('rm', ['-rf', dir]);
