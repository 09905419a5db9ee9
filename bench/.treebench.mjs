import { decodeTree } from '../dist/src/index.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as snappy from 'snappy';
const repo = '/tmp/bw/fs/work/repo';
// gather tree objects by reading the manifest's root recursively
const objDir = path.join(repo, 'objects');
function read(id) { const b = fs.readFileSync(path.join(objDir, id.slice(0,2), id.slice(2,4), id)); const c=b[0]; const p=b.subarray(1); return c===0?p:c===2?snappy.uncompressSync(p,{asBuffer:true}):zlib.inflateRawSync(p); }
const refs = fs.readdirSync(path.join(repo,'snapshots')).slice(0,1);
const man = JSON.parse(read(refs[0]).toString()); console.log(Object.keys(man));
const trees = [];
const stack = [man.root ?? man.tree];
while (stack.length) { const id = stack.pop(); const b = read(id); trees.push([b,id]); for (const e of JSON.parse(b.toString()).entries) if (e.type==='dir') stack.push(e.tree); }
let bytes=0; for (const [b] of trees) bytes+=b.length;
console.log(trees.length, 'trees', (bytes/1e6).toFixed(1),'MB');
for (let r=0;r<5;r++){ let t=process.hrtime.bigint(); for (const [b,id] of trees) decodeTree(b,id); const a=Number(process.hrtime.bigint()-t)/1e6; t=process.hrtime.bigint(); for (const [b] of trees) JSON.parse(b.toString('utf8')); const j=Number(process.hrtime.bigint()-t)/1e6; console.log('decodeTree',a.toFixed(0),'ms; JSON.parse alone',j.toFixed(0),'ms'); }
