/** `cairn snapshot --sqlite PATH... | --stdin --name NAME | --from-command CMD --name NAME`: database and stream sources. */
import type { Command } from 'commander';
import { escapeControls, quoteName, UsageError, type SnapshotSummary, type SnapshotType } from '../../src/index.js';
import { interruptible, requestedExit, withRepo, type CommandContext } from '../context.js';
import { exitCodeFor } from '../exitCodes.js';
import { errorLines, formatBytes } from '../output.js';

export interface DatabaseSourceOptions {
  sqlite: string[];
  quickCheck?: boolean;
  stdin?: boolean;
  fromCommand?: string;
  name?: string;
}

interface CommonOptions {
  message: string;
  mode?: string;
  type: string;
  exclude: string[];
  time?: string;
  tag: string[];
}

interface View {
  json: (s: SnapshotSummary, tags: string[]) => Record<string, unknown>;
  stats: (s: SnapshotSummary['manifest']['stats']) => string[];
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function databaseSourceOptions(command: Command): Command {
  return command
    .option('--sqlite <file>', 'snapshot this SQLite database consistently, even while it is written (repeatable: one snapshot each)', collect, [])
    .option('--quick-check', 'check database copies with PRAGMA quick_check instead of integrity_check')
    .option('--stdin', 'store standard input as the file --name')
    .option('--from-command <cmd>', 'run CMD with /bin/sh and store its standard output as the file --name')
    .option('--name <name>', 'file name of a --stdin or --from-command stream (e.g. db.dump)');
}

/** Handles a database or stream snapshot; false when the options name neither (a directory snapshot). */
export async function snapshotDatabaseSource(ctx: CommandContext, path: string | undefined, opts: CommonOptions & DatabaseSourceOptions, view: View): Promise<boolean> {
  const sqlite = opts.sqlite.length > 0;
  const stream = opts.stdin === true || opts.fromCommand !== undefined;
  if ([path !== undefined, sqlite, opts.stdin === true, opts.fromCommand !== undefined].filter(Boolean).length > 1) {
    throw new UsageError('give one source: PATH, --sqlite FILE..., --stdin or --from-command CMD', { hint: 'run one snapshot command per kind of source' });
  }
  if (opts.name !== undefined && !stream) throw new UsageError('--name names a --stdin or --from-command stream', { hint: 'cairn snapshot --from-command "pg_dump -Fc app" --name db.dump' });
  if (opts.quickCheck && !sqlite) throw new UsageError('--quick-check applies to --sqlite databases');
  if (!sqlite && !stream) return false;
  if (opts.mode !== undefined || opts.exclude.length > 0) {
    throw new UsageError('--mode and --exclude apply to directory snapshots', { hint: 'database and stream snapshots always store a whole copy; unchanged chunks are stored once' });
  }
  if (opts.stdin && process.stdin.isTTY) throw new UsageError('--stdin reads standard input, which is a terminal', { hint: 'pipe the data in: pg_dump -Fc app | cairn snapshot --stdin --name db.dump' });
  const common = { message: opts.message, type: opts.type as SnapshotType, ...(opts.time ? { time: opts.time } : {}), tags: opts.tag };
  await withRepo(ctx, async (repo) => {
    const tagsOf = (s: SnapshotSummary) => repo.index.get(s.id)?.tags ?? [];
    if (sqlite) {
      const r = await repo.snapshotSqliteAll(opts.sqlite, {
        ...common,
        ...(opts.quickCheck ? { quickCheck: true } : {}),
        onProgress: (p) => ctx.out.progress(() => `${quoteName(p.database)}: ${p.phase} ${p.phase === 'store' ? formatBytes(p.done) : `${p.done}/${p.total} pages`}`),
      });
      ctx.out.endProgress();
      for (const f of r.failed) process.stderr.write(errorLines(f.error));
      ctx.out.emit(
        { snapshots: r.snapshots.map((s) => view.json(s, tagsOf(s))), failed: r.failed.map((f) => ({ path: f.path, ...f.error.toJSON() })) },
        () => [
          ...r.snapshots.flatMap((s) => {
            const x = s.manifest.extra as { check: string; chunkSize: number; chunks: number; pageSize: number; journal: string };
            return [
              `snapshot ${s.id.slice(0, 12)} saved (${s.manifest.type}): database ${quoteName(s.manifest.source)}`,
              `  ${x.check} ok; ${x.journal === 'wal' ? 'WAL' : 'rollback journal'}, ${x.pageSize}-byte pages, ${x.chunks} chunks of ${formatBytes(x.chunkSize)}`,
              ...view.stats(s.manifest.stats),
            ];
          }),
          ...(r.failed.length ? [`${r.failed.length} of ${opts.sqlite.length} databases not stored (errors above)`] : []),
        ],
      );
      if (r.failed[0]) requestedExit.code = exitCodeFor(r.failed[0].error.code);
      return;
    }
    const s = await interruptible((signal) =>
      repo.snapshotStream({
        ...common,
        signal,
        name: opts.name ?? '',
        ...(opts.stdin ? { input: process.stdin } : { command: opts.fromCommand! }),
        onCommandStderr: (chunk) => {
          ctx.out.endProgress();
          process.stderr.write(chunk);
        },
        onProgress: (n) => ctx.out.progress(() => `${quoteName(opts.name ?? '')}: ${formatBytes(n)}`),
      }),
    );
    ctx.out.endProgress();
    ctx.out.emit(view.json(s, tagsOf(s)), () => [
      `snapshot ${s.id.slice(0, 12)} saved (${s.manifest.type}): ${quoteName(s.manifest.source)} from ${opts.stdin ? 'standard input' : `\`${escapeControls(opts.fromCommand!)}\``}`,
      ...view.stats(s.manifest.stats),
    ]);
  });
  return true;
}
