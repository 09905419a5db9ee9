import type { Command } from 'commander';
import { changeJson, quoteName, UsageError, type FilePatch } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { nameStatusLine, statLines } from '../diffView.js';
import { splitAtDashDash, wholeNumber } from '../operands.js';

const collect = (v: string, prev: string[]) => [...prev, v];

interface DiffCliOptions {
  stat?: boolean;
  patch?: boolean;
  includeMode?: boolean;
  dir?: string;
  exclude: string[];
  sizeLimit?: number;
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('show what changed between two snapshots, or between a snapshot and its source directory now')
    .usage('[options] <a> [b] [-- paths...]')
    .argument('<refs-and-paths...>', 'a [b]: refs (one ref compares it with the directory on disk); paths after --')
    .option('--stat', 'lines added/removed per text file, sizes of binary ones, and a summary line')
    .option('-p, --patch', 'unified diffs of text files')
    .option('--include-mode', 'also list files whose permission bits alone changed (off by default)')
    .option('--dir <dir>', 'with one ref: compare with this directory instead of the snapshot source')
    .option('--exclude <glob>', 'with one ref: skip paths matching GLOB on disk, as snapshot --exclude (repeatable)', collect, [])
    .option('--size-limit <bytes>', 'files larger than this are summarised, not diffed (default 1048576)', wholeNumber('--size-limit'))
    .action(async (operands: string[], opts: DiffCliOptions, cmd: Command) => {
      const ctx = commandContext(cmd);
      const { before: refs, after: paths } = splitAtDashDash(cmd, operands);
      if (refs.length < 1 || refs.length > 2) {
        throw new UsageError(`diff takes one or two refs, got ${refs.length}`, { hint: 'cairn diff A [B] [-- PATH...]' });
      }
      if (opts.sizeLimit !== undefined && !(opts.sizeLimit >= 0)) throw new UsageError('--size-limit needs a number of bytes');
      await withRepo(ctx, async (repo) => {
        const result = await repo.diff(refs[0]!, refs[1] ?? null, {
          includeMode: opts.includeMode === true,
          paths,
          ...(opts.dir !== undefined ? { dir: opts.dir } : {}),
          exclude: opts.exclude,
        });
        for (const w of result.warnings) ctx.out.warn(`${quoteName(w.path)}: ${w.message} (shown as deleted)`);
        const patchOptions = opts.sizeLimit !== undefined ? { sizeLimit: opts.sizeLimit } : {};
        const needPatches = opts.stat === true || opts.patch === true;
        if (ctx.out.json || opts.stat) {
          const patches: FilePatch[] = [];
          if (needPatches) for (const c of result.changes) patches.push(await repo.patch(result, c, patchOptions));
          const json = result.changes.map((c, i) => {
            const p = patches[i];
            return { ...changeJson(c), ...(p ? { kind: p.kind, added: p.added, removed: p.removed } : {}), ...(p && opts.patch ? { patch: p.text } : {}) };
          });
          ctx.out.emit(json, () => [...statLines(patches), ...(opts.patch && patches.length ? [''] : []), ...(opts.patch ? patches.map((p) => p.text.replace(/\n$/, '')) : [])]);
          return;
        }
        if (!opts.patch) {
          ctx.out.emit(null, () => result.changes.map(nameStatusLine));
          return;
        }
        // Patches stream out file by file, so a large diff is never held whole.
        for (const c of result.changes) {
          const p = await repo.patch(result, c, patchOptions);
          ctx.out.emit(null, () => p.text.replace(/\n$/, ''));
        }
      });
    });
}
