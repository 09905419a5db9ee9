import type { Command } from 'commander';
import { quoteName, Repository, UsageError, type Compression } from '../../src/index.js';
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
    .option('--inline-max <bytes>', "files up to this size are kept in their directory's tree, not as objects of their own (0: none; default 4096)")
    .action(async (opts: { compression?: string; changeCompression?: string; inlineMax?: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const compression = opts.compression as Compression | undefined;
      const changeCompression = opts.changeCompression as Compression | undefined;
      if (opts.inlineMax !== undefined && !/^\d+$/.test(opts.inlineMax)) {
        throw new UsageError(`--inline-max "${opts.inlineMax}" is not a whole number of bytes`, { hint: 'e.g. --inline-max 4096, or 0 to store every file as objects' });
      }
      const inlineMax = opts.inlineMax === undefined ? undefined : Number(opts.inlineMax);
      const repo = await Repository.init({
        ...(ctx.globals.repo ? { repo: ctx.globals.repo } : {}),
        ...(compression ? { compression } : {}),
        ...(changeCompression ? { changeCompression } : {}),
        ...(inlineMax !== undefined ? { inlineMax } : {}),
      });
      repo.close();
      const c = repo.config;
      ctx.out.emit({ repository: repo.dir, workRoot: repo.workRoot, format: c.format, id: c.id, compression: c.compression, changeCompression: c.changeCompression, inlineMax: c.inlineMax }, () =>
        `Initialized cairn repository in ${quoteName(repo.dir)}`,
      );
    });
}
