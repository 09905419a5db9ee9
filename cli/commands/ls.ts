import type { Command } from 'commander';
import { quoteName } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { formatMode, formatTime } from '../output.js';

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('list the entries of a snapshot')
    .argument('<ref>', 'snapshot id prefix, tag, latest or latest~N')
    .argument('[path]', 'folder inside the snapshot', '')
    .option('-r, --recursive', 'list everything below')
    .action(async (ref: string, relPath: string, opts: { recursive?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withRepo(ctx, async (repo) => {
        const { snapshot, entries } = await repo.ls(ref, relPath, { recursive: opts.recursive === true });
        ctx.out.emit({ snapshot, entries }, () =>
          entries.map(
            (e) =>
              `${formatMode(e.type, e.mode)} ${String(e.size).padStart(10)} ${formatTime(e.mtime)}  ${quoteName(e.type === 'dir' ? `${e.path}/` : e.path)}${e.target !== undefined ? ` -> ${quoteName(e.target)}` : ''}`,
          ),
        );
      });
    });
}
