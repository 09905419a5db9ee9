import type { Command } from 'commander';
import { Repository, type Compression } from '../../src/index.js';
import { commandContext } from '../context.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a repository: .cairn/ here, or the directory given by --repo / CAIRN_REPO')
    .option('--compression <codec>', 'what new objects are compressed with: snappy (fast; default), deflate (smaller, ~4x slower) or none')
    .option(
      '--change-compression <codec>',
      "what a changed file's new objects are compressed with (few, kept for every later snapshot): deflate (default with snappy), snappy or none; default: as --compression otherwise",
    )
    .action(async (opts: { compression?: string; changeCompression?: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const compression = opts.compression as Compression | undefined;
      const changeCompression = opts.changeCompression as Compression | undefined;
      const repo = await Repository.init({
        ...(ctx.globals.repo ? { repo: ctx.globals.repo } : {}),
        ...(compression ? { compression } : {}),
        ...(changeCompression ? { changeCompression } : {}),
      });
      repo.close();
      const c = repo.config;
      ctx.out.emit({ repository: repo.dir, workRoot: repo.workRoot, format: c.format, id: c.id, compression: c.compression, changeCompression: c.changeCompression }, () =>
        `Initialized cairn repository in ${repo.dir}`,
      );
    });
}
