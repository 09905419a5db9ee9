// Measuring: commands under /usr/bin/time, directory sizes, content manifests
// for byte-for-byte checks, and the machine's limits.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const TIME_BIN = '/usr/bin/time';

/**
 * Runs `cmd args` under /usr/bin/time. Returns wall seconds (measured here
 * with a monotonic clock), user and sys CPU seconds and peak RSS (KiB) of the
 * largest process in the command's tree (getrusage of waited children).
 */
export function runTimed(cmd, args, { cwd, env, input } = {}) {
  const out = path.join(os.tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(TIME_BIN, ['-f', '%e %U %S %M', '-o', out, cmd, ...args], {
    cwd,
    env: env ?? process.env,
    input,
    maxBuffer: 1024 * 1024 * 1024,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  let user = NaN;
  let sys = NaN;
  let maxRssKiB = NaN;
  try {
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    const [, u, s, m] = lines[lines.length - 1].split(' ').map(Number);
    user = u;
    sys = s;
    maxRssKiB = m;
  } catch {
    /* time wrote nothing: the command could not start */
  }
  fs.rmSync(out, { force: true });
  return {
    code: r.status ?? -1,
    wall,
    user,
    sys,
    cpu: user + sys,
    maxRssKiB,
    stdout: r.stdout?.toString() ?? '',
    stderr: r.stderr?.toString() ?? '',
  };
}

/** Apparent bytes, allocated bytes and file count of everything under `dir`. */
export function dirStats(dir) {
  let bytes = 0;
  let allocated = 0;
  let files = 0;
  const walk = (p) => {
    let names;
    try {
      names = fs.readdirSync(p);
    } catch {
      return;
    }
    for (const name of names) {
      const q = path.join(p, name);
      const st = fs.lstatSync(q, { throwIfNoEntry: false });
      if (!st) continue;
      allocated += st.blocks * 512;
      if (st.isDirectory()) walk(q);
      else {
        bytes += st.size;
        files++;
      }
    }
  };
  walk(dir);
  return { bytes, allocated, files };
}

function hashFile(p, buf) {
  const h = createHash('sha256');
  const fd = fs.openSync(p, 'r');
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * A content manifest of a tree: one line per file (path, size, exec bit,
 * SHA-256) and per symlink (path, target), sorted. Directories are listed
 * separately (git does not keep empty ones).
 */
export function contentManifest(root) {
  const lines = [];
  const emptyDirs = [];
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let bytes = 0;
  const walk = (rel) => {
    const names = fs.readdirSync(path.join(root, rel)).sort();
    if (names.length === 0 && rel !== '') emptyDirs.push(rel);
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) lines.push(`l ${r} -> ${fs.readlinkSync(p)}`);
      else if (st.isFile()) {
        bytes += st.size;
        lines.push(`f ${r} ${st.size} ${st.mode & 0o111 ? 'x' : '-'} ${hashFile(p, buf)}`);
      } else lines.push(`o ${r}`);
    }
  };
  walk('');
  const digest = createHash('sha256').update(lines.join('\n')).digest('hex');
  return { digest, lines, emptyDirs, entries: lines.length, bytes };
}

/** Compares two manifests; returns '' when equal, else a short description of the first differences. */
export function compareManifests(want, got) {
  if (want.digest === got.digest) return '';
  const a = new Set(want.lines);
  const b = new Set(got.lines);
  const missing = want.lines.filter((l) => !b.has(l)).slice(0, 3);
  const extra = got.lines.filter((l) => !a.has(l)).slice(0, 3);
  return `${want.entries} entries wanted, ${got.entries} restored; missing/different: ${missing.join(' | ') || '-'}; unexpected: ${extra.join(' | ') || '-'}`;
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** The machine: CPU, cores, memory, kernel, the file system the benchmark runs on. */
export function machineInfo(workDir) {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    nproc: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    fs: sh('stat', ['-f', '-c', '%T', workDir]) || 'unknown',
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
  };
}

/** Single-core SHA-256 throughput (MB/s) of node's crypto over a 256 MiB buffer: median of 3. */
export function sha256Limit() {
  const buf = Buffer.alloc(256 * 1024 * 1024, 0x5a);
  for (let i = 0; i < buf.length; i += 4096) buf.writeUInt32LE(i, i);
  const rates = [];
  for (let k = 0; k < 3; k++) {
    const t0 = process.hrtime.bigint();
    createHash('sha256').update(buf).digest();
    rates.push(buf.length / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  rates.sort((x, y) => x - y);
  return { mbps: rates[1], runs: rates };
}

/**
 * Wall time of Node starting and exiting (`node -e 0`, median of 9, ms): the floor of every cairn command, beside
 * git's no-change commit, in the tools' environment (without the variables named in `removed`) and, when some are
 * named, also as the benchmark's own environment has them; interleaved, so both see the same moments of a noisy
 * machine.
 */
export function nodeStartLimit(removed = []) {
  const time = (env) => {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const tools = { ...process.env };
  for (const k of removed) delete tools[k];
  const a = [];
  const b = [];
  for (let k = 0; k < 9; k++) {
    a.push(time(tools));
    if (removed.length > 0) b.push(time(process.env));
  }
  const median = (xs) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  return removed.length > 0 ? { ms: median(a), withRemovedMs: median(b) } : { ms: median(a) };
}

/**
 * Sequential read speed of `file` (MB/s):
 * - direct: dd with O_DIRECT (bypasses the page cache: what the disk delivers);
 * - cached: a second read through the page cache (what the tools see here,
 *   since each dataset was just copied and sits in memory);
 * - cold: only with dropCaches (root): drop the page cache, then a normal read;
 * and the durable sequential write speed beside it (writeMBps: dd conv=fsync of a copy).
 */
export function readLimits(file, { dropCaches = false } = {}) {
  const size = fs.statSync(file).size;
  const timeIt = (fn) => {
    const t0 = process.hrtime.bigint();
    fn();
    return size / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  const readAll = () => {
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    const fd = fs.openSync(file, 'r');
    try {
      while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    } finally {
      fs.closeSync(fd);
    }
  };
  const result = { file: path.basename(file), bytes: size };
  let ddStatus = -1;
  const direct = timeIt(() => {
    ddStatus = spawnSync('dd', [`if=${file}`, 'of=/dev/null', 'bs=4M', 'iflag=direct'], { stdio: 'ignore' }).status ?? -1;
  });
  if (ddStatus === 0) result.directMBps = direct;
  else result.directNote = 'dd iflag=direct failed (no O_DIRECT on this file system?)';
  readAll();
  result.cachedMBps = timeIt(readAll);
  if (dropCaches) {
    try {
      spawnSync('sync');
      fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
      result.coldMBps = timeIt(readAll);
    } catch (err) {
      result.coldNote = `could not drop caches: ${err.message}`;
    }
  }
  // Durable sequential write (MB/s): the same bytes copied from the page cache into a new file beside it, then
  // fsync'd, as a first snapshot must write its objects. A floor for the big file's first snapshot, which writes
  // ~0.8 GB of compressed objects for its 1 GiB.
  const copy = path.join(path.dirname(file), '.write-limit');
  let wrote = -1;
  const written = timeIt(() => {
    wrote = spawnSync('dd', [`if=${file}`, `of=${copy}`, 'bs=4M', 'conv=fsync'], { stdio: 'ignore' }).status ?? -1;
  });
  fs.rmSync(copy, { force: true });
  spawnSync('sync');
  if (wrote === 0) result.writeMBps = written;
  else result.writeNote = 'dd conv=fsync failed';
  return result;
}
