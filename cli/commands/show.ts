import type { Command } from 'commander';
import { escapeControls, quoteName } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { formatTime } from '../output.js';
import { renderStats } from './snapshot.js';

export function registerShow(program: Command): void {
  program
    .command('show')
    .description('show a snapshot manifest and its statistics')
    .argument('<ref>', 'snapshot id prefix, tag, latest or latest~N')
    .action(async (ref: string, _opts, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withRepo(ctx, async (repo) => {
        const r = await repo.show(ref);
        const m = r.manifest;
        ctx.out.emit({ id: r.id, tags: r.tags, children: r.children, manifest: m }, () => [
          `snapshot ${r.id}`,
          `  source:  ${quoteName(m.source)} (${m.kind})`,
          `  time:    ${formatTime(m.time)} (${m.time})`,
          `  by:      ${escapeControls(`${m.user}@${m.host}`)}`,
          `  type:    ${m.type}, mode ${m.mode}${m.base ? `, base ${m.base.slice(0, 12)}` : ''}`,
          `  parents: ${m.parents.map((p) => p.slice(0, 12)).join(', ') || '(none)'}`,
          `  tree:    ${m.tree}`,
          ...(r.tags.length ? [`  tags:    ${escapeControls(r.tags.join(', '))}`] : []),
          // A message of several lines is shown as several lines, each under the first; any other control escaped.
          ...(m.message ? m.message.split('\n').map((l, i) => `${i === 0 ? '  message: ' : '           '}${escapeControls(l)}`) : []),
          ...renderStats(m.stats),
          ...m.errors.map((e) => `  not stored: ${quoteName(e.path)}: ${escapeControls(e.message)}`),
          ...m.warnings.map((w) => `  warning: ${quoteName(w.path)}: ${escapeControls(w.message)}`),
        ]);
      });
    });
}
