import type { Command } from 'commander';
import { escapeControls } from '../../src/index.js';
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
        const names = tags.map((t) => escapeControls(t.name));
        const width = Math.max(0, ...names.map((n) => n.length));
        ctx.out.emit(tags, () =>
          tags.length
            ? tags.map((t, i) => `${names[i]!.padEnd(width)}  ${t.snapshot.slice(0, 8)}  ${formatTime(t.snapshotTime ?? t.time)}  ${escapeControls(t.message)}`.trimEnd())
            : ['no tags'],
        );
      });
    });
}
