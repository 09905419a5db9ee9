import type { Command } from 'commander';
import { escapeControls, UsageError } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';

const show = (v: unknown) => escapeControls(typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('show the repository config, or get / set / unset one key (retention.* keys and inlineMax are settable)')
    .argument('[key]', 'a dotted key, e.g. retention.daily.keepWithin')
    .argument('[value]', 'the new value, e.g. 14d')
    .option('--unset', 'remove the key (keepMinimum and timeZone return to their defaults)')
    .action(async (key: string | undefined, value: string | undefined, opts: { unset?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      if (opts.unset && (key === undefined || value !== undefined)) throw new UsageError('--unset takes exactly one KEY', { hint: 'cairn config --unset retention.hourly' });
      await withRepo(ctx, async (repo) => {
        if (key === undefined) {
          const v = repo.showConfig();
          ctx.out.emit(v, () => v.entries.map((e) => `${e.key} = ${show(e.value)}${e.settable ? '' : '  (fixed)'}`));
        } else if (opts.unset) {
          const c = await repo.unsetConfig(key);
          ctx.out.emit(c, () => `${c.key}: ${show(c.previous)} -> ${c.value === null ? '(unset)' : show(c.value)}`);
        } else if (value === undefined) {
          const g = repo.getConfig(key);
          ctx.out.emit(g, () => {
            if (typeof g.value === 'object' && g.value !== null && !Array.isArray(g.value)) {
              return Object.entries(g.value as Record<string, unknown>).map(([k, v]) => `${key}.${k} = ${show(v)}`);
            }
            return show(g.value);
          });
        } else {
          const c = await repo.setConfig(key, value);
          ctx.out.emit(c, () => `${c.key}: ${c.previous === null ? '(unset)' : show(c.previous)} -> ${show(c.value)}`);
        }
      });
    });
}
