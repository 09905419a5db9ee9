// Bundles the built CLI (dist/cli/main.js and everything it imports, except the
// native addons better-sqlite3 and snappy) into one file, dist/bin/cairn.js, the `cairn` binary.
// Why: Node resolves, reads and compiles each ES module separately; the ~150
// modules of the CLI and its dependencies cost ~100-150 ms at every start, which
// is most of a no-change snapshot's budget (docs/performance.md). The unbundled
// dist/ stays what the library (`import ... from 'cairn'`) uses.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const out = new URL('../dist/bin/cairn.js', import.meta.url).pathname;
await build({
  entryPoints: [new URL('../dist/cli/main.js', import.meta.url).pathname],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'snappy'], // native addons stay in node_modules
  // CommonJS dependencies call require() for Node built-ins; give the ES module bundle one.
  banner: { js: "import { createRequire as __cairnRequire } from 'node:module'; const require = __cairnRequire(import.meta.url);" },
  logLevel: 'warning',
});
chmodSync(out, 0o755);
