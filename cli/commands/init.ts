import type { Command } from 'commander';
import { Repository, type Compression } from '../../src/index.js';
import { commandContext } from '../context.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a repository: .cairn/ here, or the directory given by --repo / CAIRN_REPO')
    .option('--compression <codec>', 'what new objects are compressed with: snappy (fast; default), deflate (smaller, ~4x slower) or none')
    .action(async (opts: { compression?: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const compression = opts.compression as Compression | undefined;
      const repo = await Repository.init({ ...(ctx.globals.repo ? { repo: ctx.globals.repo } : {}), ...(compression ? { compression } : {}) });
      repo.close();
      ctx.out.emit({ repository: repo.dir, workRoot: repo.workRoot, format: repo.config.format, id: repo.config.id, compression: repo.config.compression }, () =>
        `Initialized cairn repository in ${repo.dir}`,
      );
    });
}
