#!/usr/bin/env node
// cairn side by side with restic, borg, git and tar (issue 8). `npm run bench -- --help`.
//
// For each dataset, each run, each tool (interleaved, the order rotating per run):
// fresh copy of the dataset → init → first snapshot → no-change snapshot →
// change step → snapshot → restore into an empty dir → byte-for-byte check.
// Every step is timed under /usr/bin/time; repository bytes are measured after
// each step. Raw records go to bench/results/<stamp>.jsonl as they happen;
// the summary goes to docs/benchmarks.md (full scale) or
// bench/results/benchmarks-quick.md (scaled down).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DATASET_NAMES, makeDataset, selectDatasets } from './lib/datasets.mjs';
import { compareManifests, contentManifest, dirStats, machineInfo, nodeStartLimit, readLimits, runTimed, sha256Limit, TIME_BIN } from './lib/measure.mjs';
import { writeReport } from './lib/report.mjs';
import { mountScratchFs } from './lib/scratchFs.mjs';
import { ensureCommand, TOOL_NAMES, TOOLS } from './lib/tools.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const STEPS = ['init', 'first', 'nochange', 'change', 'restore'];

const HELP = `usage: npm run bench -- [options]

  --quick              scale every dataset down to 1/16 (also BENCH_QUICK=1)
  --scale F            scale factor, e.g. 0.25 (also BENCH_SCALE)
  --datasets a,b       ${DATASET_NAMES.join(', ')}, many-small (= all three points); default all (BENCH_DATASETS)
  --tools a,b          ${TOOL_NAMES.join(', ')}; default all (BENCH_TOOLS)
  --runs N             interleaved runs per tool, medians reported (default 3; BENCH_RUNS)
  --work DIR           where datasets and repositories go (default: a new dir in $TMPDIR; BENCH_WORK)
  --keep               keep the work dir afterwards
  --fs scratch|plain   scratch (default, as root): run in a fresh journaled ext4 on a loop device made inside the
                       work dir (bench/lib/scratchFs.mjs says why); plain: in the work dir's own file system (BENCH_FS)
  --drop-caches        as root: drop the page cache to measure a cold sequential read, and after each tool's
                       restore, restore again with the page cache dropped first (step restore-cold): a restore
                       after a loss reads the repository from the disk, not from the cache its snapshots filled
  --out FILE           raw JSON lines (default bench/results/<stamp>.jsonl)
  --report FILE        markdown summary (default docs/benchmarks.md at full scale, bench/results/benchmarks-quick.md otherwise)
  --keep-env           run the tools with this shell's NODE_OPTIONS and NODE_EXTRA_CA_CERTS (removed by default:
                       they are this machine's settings, not the tool's, and the second makes every Node process
                       read and parse a certificate bundle when it starts; the report gives Node's start both ways)
`;

function parseArgs(argv) {
  const env = process.env;
  const o = {
    scale: env.BENCH_SCALE ? Number(env.BENCH_SCALE) : env.BENCH_QUICK ? 1 / 16 : 1,
    datasets: env.BENCH_DATASETS ? env.BENCH_DATASETS.split(',') : ['tree', 'db', 'big-edit', 'many-small'],
    tools: env.BENCH_TOOLS ? env.BENCH_TOOLS.split(',') : [...TOOL_NAMES],
    runs: env.BENCH_RUNS ? Number(env.BENCH_RUNS) : 3,
    work: env.BENCH_WORK,
    keep: false,
    fs: env.BENCH_FS ?? 'scratch',
    dropCaches: false,
    out: undefined,
    report: undefined,
    keepEnv: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.scale = 1 / 16;
    else if (a === '--scale') o.scale = Number(val());
    else if (a === '--datasets') o.datasets = val().split(',');
    else if (a === '--tools') o.tools = val().split(',');
    else if (a === '--runs') o.runs = Number(val());
    else if (a === '--work') o.work = val();
    else if (a === '--keep') o.keep = true;
    else if (a === '--fs') o.fs = val();
    else if (a === '--drop-caches') o.dropCaches = true;
    else if (a === '--out') o.out = val();
    else if (a === '--report') o.report = val();
    else if (a === '--keep-env') o.keepEnv = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${HELP}`);
  }
  if (!(o.scale > 0 && o.scale <= 1)) throw new Error('--scale must be in (0, 1]');
  if (o.fs !== 'scratch' && o.fs !== 'plain') throw new Error('--fs must be scratch or plain');
  if (!(Number.isInteger(o.runs) && o.runs >= 1)) throw new Error('--runs must be a positive integer');
  o.datasets = selectDatasets(o.datasets);
  for (const t of o.tools) if (!TOOLS[t]) throw new Error(`unknown tool "${t}" (choose from ${TOOL_NAMES.join(', ')})`);
  return o;
}

const log = (m) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
}

function rmrf(p) {
  fs.rmSync(p, { recursive: true, force: true, maxRetries: 3 });
}

const sync = () => spawnSync('sync');

/**
 * Variables of the shell the benchmark runs in that change what a runtime does at start for every program, not
 * what a tool does: removed from every tool's environment unless --keep-env. NODE_EXTRA_CA_CERTS makes each Node
 * process read and parse the named certificate bundle before any of its code runs (60-80 ms on the machine of
 * docs/benchmarks.md, where the sandbox sets it for its proxy), though no step of the benchmark uses TLS;
 * NODE_OPTIONS could add flags to cairn's runs alone.
 */
const MACHINE_ENV = ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'];

async function main() {
  const o = parseArgs(process.argv.slice(2));
  // Taken out of each tool's environment only (runOne): the benchmark's own children keep them (the tree dataset's
  // `npm ci` may need the certificates to reach the registry).
  const removedEnv = o.keepEnv ? [] : MACHINE_ENV.filter((k) => process.env[k] !== undefined);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const quick = o.scale < 1;
  const outFile = path.resolve(o.out ?? path.join(ROOT, 'bench', 'results', `${stamp}${quick ? '-quick' : ''}.jsonl`));
  const reportFile = path.resolve(o.report ?? (quick ? path.join(ROOT, 'bench', 'results', 'benchmarks-quick.md') : path.join(ROOT, 'docs', 'benchmarks.md')));
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const top = o.work ? path.resolve(o.work) : fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-bench-'));
  fs.mkdirSync(top, { recursive: true });
  let work = top;
  let scratch;
  if (o.fs === 'scratch') {
    const st = fs.statfsSync(top);
    const room = Math.min(128 * 2 ** 30, Math.floor(st.bavail * st.bsize * 0.8));
    scratch = mountScratchFs(top, room, { keep: o.keep, log });
    if (scratch.reason) log(`NOTE: no scratch file system (${scratch.reason}): running in ${top}, whose file system earlier runs' deletions can slow (bench/lib/scratchFs.mjs)`);
    else work = path.join(scratch.mountPoint, 'work');
    fs.mkdirSync(work, { recursive: true });
  }
  const records = [];
  const emit = (rec) => {
    records.push(rec);
    fs.appendFileSync(outFile, `${JSON.stringify(rec)}\n`);
  };
  log(`scale ${o.scale}${quick ? ' (QUICK)' : ''}, ${o.runs} run(s), datasets ${o.datasets.join(',')}, tools ${o.tools.join(',')}`);
  log(`work dir ${work}; raw results → ${path.relative(process.cwd(), outFile)}`);

  // ---- tools: install what is missing, skip with a visible note what cannot be
  const timeNote = fs.existsSync(TIME_BIN) ? '' : ensureCommand(TIME_BIN, 'time', log);
  if (timeNote) throw new Error(`${TIME_BIN} is needed to measure CPU and peak RSS: ${timeNote}`);
  const tools = [];
  const skipped = {};
  for (const name of o.tools) {
    const note = TOOLS[name].install(log);
    if (note) {
      skipped[name] = note;
      log(`SKIPPING ${name}: ${note}`);
    } else tools.push(TOOLS[name]);
  }
  const versions = Object.fromEntries(tools.map((t) => [t.name, t.version()]));

  // ---- the machine and its limits, measured in this run
  const machine = machineInfo(work);
  if (scratch?.description) machine.fs = scratch.description;
  log(`machine: ${machine.nproc} cores (${machine.cpu}), ${machine.memoryGiB} GiB, load ${machine.loadavg.join(' ')}`);
  const sha = sha256Limit();
  log(`single-core SHA-256: ${sha.mbps.toFixed(0)} MB/s`);
  const nodeStart = nodeStartLimit(removedEnv);
  log(`node start: ${nodeStart.ms.toFixed(0)} ms${nodeStart.withRemovedMs !== undefined ? `, ${nodeStart.withRemovedMs.toFixed(0)} ms with ${removedEnv.join(' and ')} (removed from every tool's environment; --keep-env keeps ${removedEnv.length > 1 ? 'them' : 'it'})` : ''}`);
  emit({ type: 'meta', stamp, scale: o.scale, quick, runs: o.runs, datasets: o.datasets, tools: tools.map((t) => t.name), skipped, versions, machine, sha256: sha, nodeStart, removedEnv, dropCaches: o.dropCaches });

  const pristineRoot = path.join(work, 'pristine');
  const limitsDone = { done: false };
  for (const dsName of o.datasets) {
    const ds = await makeDataset(dsName, o.scale);
    const pristine = path.join(pristineRoot, ds.name);
    log(`dataset ${ds.name}: generating (${ds.description})`);
    rmrf(pristine);
    let t0 = Date.now();
    await ds.generate(pristine);
    sync();
    const genSeconds = (Date.now() - t0) / 1000;
    const shape = dirStats(pristine);
    emit({ type: 'dataset', dataset: ds.name, group: ds.group ?? ds.name, points: ds.points, description: ds.description, genSeconds, ...shape });
    log(`dataset ${ds.name}: ${shape.files} files, ${(shape.bytes / 1e6).toFixed(1)} MB in ${genSeconds.toFixed(1)} s`);

    if (!limitsDone.done && ds.file && ds.name === 'big-edit') {
      const r = readLimits(path.join(pristine, ds.file), { dropCaches: o.dropCaches });
      emit({ type: 'limits', ...r });
      limitsDone.done = true;
      log(`sequential read: ${r.directMBps ? `${r.directMBps.toFixed(0)} MB/s O_DIRECT, ` : ''}${r.cachedMBps.toFixed(0)} MB/s from page cache; durable write: ${r.writeMBps ? `${r.writeMBps.toFixed(0)} MB/s` : r.writeNote}`);
    }

    for (let run = 1; run <= o.runs; run++) {
      const order = tools.map((_, i) => tools[(i + run - 1) % tools.length]);
      for (const tool of order) {
        t0 = Date.now();
        const ok = await runOne({ tool, ds, pristine, work, run, emit, removedEnv, dropCaches: o.dropCaches });
        log(`${ds.name} run ${run} ${tool.name}: ${ok ? 'ok' : 'FAILED'} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      }
    }
    await Promise.resolve(ds.cleanup?.());
    rmrf(pristine);
  }

  if (!limitsDone.done) {
    // No big file was generated: write one just for the read measurement.
    const file = path.join(work, 'read-test.bin');
    const size = Math.max(256 * 1024 * 1024, Math.round(1024 * 1024 * 1024 * o.scale));
    const fd = fs.openSync(file, 'w');
    const buf = Buffer.alloc(4 * 1024 * 1024);
    for (let off = 0; off < size; off += buf.length) {
      buf.writeDoubleLE(off, 0);
      fs.writeSync(fd, buf);
    }
    fs.closeSync(fd);
    sync();
    emit({ type: 'limits', ...readLimits(file, { dropCaches: o.dropCaches }) });
    rmrf(file);
  }

  if (o.keep) {
    if (scratch?.mountPoint) log(`kept: ${work} (on the scratch file system mounted at ${scratch.mountPoint}; umount and losetup -d when done)`);
  } else {
    scratch?.release?.();
    rmrf(top);
  }
  writeReport(records, reportFile, { rawFile: path.relative(ROOT, outFile) });
  log(`report → ${path.relative(process.cwd(), reportFile)}`);
}

/** One tool on one dataset: every step, measured; returns whether all passed. */
async function runOne({ tool, ds, pristine, work, run, emit, removedEnv, dropCaches }) {
  const base = path.join(work, 'run');
  rmrf(base);
  const ctx = { src: path.join(base, 'src'), repo: path.join(base, 'repo'), scratch: path.join(base, 'scratch'), restore: path.join(base, 'restore') };
  fs.mkdirSync(ctx.scratch, { recursive: true });
  sh('cp', ['-a', pristine, ctx.src]);
  sync();
  const env = tool.env(ctx);
  for (const k of removedEnv) delete env[k];
  const common = { dataset: ds.name, group: ds.group ?? ds.name, points: ds.points, tool: tool.name, run };
  let prevBytes = 0;
  let snapshots = 0;
  let failed = false;
  const step = (name, spec) => {
    const r = runTimed(spec.cmd, spec.args, { cwd: spec.cwd ?? base, env });
    // The sync after a step, timed: cairn's restore is durable when it exits, restic's, borg's and git's are
    // not (their data is still being written when they exit); the report also shows restore + this sync.
    const s0 = process.hrtime.bigint();
    sync();
    const syncAfter = Number(process.hrtime.bigint() - s0) / 1e9;
    const repo = dirStats(ctx.repo);
    const cache = tool.cacheDir ? dirStats(tool.cacheDir(ctx)).bytes : 0;
    const parsed = name !== 'init' && !name.startsWith('restore') && r.code === 0 ? tool.parseSnapshot(r.stdout) : {};
    const rec = {
      type: 'step',
      ...common,
      step: name,
      code: r.code,
      wall: r.wall,
      user: r.user,
      sys: r.sys,
      cpu: r.cpu,
      maxRssKiB: r.maxRssKiB,
      syncAfter,
      repoBytes: repo.bytes,
      repoAllocated: repo.allocated,
      repoFiles: repo.files,
      storedBytes: repo.bytes - prevBytes,
      cacheBytes: cache,
      ...parsed,
    };
    if (r.code !== 0) rec.error = (r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n');
    prevBytes = repo.bytes;
    emit(rec);
    if (r.code !== 0) {
      failed = true;
      process.stderr.write(`  ${tool.name} ${name} exited ${r.code}: ${rec.error}\n`);
    }
    return r.code === 0;
  };
  try {
    if (!step('init', tool.init(ctx))) return false;
    if (!step('first', tool.snapshot(ctx, ++snapshots))) return false;
    if (!step('nochange', tool.snapshot(ctx, ++snapshots))) return false;
    const change = await ds.change(ctx.src);
    sync();
    emit({ type: 'change', ...common, ...change });
    return finish();
  } finally {
    rmrf(base);
  }

  function finish() {
    if (!step('change', tool.snapshot(ctx, ++snapshots))) return false;
    const want = contentManifest(ctx.src);
    fs.mkdirSync(ctx.restore);
    if (!step('restore', tool.restore(ctx, ctx.restore, snapshots))) return false;
    const got = contentManifest(ctx.restore);
    const diff = compareManifests(want, got);
    const emptyDirsKept = want.emptyDirs.every((d) => got.emptyDirs.includes(d));
    emit({ type: 'verify', ...common, ok: diff === '', entries: want.entries, bytes: want.bytes, emptyDirsKept, ...(diff ? { diff } : {}) });
    if (diff) process.stderr.write(`  ${tool.name} restore differs: ${diff}\n`);
    if (dropCaches && diff === '') {
      rmrf(ctx.restore);
      fs.mkdirSync(ctx.restore);
      sync();
      try {
        fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
      } catch (err) {
        process.stderr.write(`  no cold restore: could not drop the page cache (${err.message})\n`);
        return !failed;
      }
      if (!step('restore-cold', tool.restore(ctx, ctx.restore, snapshots))) return false;
      const gotCold = contentManifest(ctx.restore);
      const cold = compareManifests(want, gotCold);
      const coldDirsKept = want.emptyDirs.every((d) => gotCold.emptyDirs.includes(d));
      emit({ type: 'verify', ...common, step: 'restore-cold', ok: cold === '', entries: want.entries, bytes: want.bytes, emptyDirsKept: coldDirsKept, ...(cold ? { diff: cold } : {}) });
      if (cold) process.stderr.write(`  ${tool.name} cold restore differs: ${cold}\n`);
      return !failed && cold === '';
    }
    return !failed && diff === '';
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});
