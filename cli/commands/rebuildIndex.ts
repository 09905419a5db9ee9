import type { Command } from 'commander';
import { escapeControls } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';

export function registerRebuildIndex(program: Command): void {
  program
    .command('rebuild-index')
    .description('rebuild index.db from the object store')
    .action(async (_opts, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withRepo(ctx, async (repo) => {
        const r = await repo.rebuildIndex();
        ctx.out.emit(r, () => [
          `index rebuilt: ${r.snapshots} snapshots, ${r.tags} tags, ${r.heads} source heads`,
          ...r.damaged.map((d) => `  damaged: ${d.id.slice(0, 12)}: ${escapeControls(d.message)}`),
        ]);
      }, { skipIndex: true });
    });
}
