// The main job on a sample workspace in a temp dir: init, snapshot, change,
// snapshot, log, diff-free restore check. Prints every command it runs.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const cairn = path.resolve(new URL('../dist/bin/cairn.js', import.meta.url).pathname);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-demo-'));
const ws = path.join(root, 'workspace');

function run(args, opts = {}) {
  console.log(`\n$ cairn ${args.join(' ')}`);
  const out = execFileSync(process.execPath, [cairn, ...args], { cwd: ws, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });
  process.stdout.write(out);
  return out;
}

function write(rel, content) {
  const p = path.join(ws, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
}

console.log(`sample workspace: ${ws}`);
write('README.md', '# Sample app\n');
write('src/app.ts', 'export const greet = (n: string) => `hello ${n}`;\n');
write('src/util/math.ts', 'export const add = (a: number, b: number) => a + b;\n');
write('data/notes.txt', 'line\n'.repeat(2000));
let big = '';
for (let i = 0; i < 60000; i++) big += `row ${i}: ${(i * 7919) % 104729}\n`;
write('data/table.csv', big);
fs.symlinkSync('src/app.ts', path.join(ws, 'entry'));
fs.mkdirSync(path.join(ws, 'empty'));

run(['init']);
run(['snapshot', '-m', 'first version']);
write('src/app.ts', 'export const greet = (n: string) => `hello, ${n}!`;\n');
write('src/new.ts', 'export {};\n');
fs.rmSync(path.join(ws, 'data/notes.txt'));
fs.appendFileSync(path.join(ws, 'data/table.csv'), 'row extra\n');
run(['snapshot', '-m', 'after a change']);
run(['log']);
run(['ls', 'latest', 'src']);
run(['cat', 'latest~1:src/app.ts']);
const target = path.join(root, 'restored');
run(['restore', 'latest~1', '--target', target, '--verify']);
const original = fs.readFileSync(path.join(target, 'data/notes.txt'), 'utf8');
console.log(`\nrestored first version: data/notes.txt is back (${original.length} bytes); files in ${target}:`);
for (const f of fs.readdirSync(target, { recursive: true }).sort()) console.log(`  ${f}`);
console.log(`\ndemo done; everything is under ${root}`);
