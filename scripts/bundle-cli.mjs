// Bundles the built CLI (dist/cli/main.js and everything it imports, except the
// native addons better-sqlite3 and snappy) into one file, dist/bin/cairn-cli.cjs,
// and writes the `cairn` binary, dist/bin/cairn.js, a small CommonJS loader that
// runs it with a V8 code cache (dist/bin/cairn-cli.cache) made here by a training
// run (scripts/templates/cairn-loader.cjs).
// Why: Node resolves, reads and compiles each ES module separately; the ~150
// modules of the CLI and its dependencies cost ~100-150 ms at every start, which
// is most of a no-change snapshot's budget; the code cache then saves compiling
// the bundle's functions again (docs/performance.md). The unbundled dist/ stays
// what the library (`import ... from 'cairn'`) uses.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = new URL('../dist/bin/', import.meta.url).pathname;

const bundle = join(bin, 'cairn-cli.cjs');
const cache = join(bin, 'cairn-cli.cache');
const loader = join(bin, 'cairn.js');

/**
 * esbuild turns each `import * as fs from 'node:fs'` of every bundled module into its own `__toESM(require(...))`,
 * a new object with a getter defined for every export of the module: 87 of them at start, ~9 ms of a no-change
 * snapshot's profile (`__copyProps`). The getters only forward to the module, so one such object per module can
 * serve every importer: the helper is wrapped to make it once per module (for node-mode imports, which are all
 * the bundle has). Fails the build if esbuild's helper is not found, rather than shipping an unpatched bundle.
 */
function shareNamespaces(code) {
  const helper = 'var __toESM = (mod, isNodeMode, target) =>';
  if (code.split(helper).length !== 2) throw new Error(`bundle-cli: esbuild's __toESM helper not found once in ${bundle}`);
  return code.replace(
    helper,
    'var __toESMShared = new WeakMap();\n' +
      'var __toESM = (mod, isNodeMode) => {\n' +
      '  if (!isNodeMode || mod === null || (typeof mod !== "object" && typeof mod !== "function")) return __toESMEach(mod, isNodeMode);\n' +
      '  let ns = __toESMShared.get(mod);\n' +
      '  if (ns === undefined) __toESMShared.set(mod, (ns = __toESMEach(mod, isNodeMode)));\n' +
      '  return ns;\n' +
      '};\n' +
      'var __toESMEach = (mod, isNodeMode, target) =>',
  );
}

await build({
  entryPoints: [new URL('../dist/cli/main.js', import.meta.url).pathname],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['better-sqlite3', 'snappy'], // native addons stay in node_modules
  define: { 'import.meta.url': 'undefined' }, // CommonJS has none: parallelStager finds its worker from __dirname
  logLevel: 'warning',
});
// The worker threads, started by the bundle from beside it: the staging worker (src/store/stagerThread.ts), the
// reading worker (src/store/readerThread.ts), the flush worker (src/store/flushThread.ts) and the restore's
// writing worker (src/ops/restoreWriterThread.ts).
for (const [entry, out] of [
  ['store/stagerThread.js', 'cairn-stager.cjs'],
  ['store/readerThread.js', 'cairn-reader.cjs'],
  ['store/flushThread.js', 'cairn-flusher.cjs'],
  ['ops/restoreWriterThread.js', 'cairn-writer.cjs'],
]) {
  await build({
    entryPoints: [new URL(`../dist/src/${entry}`, import.meta.url).pathname],
    outfile: join(bin, out),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['better-sqlite3', 'snappy'],
    logLevel: 'warning',
  });
}
// The loader compiles the bundle as a function body, where main.ts's hashbang line is not allowed.
writeFileSync(bundle, shareNamespaces(readFileSync(bundle, 'utf8').replace(/^#![^\n]*\n/, '')));
copyFileSync(new URL('./templates/cairn-loader.cjs', import.meta.url), loader);
chmodSync(loader, 0o755);
// The package is "type": "module"; the loader is CommonJS (it starts faster), named cairn.js as the bin always was.
writeFileSync(join(bin, 'package.json'), '{ "type": "commonjs" }\n');
rmSync(cache, { force: true });

// Training: the cache holds what one process compiled, so the last run is the hot path, a no-change snapshot
// (after a first one). Best effort: without a cache the binary works the same, only starts a little slower.
const work = mkdtempSync(join(tmpdir(), 'cairn-build-'));
try {
  const src = join(work, 'src');
  const repo = join(work, 'repo');
  mkdirSync(join(src, 'd'), { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(join(src, 'd', `f${i}.txt`), `file ${i}\n`.repeat(i * 40));
  const run = (args, train) =>
    spawnSync(process.execPath, [loader, '--repo', repo, ...args], {
      stdio: 'ignore',
      env: { ...process.env, CAIRN_REPO: '', ...(train ? { CAIRN_BUILD_CODE_CACHE: cache } : {}) },
    }).status;
  const ok = run(['init'], false) === 0 && run(['snapshot', src], false) === 0 && run(['snapshot', src], true) === 0;
  if (!ok) {
    rmSync(cache, { force: true });
    process.stderr.write('bundle-cli: the training run failed; dist/bin/cairn.js runs without a code cache\n');
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
