import type { Command } from 'commander';
import { quoteName, type LsEntry } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { formatMode, formatTime, stdoutWriter, writeJsonStream } from '../output.js';

/** One line of the text listing. */
function lsLine(e: LsEntry): string {
  return `${formatMode(e.type, e.mode)} ${String(e.size).padStart(10)} ${formatTime(e.mtime)}  ${quoteName(e.type === 'dir' ? `${e.path}/` : e.path)}${e.target !== undefined ? ` -> ${quoteName(e.target)}` : ''}`;
}

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
        // Printed as the trees are read: a listing of millions of entries starts at once and is never held whole.
        const { snapshot, entries } = await repo.lsStream(ref, relPath, { recursive: opts.recursive === true });
        if (ctx.out.json) {
          await writeJsonStream({ snapshot }, 'entries', entries);
          return;
        }
        const out = stdoutWriter();
        try {
          for await (const e of entries) await out.write(`${lsLine(e)}\n`);
        } finally {
          await out.end();
        }
      });
    });
}
