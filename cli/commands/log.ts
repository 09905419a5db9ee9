import type { Command } from 'commander';
import * as path from 'node:path';
import { escapeControls, quoteName, UsageError, type PathVersion, type SnapshotRow } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { formatBytes, formatTime } from '../output.js';
import { wholeNumber } from '../operands.js';

export function logJson(r: SnapshotRow): Record<string, unknown> {
  return {
    id: r.id,
    parents: r.parents,
    time: r.time,
    source: r.source,
    kind: r.kind,
    type: r.type,
    mode: r.mode,
    base: r.base,
    message: r.message,
    tags: r.tags,
    host: r.host,
    user: r.user,
    stats: r.stats,
  };
}

/** A snapshot message or tag list on one line: control characters (a newline too) escaped. */
const oneLine = escapeControls;

export function logLine(r: SnapshotRow): string {
  const tags = r.tags.length ? ` (${oneLine(r.tags.join(', '))})` : '';
  return `${r.id.slice(0, 8)}  ${formatTime(r.time)}  ${oneLine(r.type).padEnd(8)} ${oneLine(r.mode).padEnd(12)} ${String(r.files).padStart(7)} files ${formatBytes(r.bytes).padStart(9)}  ${oneLine(r.message)}${tags}`;
}

export function historyLine(v: PathVersion): string {
  const tags = v.tags.length ? ` (${oneLine(v.tags.join(', '))})` : '';
  const size = v.size === null ? '-' : formatBytes(v.size);
  const id = v.id === null ? '-' : v.type === 'symlink' ? `-> ${quoteName(v.id)}` : v.id.slice(0, 12);
  return `${v.snapshot.slice(0, 8)}  ${formatTime(v.time)}  ${v.status}  ${(v.type ?? 'deleted').padEnd(7)} ${size.padStart(9)}  ${id}  ${oneLine(v.message)}${tags}`.trimEnd();
}

export function graphLine(prefix: string, r: SnapshotRow): string {
  const tags = r.tags.length ? ` (${r.tags.map((t) => `tag: ${oneLine(t)}`).join(', ')})` : '';
  return `${prefix} ${r.id.slice(0, 8)}${tags} ${formatTime(r.time)} ${oneLine(r.type)} ${oneLine(r.message)}`.trimEnd();
}

interface LogCliOptions {
  type?: string;
  source?: string;
  limit?: number;
  graph?: boolean;
}

export function registerLog(program: Command): void {
  program
    .command('log')
    .description('list snapshots, newest first; with -- PATH, the versions of one file or folder')
    .usage('[options] [-- path]')
    .argument('[path...]', 'a file or folder, relative to the source root: list the snapshots in which it changed')
    .option('--type <type>', 'only snapshots of this type')
    .option('--source <path>', 'only snapshots of this source (a directory, a database file, or stream:NAME)')
    .option('-n, --limit <n>', 'at most N snapshots', wholeNumber('-n', 1))
    .option('--graph', 'draw the parent graph (branches after a restore), tags beside snapshots')
    .action(async (paths: string[], opts: LogCliOptions, cmd: Command) => {
      const ctx = commandContext(cmd);
      if (paths.length > 1) throw new UsageError(`log takes one path, got ${paths.length}`, { hint: 'cairn log -- PATH' });
      if (paths.length === 1 && (opts.graph || opts.type)) throw new UsageError('--graph and --type do not apply to the history of a path', { hint: 'cairn log [--source DIR] [-n N] -- PATH' });
      const query = {
        ...(opts.type ? { type: opts.type } : {}),
        ...(opts.source ? { source: opts.source.startsWith('stream:') ? opts.source : path.resolve(opts.source) } : {}),
        ...(opts.limit ? { limit: opts.limit } : {}),
      };
      await withRepo(ctx, async (repo) => {
        if (paths.length === 1) {
          const versions = await repo.history(paths[0]!, query);
          ctx.out.emit(versions, () => (versions.length ? versions.map(historyLine) : [`no snapshot changed ${quoteName(paths[0]!)}`]));
          return;
        }
        if (opts.graph) {
          const rows = repo.logGraph(query);
          const json: Array<Record<string, unknown>> = [];
          for (const r of rows) {
            if (r.kind === 'node') json.push({ ...logJson(r.node), graph: r.prefix, edges: [] });
            else (json[json.length - 1]?.edges as string[] | undefined)?.push(r.text);
          }
          ctx.out.emit(json, () => (rows.length ? rows.map((r) => (r.kind === 'node' ? graphLine(r.prefix, r.node) : r.text)) : ['no snapshots']));
          return;
        }
        const rows = repo.log(query);
        ctx.out.emit(rows.map(logJson), () => (rows.length ? rows.map(logLine) : ['no snapshots']));
      });
    });
}
