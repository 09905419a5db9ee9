// The tools compared, each as commands for: init, snapshot N, restore.
// Every tool keeps its repository in `ctx.repo` and any cache in `ctx.scratch`
// (both inside the benchmark's temp dir); the source is `ctx.src`.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const CAIRN_CLI = path.join(ROOT, 'dist', 'bin', 'cairn.js');

function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim().split('\n')[0] : '';
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function tryJson(text) {
  const lines = text.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines.slice(i).join('\n'));
    } catch {
      /* keep looking upwards for the start of the document */
    }
  }
  return undefined;
}

/**
 * Installs a missing command with apt-get when we can (root + apt-get);
 * returns '' when available, else a note saying why it is skipped.
 */
export function ensureCommand(cmd, pkg, log) {
  if (has(cmd)) return '';
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !has('apt-get')) return `${cmd} is not installed and cannot be installed here (needs root and apt-get: apt-get install ${pkg})`;
  log(`installing ${pkg} with apt-get ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', pkg], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    r = spawnSync('apt-get', ['install', '-y', '-q', pkg], { stdio: ['ignore', 'ignore', 'inherit'], env });
  }
  return r.status === 0 && has(cmd) ? '' : `apt-get install ${pkg} failed`;
}

const cairn = {
  name: 'cairn',
  install: () => (fs.existsSync(CAIRN_CLI) ? '' : 'dist/bin/cairn.js is missing: run `npm run build`'),
  version() {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    // A frozen copy made with `git archive` (for a long background run) names its commit in BENCH_CAIRN_COMMIT.
    if (process.env.BENCH_CAIRN_COMMIT) return `cairn ${pkg.version} (${process.env.BENCH_CAIRN_COMMIT}), node ${process.version}`;
    const head = firstLine('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']);
    const dirty = spawnSync('git', ['-C', ROOT, 'diff', '--quiet', 'HEAD', '--', 'src', 'cli']).status !== 0;
    return `cairn ${pkg.version} (${head || 'unknown commit'}${dirty ? ', modified' : ''}), node ${process.version}`;
  },
  env: (ctx) => ({ ...process.env, CAIRN_REPO: '' }),
  init: (ctx) => ({ cmd: process.execPath, args: [CAIRN_CLI, '--repo', ctx.repo, 'init'] }),
  snapshot: (ctx) => ({ cmd: process.execPath, args: [CAIRN_CLI, '--repo', ctx.repo, 'snapshot', ctx.src, '--json'] }),
  restore: (ctx, target) => ({ cmd: process.execPath, args: [CAIRN_CLI, '--repo', ctx.repo, 'restore', 'latest', '--target', target, '--json'] }),
  parseSnapshot(stdout) {
    const j = tryJson(stdout);
    if (!j?.stats) return {};
    return { newObjects: j.stats.newObjects, newBytes: j.stats.newBytes, bytesRead: j.stats.bytesRead, filesRead: j.stats.filesRead };
  },
};

const restic = {
  name: 'restic',
  install: (log) => ensureCommand('restic', 'restic', log),
  version: () => firstLine('restic', ['version']),
  env(ctx) {
    const pw = path.join(ctx.scratch, 'restic-password');
    if (!fs.existsSync(pw)) fs.writeFileSync(pw, 'cairn-bench\n');
    return { ...process.env, RESTIC_PASSWORD_FILE: pw, RESTIC_CACHE_DIR: path.join(ctx.scratch, 'restic-cache'), RESTIC_PROGRESS_FPS: '0.0001' };
  },
  cacheDir: (ctx) => path.join(ctx.scratch, 'restic-cache'),
  init: (ctx) => ({ cmd: 'restic', args: ['-r', ctx.repo, 'init', '-q'] }),
  // Backing up "." from inside the source keeps paths relative, so restore lands in the target itself.
  snapshot: (ctx) => ({ cmd: 'restic', args: ['-r', ctx.repo, 'backup', '.', '-q', '--json'], cwd: ctx.src }),
  restore: (ctx, target) => ({ cmd: 'restic', args: ['-r', ctx.repo, 'restore', 'latest', '--target', target, '-q'] }),
  parseSnapshot(stdout) {
    const j = tryJson(stdout);
    if (!j || j.message_type !== 'summary') return {};
    return { newObjects: j.data_blobs + j.tree_blobs, newBytes: j.data_added, filesRead: (j.files_new ?? 0) + (j.files_changed ?? 0) };
  },
};

const borg = {
  name: 'borg',
  install: (log) => ensureCommand('borg', 'borgbackup', log),
  version: () => firstLine('borg', ['--version']),
  env: (ctx) => ({
    ...process.env,
    BORG_BASE_DIR: path.join(ctx.scratch, 'borg-base'),
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  }),
  cacheDir: (ctx) => path.join(ctx.scratch, 'borg-base'),
  init: (ctx) => ({ cmd: 'borg', args: ['init', '--encryption', 'none', ctx.repo] }),
  snapshot: (ctx, n) => ({ cmd: 'borg', args: ['create', '--json', `${ctx.repo}::s${n}`, '.'], cwd: ctx.src }),
  restore: (ctx, target, n) => ({ cmd: 'borg', args: ['extract', `${ctx.repo}::s${n}`], cwd: target }),
  parseSnapshot(stdout) {
    const j = tryJson(stdout);
    const s = j?.archive?.stats;
    if (!s) return {};
    return { newBytes: s.deduplicated_size, uniqueChunks: j.cache?.stats?.total_unique_chunks };
  },
};

const GIT_CFG = '-c user.name=bench -c user.email=bench@example.org -c gc.auto=0 -c core.autocrlf=false';
const git = {
  name: 'git',
  install: (log) => ensureCommand('git', 'git', log),
  version: () => firstLine('git', ['--version']),
  // The repository lives outside the source (GIT_DIR), like every other tool's.
  env: (ctx) => ({ ...process.env, GIT_DIR: ctx.repo, GIT_WORK_TREE: ctx.src, GIT_CONFIG_NOSYSTEM: '1', HOME: ctx.scratch }),
  init: (ctx) => ({ cmd: 'git', args: ['init', '-q'] }),
  snapshot: (ctx, n) => ({ cmd: 'sh', args: ['-c', `git ${GIT_CFG} add -A && git ${GIT_CFG} commit -q --allow-empty -m "snapshot ${n}"`], cwd: ctx.src }),
  // A restore reads the commit's tree from the object store into a fresh index, then writes every file.
  restore: (ctx, target) => ({
    cmd: 'sh',
    args: ['-c', `GIT_INDEX_FILE="${ctx.scratch}/restore.index" && export GIT_INDEX_FILE && git read-tree HEAD && git checkout-index -a --prefix="${target}/"`],
  }),
  parseSnapshot: () => ({}),
};

const tar = {
  name: 'tar',
  install: (log) => ensureCommand('tar', 'tar', log) || ensureCommand('gzip', 'gzip', log),
  version: () => `${firstLine('tar', ['--version'])}, ${firstLine('gzip', ['--version'])}`,
  env: () => process.env,
  init: (ctx) => ({ cmd: 'mkdir', args: ['-p', ctx.repo] }),
  // Every "snapshot" is a whole new archive: the floor a shell script gets.
  snapshot: (ctx, n) => ({ cmd: 'tar', args: ['czf', path.join(ctx.repo, `s${n}.tar.gz`), '-C', ctx.src, '.'] }),
  restore: (ctx, target, n) => ({ cmd: 'tar', args: ['xzf', path.join(ctx.repo, `s${n}.tar.gz`), '-C', target] }),
  parseSnapshot: () => ({}),
};

export const TOOLS = { cairn, restic, borg, git, tar };
export const TOOL_NAMES = Object.keys(TOOLS);
