import type { Command } from 'commander';
import { escapeControls, UsageError } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';

interface TagCliOptions {
  message?: string;
  force?: boolean;
  delete?: boolean;
}

export function registerTag(program: Command): void {
  program
    .command('tag')
    .description('name a snapshot (a tag works wherever a ref does); --force moves a tag, --delete removes one')
    .argument('<name>', 'tag name: no whitespace, no "..", ":", "~", "^", "?", "*", "[", "\\", no leading "-", not all hex, not "latest"; "/" allowed')
    .argument('[ref]', 'snapshot to tag', 'latest')
    .option('-m, --message <text>', 'what this tag marks')
    .option('-f, --force', 'move the tag if it exists (high risk: asks for approval, or --yes)')
    .option('-d, --delete', 'delete the tag (high risk: asks for approval, or --yes); the snapshot stays')
    .action(async (name: string, ref: string, opts: TagCliOptions, cmd: Command) => {
      const ctx = commandContext(cmd);
      if (opts.delete && (opts.force || opts.message !== undefined || cmd.args.length > 1)) {
        throw new UsageError('--delete takes only the tag name', { hint: 'cairn tag --delete NAME' });
      }
      await withRepo(ctx, async (repo) => {
        const r = opts.delete
          ? await repo.deleteTag(name)
          : await repo.tag(name, ref, { ...(opts.force ? { force: true } : {}), ...(opts.message !== undefined ? { message: opts.message } : {}) });
        const short = r.snapshot?.slice(0, 8) ?? 'a damaged ref file';
        const shown = escapeControls(r.name); // valid names have no control characters; a crafted ref's might
        ctx.out.emit(r, () => {
          switch (r.action) {
            case 'created':
              return `tagged ${short} as ${shown}`;
            case 'moved':
              return `moved tag ${shown} from ${r.previous!.slice(0, 8)} to ${short}`;
            case 'deleted':
              return `deleted tag ${shown} (was ${short})`;
            default:
              return `tag ${shown} already names ${short}`;
          }
        });
      });
    });
}
