import type { Command } from 'commander';
import type { DatabaseRestoreSummary } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { formatBytes } from '../output.js';

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('restore a snapshot into a new or empty directory; a database snapshot back to its file (after a restore point)')
    .argument('<ref>', 'snapshot id prefix, tag, latest or latest~N')
    .option('--target <path>', 'directory to restore into (new or empty); for a database snapshot, the database file (default: where it was)')
    .option('--verify', 're-read what was written and compare it with the snapshot')
    .action(async (ref: string, opts: { target?: string; verify?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withRepo(ctx, async (repo) => {
        const r = await repo.restore(ref, {
          ...(opts.target !== undefined ? { target: opts.target } : {}),
          verify: opts.verify === true,
          onProgress: (c, p) => ctx.out.progress(`${c.files} files, ${formatBytes(c.bytes)} ${p}`),
        });
        ctx.out.endProgress();
        if ((r as Partial<DatabaseRestoreSummary>).kind === 'sqlite') {
          const d = r as DatabaseRestoreSummary;
          ctx.out.emit(d, () => [
            `restored database ${d.snapshot.slice(0, 12)} to ${d.target} (${formatBytes(d.bytes)}; quick_check ok, verified)`,
            ...(d.restorePoint ? [`  restore point ${d.restorePoint.slice(0, 12)} holds the database it replaced`] : []),
            ...(d.removed.length ? [`  removed stale ${d.removed.map((f) => f.slice(d.target.length)).join(', ')}`] : []),
          ]);
          return;
        }
        ctx.out.emit(r, () => `restored ${r.snapshot.slice(0, 12)} into ${r.target}: ${r.files} files, ${r.dirs} dirs, ${r.symlinks} symlinks, ${formatBytes(r.bytes)}${r.verified ? ' (verified)' : ''}`);
      });
    });
}
