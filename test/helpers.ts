/** Shared test helpers: temp dirs, the built CLI, tree literals and tree snapshots for byte-for-byte comparison. */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const CLI = path.join(ROOT, 'dist', 'bin', 'cairn.js');

export function tempDir(prefix = 'cairn-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built cairn binary. */
export function cairn(args: string[], options: SpawnSyncOptions & { input?: string | Buffer } = {}): CliResult {
  if (!fs.existsSync(CLI)) throw new Error('dist/bin/cairn.js is missing: run `npm run build` (npm test does)');
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...options,
    env: { ...process.env, CAIRN_REPO: '', ...(options.env ?? {}) },
  });
  return { code: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Like cairn() but fails the test with stderr when the exit code differs. */
export function cairnOk(args: string[], options: SpawnSyncOptions & { input?: string | Buffer } = {}, expected = 0): CliResult {
  const r = cairn(args, options);
  if (r.code !== expected) throw new Error(`cairn ${args.join(' ')} exited ${r.code} (wanted ${expected})\nstderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 2000)}`);
  return r;
}

/**
 * Runs `node <argv>` with the fault rules `faults` (CAIRN_TEST_FAULTS) and kills it (-9) as soon as its stderr
 * shows `cairn-test-fault: stalled at <point>`: a kill at an exact point, with no timing involved. Resolves
 * whether it was killed there (false: the process ended first).
 */
export async function killAtStall(argv: string[], faults: string, point: string): Promise<boolean> {
  const child = spawn(process.execPath, argv, { env: { ...process.env, CAIRN_REPO: '', CAIRN_TEST_FAULTS: faults } });
  let stderr = '';
  let killed = false;
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!killed && stderr.includes(`cairn-test-fault: stalled at ${point}`)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('exit', () => resolve());
  });
  return killed;
}

/**
 * Restores `snapshot` of `repo` into `out` through the library (dist/src/index.js), from a parent run as
 * `node --input-type=module -e` (whose options a worker thread must not inherit): first with the fault `stall`,
 * a stall at `point` that only a worker reaches, killed there (-9); then, after `cleanUp`, whole. Resolves
 * whether the first run was killed at the stall (so the library started that worker) and what the second printed
 * ('restored', or the error's code and message).
 */
export async function restoreThroughLibrary(repo: string, snapshot: string, out: string, stall: string, point: string, cleanUp: () => void): Promise<{ killed: boolean; printed: string }> {
  const index = path.join(ROOT, 'dist', 'src', 'index.js');
  const script = `
      import { Repository } from ${JSON.stringify(index)};
      const repo = await Repository.open({ repo: ${JSON.stringify(repo)} });
      try { await repo.restore(${JSON.stringify(snapshot)}, { target: ${JSON.stringify(out)} }); console.log('restored'); }
      catch (e) { console.log(e.code, e.message); }
      finally { repo.close(); }`;
  const killed = await killAtStall(['--input-type=module', '-e', script], stall, point);
  cleanUp();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, CAIRN_REPO: '' } });
  return { killed, printed: r.stdout.trim() };
}

export type TreeSpec = { [name: string]: string | Buffer | TreeSpec | { symlink: string } };

/** Writes a tree literal: strings/Buffers are files, objects are dirs, {symlink} are links. */
export function writeTree(dir: string, spec: TreeSpec): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, v] of Object.entries(spec)) {
    const p = path.join(dir, name);
    if (typeof v === 'string' || Buffer.isBuffer(v)) fs.writeFileSync(p, v);
    else if ('symlink' in v && typeof v.symlink === 'string') fs.symlinkSync(v.symlink, p);
    else writeTree(p, v as TreeSpec);
  }
}

function mtimeUs(p: Buffer): number {
  return Number(fs.lstatSync(p, { bigint: true }).mtimeNs / 1000n);
}

export interface NodeInfo {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  sha?: string;
  size?: number;
  target?: string;
  /** Modification time in whole microseconds (what a restore preserves exactly). */
  mtimeUs?: number;
}

/** Everything under `dir` (names as hex of their bytes-safe form), for exact comparison. */
export function describeTree(dir: string, options: { mtimes?: boolean; skip?: string[] } = {}): Record<string, NodeInfo> {
  const out: Record<string, NodeInfo> = {};
  const walk = (abs: Buffer, rel: string) => {
    for (const name of fs.readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare)) {
      const childRel = rel ? `${rel}/${name.toString('latin1')}` : name.toString('latin1');
      if (options.skip?.includes(childRel)) continue;
      const childAbs = Buffer.concat([abs, Buffer.from('/'), name]);
      const st = fs.lstatSync(childAbs);
      const info: NodeInfo = { type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file', mode: st.mode & 0o7777 };
      if (st.isSymbolicLink()) {
        info.target = fs.readlinkSync(childAbs, { encoding: 'buffer' }).toString('latin1');
        info.mode = 0;
      } else if (st.isFile()) {
        info.size = st.size;
        info.sha = createHash('sha256').update(fs.readFileSync(childAbs)).digest('hex');
        if (options.mtimes) info.mtimeUs = mtimeUs(childAbs);
      } else if (options.mtimes) info.mtimeUs = mtimeUs(childAbs);
      out[childRel] = info;
      if (st.isDirectory()) walk(childAbs, childRel);
    }
  };
  walk(Buffer.from(dir), '');
  return out;
}

export function parseJson<T = unknown>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${r.stdout}\nstderr: ${r.stderr}`);
  }
}

/**
 * Waits until the file-system clock (a fresh file's mtime in `dir`) is past
 * the mtime and ctime of `file`, so a snapshot started afterwards sees the file
 * as strictly older than its scan and may trust its stat (not racily clean).
 * The clock ticks coarsely (often 4 ms), so an in-process write followed at once
 * by a snapshot can land in the same tick.
 */
export function waitForFsClockPast(file: string, dir = path.dirname(file)): void {
  const st = fs.statSync(file, { bigint: true });
  const latest = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
  const probe = path.join(dir, `.clock-probe-${process.pid}`);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  try {
    for (;;) {
      fs.writeFileSync(probe, '');
      if (fs.statSync(probe, { bigint: true }).mtimeNs > latest) return;
      Atomics.wait(pause, 0, 0, 1);
    }
  } finally {
    fs.rmSync(probe, { force: true });
  }
}

/** What `fn` throws, or undefined when it returns: for asserting on an error's class, code and message. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** The built module `rel` (under dist/src/), as a path a child's `import` takes. */
export function builtModule(rel: string): string {
  const file = path.join(ROOT, 'dist', 'src', rel);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` (npm test does)`);
  return file;
}

/**
 * Runs `script` (an ES module's source) in a fresh Node process without the shell's NODE_OPTIONS and returns what
 * it wrote on stdout, parsed as JSON: for what one process can only show once (V8's heap grows, flags stay set).
 */
export function runModuleScript<T>(script: string): T {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.status !== 0) throw new Error(`the child process failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
