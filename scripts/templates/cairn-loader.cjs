#!/usr/bin/env node
// The `cairn` binary (copied to dist/bin/cairn.js by scripts/bundle-cli.mjs; dist/bin/package.json makes it
// CommonJS, which starts faster than an ES module here). It runs the bundled CLI, cairn-cli.cjs, compiled with
// the V8 code cache the build wrote beside it (cairn-cli.cache), so a command's start does not compile again
// the functions a snapshot uses: a no-change snapshot of 50k files took 0.62 s instead of 0.72 s (median of 16,
// docs/performance.md). V8 refuses a cache made by another Node version or for other source, and the bundle is
// then compiled as usual: the cache only ever saves time.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const file = join(__dirname, 'cairn-cli.cjs');
const cacheFile = join(__dirname, 'cairn-cli.cache');
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined; // no cache (a build that could not make one): compiled as usual
}
const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
// The build's training run writes the cache once this process has compiled what a command needs.
if (process.env.CAIRN_BUILD_CODE_CACHE === cacheFile) process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()));
const cli = new Module(file, module);
cli.filename = file;
cli.paths = Module._nodeModulePaths(__dirname);
script.runInThisContext()(cli.exports, (id) => cli.require(id), cli, file, __dirname);
