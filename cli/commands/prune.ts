import type { Command } from 'commander';
import type { PruneSummary } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { formatBytes } from '../output.js';

export function renderPrune(r: PruneSummary): string[] {
  const verb = r.dryRun ? 'would delete' : 'deleted';
  return [
    `prune: ${verb} ${r.deletedObjects} objects (${formatBytes(r.deletedBytes)}); ${r.reachableObjects} objects used by ${r.snapshots} snapshots remain`,
    ...(r.tmpFilesRemoved ? [`prune: ${r.dryRun ? 'would remove' : 'removed'} ${r.tmpFilesRemoved} stale temp files`] : []),
    ...(r.indexRowsRemoved ? [`prune: ${r.dryRun ? 'would drop' : 'dropped'} ${r.indexRowsRemoved} index rows of snapshots already forgotten`] : []),
  ];
}

export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description('delete every object no remaining snapshot uses (mark and sweep)')
    .option('--dry-run', 'count what would be deleted; delete nothing')
    .action(async (opts: { dryRun?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withRepo(ctx, async (repo) => {
        const r = await repo.prune({
          dryRun: opts.dryRun === true,
          onProgress: (p) =>
            ctx.out.progress(p.phase === 'mark' ? `prune: marking ${p.snapshots}/${p.snapshotsTotal} snapshots, ${p.marked} objects` : `prune: ${p.scanned} objects scanned, ${p.deleted} deleted`),
        });
        ctx.out.endProgress();
        ctx.out.emit(r, () => renderPrune(r));
      });
    });
}
