import type { Command } from 'commander';
import { once } from 'node:events';
import { splitRefPath } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';

export function registerCat(program: Command): void {
  program
    .command('cat')
    .description("write one file's bytes from a snapshot to stdout")
    .argument('<ref:path>', 'e.g. latest:src/app.ts or v1.0:db.dump')
    .action(async (spec: string, _opts, cmd: Command) => {
      const ctx = commandContext(cmd);
      const { ref, path } = splitRefPath(spec);
      await withRepo(ctx, async (repo) => {
        for await (const chunk of repo.cat(ref, path)) {
          if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
        }
      });
    });
}
