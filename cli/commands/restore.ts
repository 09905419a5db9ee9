import type { Command } from 'commander';
import { UsageError } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { formatBytes } from '../output.js';

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('restore a snapshot into a new or empty directory')
    .argument('<ref>', 'snapshot id prefix, tag, latest or latest~N')
    .option('--target <dir>', 'directory to restore into (new or empty)')
    .option('--verify', 're-read what was written and compare it with the snapshot')
    .action(async (ref: string, opts: { target?: string; verify?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      if (!opts.target) throw new UsageError('restore needs --target DIR', { hint: 'cairn restore <ref> --target DIR' });
      const target = opts.target;
      await withRepo(ctx, async (repo) => {
        const r = await repo.restore(ref, {
          target,
          verify: opts.verify === true,
          onProgress: (c, p) => ctx.out.progress(`${c.files} files, ${formatBytes(c.bytes)} ${p}`),
        });
        ctx.out.endProgress();
        ctx.out.emit(r, () => `restored ${r.snapshot.slice(0, 12)} into ${r.target}: ${r.files} files, ${r.dirs} dirs, ${r.symlinks} symlinks, ${formatBytes(r.bytes)}${r.verified ? ' (verified)' : ''}`);
      });
    });
}
