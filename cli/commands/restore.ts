import type { Command } from 'commander';
import { escapeControls, quoteName, shellWord, shortId, UsageError, type DatabaseRestoreSummary, type RestoreSummary } from '../../src/index.js';
import { commandContext, withRepo, type CommandContext } from '../context.js';
import { formatBytes } from '../output.js';

const collect = (v: string, prev: string[]) => [...prev, v];

interface RestoreFlags {
  target?: string;
  force?: boolean;
  dryRun?: boolean;
  path: string[];
  verify?: boolean;
  restorePoint: boolean;
  spaceCheck: boolean;
  sparse?: boolean;
  resume?: boolean;
  rollback?: boolean;
}

/** The exact command that undoes a restore: restoring its restore point in place. */
function undoCommand(ctx: CommandContext, rp: string, paths: string[]): string {
  const repo = ctx.globals.repo ? ` --repo ${shellWord(ctx.globals.repo)}` : '';
  return `cairn${repo} restore ${shortId(rp, 12)}${paths.map((p) => ` --path ${shellWord(p)}`).join('')}`;
}

function renderRestore(r: RestoreSummary, undo: string | null): string[] {
  const c = r.counts;
  const counts = `${c.created} created, ${c.replaced} replaced, ${c.deleted} deleted${c.metadata ? `, ${c.metadata} metadata only` : ''}`;
  if (r.dryRun) {
    return [`dry run: restoring ${shortId(r.snapshot)} into ${quoteName(r.target)} (${r.kind}) would change: ${counts}; nothing was changed`, ...r.changes.map((ch) => `${ch.status}  ${quoteName(ch.path)}${ch.metadataOnly ? '  (metadata)' : ''}`)];
  }
  return [
    `restored ${shortId(r.snapshot)} into ${quoteName(r.target)} (${r.kind}): ${counts}; wrote ${r.files} files${r.links > 0 ? ` (${r.links} of them hard links)` : ''}, ${r.symlinks} symlinks, ${formatBytes(r.bytes)}${r.verified ? ' (verified)' : ''}`,
    ...r.warnings.map((w) => `  note: ${escapeControls(w)}`),
    ...(undo ? [`restore point ${shortId(r.restorePoint!, 12)}; undo with: ${escapeControls(undo)}`] : []),
  ];
}

function renderDatabaseRestore(r: DatabaseRestoreSummary, undo: string | null): string[] {
  return [
    `restored database ${shortId(r.snapshot)} to ${quoteName(r.target)} (${r.kind}; ${formatBytes(r.bytes)}; ${r.database.check} ok, verified)`,
    ...(r.database.removed.length ? [`  removed stale ${r.database.removed.map((f) => quoteName(f.slice(r.target.length))).join(', ')}`] : []),
    ...(undo ? [`restore point ${shortId(r.restorePoint!, 12)} holds the database it replaced; undo with: ${escapeControls(undo)}`] : []),
  ];
}

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('restore a snapshot: in place over its source (default), into a new or empty --target, or over a non-empty one with --force; a database snapshot back to its file')
    .argument('[ref]', 'snapshot id prefix, tag, latest or latest~N')
    .option('--target <dir>', 'directory to restore into (default: the snapshot\'s source directory, in place); for a database snapshot, the database file')
    .option('--force', 'restore over a non-empty --target other than the source (asks for approval)')
    .option('--dry-run', 'print what would be created, replaced and deleted; change nothing')
    .option('--path <path>', 'restore only this file or folder (relative to the target; repeatable)', collect, [])
    .option('--verify', 're-read what was written and compare it with the snapshot before anything is replaced')
    .option('--no-restore-point', 'do not snapshot the target first (only together with --yes)')
    .option('--no-space-check', 'restore into a new directory even when its file system reports less free space than the snapshot holds')
    .option('--sparse', 'leave the zero blocks of large files as holes (sparse files take only their data\'s space; the space check then counts entries only)')
    .option('--resume', 'finish an interrupted restore')
    .option('--rollback', 'undo an interrupted restore')
    .action(async (ref: string | undefined, opts: RestoreFlags, cmd: Command) => {
      const ctx = commandContext(cmd);
      // An empty --target "" (an unset shell variable) would otherwise mean the current directory.
      if (opts.target === '') throw new UsageError('--target is empty', { hint: "name the directory to restore into, or leave --target out to restore in place into the snapshot's source" });
      if (opts.resume || opts.rollback) {
        if (opts.resume && opts.rollback) throw new UsageError('--resume and --rollback exclude each other', { hint: 'pick one' });
        if (ref !== undefined) throw new UsageError(`--${opts.resume ? 'resume' : 'rollback'} takes no snapshot`, { hint: 'cairn restore --rollback [--target DIR]' });
        const action = opts.resume ? 'resume' : 'rollback';
        await withRepo(ctx, async (repo) => {
          const r = await repo.recoverRestore(action, opts.target);
          ctx.out.emit(r, () =>
            r.phase === 'rolled-back'
              ? `finished rolling back the interrupted restore of ${shortId(r.snapshot)} into ${quoteName(r.target)} (only its cleanup was left)`
              : `${action === 'resume' ? 'finished' : 'rolled back'} the interrupted restore of ${shortId(r.snapshot)} into ${quoteName(r.target)} (it had reached: ${r.phase})`,
          );
        });
        return;
      }
      if (ref === undefined) throw new UsageError('restore needs a snapshot', { hint: 'cairn restore <ref> [--target DIR]; see `cairn log`' });
      if (!opts.restorePoint && !ctx.globals.yes) throw new UsageError('--no-restore-point needs --yes', { hint: 'without a restore point a restore cannot be undone; confirm with --yes' });
      await withRepo(ctx, async (repo) => {
        const r = await repo.restore(ref, {
          ...(opts.target !== undefined ? { target: opts.target } : {}),
          force: opts.force === true,
          dryRun: opts.dryRun === true,
          paths: opts.path,
          verify: opts.verify === true,
          restorePoint: opts.restorePoint,
          spaceCheck: opts.spaceCheck,
          sparse: opts.sparse === true,
          onProgress: (c, p) => ctx.out.progress(() => `${c.files} files, ${formatBytes(c.bytes)} ${p}`),
          onRestorePoint: (id, undoPaths) => {
            ctx.out.endProgress();
            process.stderr.write(`cairn: restore point ${shortId(id, 12)} taken; undo with: ${escapeControls(undoCommand(ctx, id, undoPaths ?? opts.path))}\n`);
          },
        });
        ctx.out.endProgress();
        const undo = r.restorePoint ? undoCommand(ctx, r.restorePoint, r.undoPaths ?? opts.path) : null;
        const db = (r as Partial<DatabaseRestoreSummary>).database !== undefined && !r.dryRun;
        ctx.out.emit({ ...r, undo }, () => (db ? renderDatabaseRestore(r as DatabaseRestoreSummary, undo) : renderRestore(r, undo)));
      });
    });
}
