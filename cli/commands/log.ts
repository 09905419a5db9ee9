import type { Command } from 'commander';
import * as path from 'node:path';
import type { SnapshotRow } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { formatBytes, formatTime } from '../output.js';

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

export function logLine(r: SnapshotRow): string {
  const tags = r.tags.length ? ` (${r.tags.join(', ')})` : '';
  return `${r.id.slice(0, 8)}  ${formatTime(r.time)}  ${r.type.padEnd(8)} ${r.mode.padEnd(12)} ${String(r.files).padStart(7)} files ${formatBytes(r.bytes).padStart(9)}  ${r.message}${tags}`;
}

export function registerLog(program: Command): void {
  program
    .command('log')
    .description('list snapshots, newest first')
    .option('--type <type>', 'only snapshots of this type')
    .option('--source <path>', 'only snapshots of this source (a directory, a database file, or stream:NAME)')
    .option('-n, --limit <n>', 'at most N snapshots', (v) => Number.parseInt(v, 10))
    .action(async (opts: { type?: string; source?: string; limit?: number }, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withRepo(ctx, async (repo) => {
        const rows = repo.log({
          ...(opts.type ? { type: opts.type } : {}),
          ...(opts.source ? { source: opts.source.startsWith('stream:') ? opts.source : path.resolve(opts.source) } : {}),
          ...(opts.limit ? { limit: opts.limit } : {}),
        });
        ctx.out.emit(rows.map(logJson), () => (rows.length ? rows.map(logLine) : ['no snapshots']));
      });
    });
}
