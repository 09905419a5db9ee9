import type { Command } from 'commander';
import { commandContext, withRepo } from '../context.js';
import { formatTime } from '../output.js';

export function registerTags(program: Command): void {
  program
    .command('tags')
    .description('list tags: name, snapshot, snapshot time, message')
    .action(async (_opts, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withRepo(ctx, async (repo) => {
        const tags = repo.tags();
        const width = Math.max(0, ...tags.map((t) => t.name.length));
        ctx.out.emit(tags, () =>
          tags.length
            ? tags.map((t) => `${t.name.padEnd(width)}  ${t.snapshot.slice(0, 8)}  ${formatTime(t.snapshotTime ?? t.time)}  ${t.message}`.trimEnd())
            : ['no tags'],
        );
      });
    });
}
