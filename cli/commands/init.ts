import type { Command } from 'commander';
import { Repository } from '../../src/index.js';
import { commandContext } from '../context.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a repository: .cairn/ here, or the directory given by --repo / CAIRN_REPO')
    .action(async (_opts, cmd: Command) => {
      const ctx = commandContext(cmd);
      const repo = await Repository.init(ctx.globals.repo ? { repo: ctx.globals.repo } : {});
      repo.close();
      ctx.out.emit({ repository: repo.dir, workRoot: repo.workRoot, format: repo.config.format, id: repo.config.id }, () =>
        `Initialized cairn repository in ${repo.dir}`,
      );
    });
}
