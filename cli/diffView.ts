/** Text views of a diff: git's --name-status lines and --stat table. */
import { quoteName, type FilePatch, type TreeChange } from '../src/index.js';

/** `M\tpath`, as `git diff --name-status`. */
export function nameStatusLine(c: Pick<TreeChange, 'status' | 'path'>): string {
  return `${c.status}\t${quoteName(c.path)}`;
}

const BAR_WIDTH = 40;

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The `--stat` table: one line per file and a summary line, as git prints it. */
export function statLines(patches: readonly FilePatch[]): string[] {
  if (patches.length === 0) return [];
  const names = patches.map((p) => quoteName(p.path));
  const nameWidth = Math.max(...names.map((n) => n.length));
  const maxTotal = Math.max(1, ...patches.map((p) => p.added + p.removed));
  const countWidth = Math.max(...patches.map((p) => String(p.added + p.removed).length));
  const scale = maxTotal > BAR_WIDTH ? BAR_WIDTH / maxTotal : 1;
  let insertions = 0;
  let deletions = 0;
  const lines = patches.map((p, i) => {
    const name = names[i]!.padEnd(nameWidth);
    insertions += p.added;
    deletions += p.removed;
    if (p.kind === 'binary') return ` ${name} | Bin ${p.oldSize ?? 0} -> ${p.newSize ?? 0} bytes`;
    if (p.kind === 'large') return ` ${name} | Large ${p.oldSize ?? 0} -> ${p.newSize ?? 0} bytes`;
    const plus = p.added === 0 ? 0 : Math.max(1, Math.round(p.added * scale));
    const minus = p.removed === 0 ? 0 : Math.max(1, Math.round(p.removed * scale));
    const bar = `${'+'.repeat(plus)}${'-'.repeat(minus)}`;
    return ` ${name} | ${String(p.added + p.removed).padStart(countWidth)}${bar ? ` ${bar}` : ''}`;
  });
  const summary = [plural(patches.length, 'file changed', 'files changed')];
  if (insertions > 0) summary.push(plural(insertions, 'insertion(+)', 'insertions(+)'));
  if (deletions > 0) summary.push(plural(deletions, 'deletion(-)', 'deletions(-)'));
  return [...lines, ` ${summary.join(', ')}`];
}
