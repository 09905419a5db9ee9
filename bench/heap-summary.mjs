#!/usr/bin/env node
// Summarises a V8 .heapprofile (from `node --heap-prof`): sampled live allocations by function and by file.
// usage: node bench/heap-summary.mjs FILE.heapprofile [top=20]
import * as fs from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/heap-summary.mjs FILE.heapprofile [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 20);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byFn = new Map();
const byFile = new Map();
let total = 0;
const walk = (n, stack) => {
  const cf = n.callFrame;
  const url = cf.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm:').replace(/.*\/dist\//, 'dist/');
  const key = `${cf.functionName || '(anon)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`;
  if (n.selfSize) {
    total += n.selfSize;
    byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
    // attribute to the nearest frame in our own code
    const own = [...stack, key].reverse().find((k) => k.includes('dist/')) ?? key;
    byFile.set(own, (byFile.get(own) ?? 0) + n.selfSize);
  }
  for (const c of n.children ?? []) walk(c, [...stack, key]);
};
walk(prof.head, []);
const show = (title, m) => {
  console.log(`\n${title} (total ${(total / 2 ** 20).toFixed(1)} MiB sampled live at exit)`);
  for (const [k, b] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(b / 2 ** 20).toFixed(2).padStart(8)} MiB  ${k}`);
};
show('by allocating function', byFn);
show('by nearest cairn frame', byFile);
