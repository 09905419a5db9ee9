import type { Command } from 'commander';
import { quoteName, type SnapshotMode, type SnapshotSummary, type SnapshotType } from '../../src/index.js';
import { commandContext, requestedExit, withRepo } from '../context.js';
import { EXIT } from '../exitCodes.js';
import { databaseSourceOptions, snapshotDatabaseSource, type DatabaseSourceOptions } from './snapshotDatabase.js';
import { formatBytes, formatDuration } from '../output.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export function snapshotJson(s: SnapshotSummary, tags: string[]): Record<string, unknown> {
  const m = s.manifest;
  return {
    id: s.id,
    parents: m.parents,
    time: m.time,
    source: m.source,
    kind: m.kind,
    type: m.type,
    mode: m.mode,
    base: m.base,
    message: m.message,
    tags,
    stats: m.stats,
    errors: m.errors,
    warnings: m.warnings,
    ...(m.extra ? { extra: m.extra } : {}),
  };
}

export function renderStats(s: SnapshotSummary['manifest']['stats']): string[] {
  return [
    `  files: ${s.files} (${s.added} added, ${s.modified} modified, ${s.deleted} deleted, ${s.unchanged} unchanged), dirs: ${s.dirs}, size ${formatBytes(s.bytes)}`,
    `  read ${formatBytes(s.bytesRead)} from ${s.filesRead} files; stored ${s.newObjects} new objects, ${formatBytes(s.newBytes)}; took ${formatDuration(s.durationMs)}`,
  ];
}

export function registerSnapshot(program: Command): void {
  const command = program
    .command('snapshot')
    .description('take a snapshot of PATH (default: the directory holding .cairn/), of SQLite databases (--sqlite) or of a stream (--stdin, --from-command)')
    .argument('[path]', 'directory to snapshot')
    .option('-m, --message <text>', 'what this snapshot is for', '')
    .option('--mode <mode>', 'full | incremental | differential (default: incremental when the source has a snapshot)')
    .option('--type <type>', 'manual | hourly | daily | weekly | monthly | yearly | restore-point', 'manual')
    .option('--exclude <glob>', 'exclude paths matching GLOB (gitignore syntax; repeatable)', collect, [])
    .option('--time <iso>', 'record this time instead of now (ISO-8601)')
    .option('--tag <name>', 'tag the new snapshot (repeatable; names are checked before the snapshot is taken)', collect, []);
  databaseSourceOptions(command)
    .action(async (path: string | undefined, opts: { message: string; mode?: string; type: string; exclude: string[]; time?: string; tag: string[] } & DatabaseSourceOptions, cmd: Command) => {
      const ctx = commandContext(cmd);
      if (await snapshotDatabaseSource(ctx, path, opts, { json: snapshotJson, stats: renderStats })) return;
      await withRepo(ctx, async (repo) => {
        const s = await repo.snapshot({
          ...(path !== undefined ? { path } : {}),
          message: opts.message,
          ...(opts.mode ? { mode: opts.mode as SnapshotMode } : {}),
          type: opts.type as SnapshotType,
          exclude: opts.exclude,
          ...(opts.time ? { time: opts.time } : {}),
          tags: opts.tag,
          onProgress: (p) => ctx.out.progress(() => `${p.files} files, ${formatBytes(p.bytes)} ${quoteName(p.path)}`),
          onWarning: (p) => ctx.out.warn(`${quoteName(p.path)}: ${p.message}`),
          onError: (p) => ctx.out.warn(`${quoteName(p.path)}: ${p.message} (not stored)`),
        });
        ctx.out.endProgress();
        const tags = repo.index.get(s.id)?.tags ?? [];
        const m = s.manifest;
        ctx.out.emit(snapshotJson(s, tags), () => [
          `snapshot ${s.id.slice(0, 12)} saved (${m.mode}, ${m.type})${m.base ? ` against ${m.base.slice(0, 8)}` : ''}`,
          ...renderStats(m.stats),
          ...(m.errors.length ? [`  ${m.errors.length} files could not be read (see warnings above); the snapshot is partial`] : []),
        ]);
        if (m.errors.length) requestedExit.code = EXIT.PARTIAL;
      });
    });
}
