import type { Command } from 'commander';
import { escapeControls, quoteName, type BreakdownRow, type RepositoryStats, type SnapshotStatsReport } from '../../src/index.js';
import { commandContext, withRepo } from '../context.js';
import { formatBytes } from '../output.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const byType = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([t, n]) => `${n} ${t}`)
    .join(', ');

export function renderRepositoryStats(r: RepositoryStats): string[] {
  return [
    `snapshots:    ${r.snapshots}${r.snapshots ? ` (${byType(r.byType)}), oldest ${r.oldest}, newest ${r.newest}` : ''}`,
    ...r.sources.map(
      (s) => `  ${quoteName(s.source)}: ${s.snapshots} (${byType(s.byType)}), ${s.oldest} .. ${s.newest}, ${formatBytes(s.logicalBytes)}${s.head ? `, HEAD ${s.head.slice(0, 8)}` : ''}`,
    ),
    `logical size: ${formatBytes(r.logicalBytes)} (what restoring every snapshot would write)`,
    `unique size:  ${formatBytes(r.uniqueBytes)} (dedup ratio ${r.dedupRatio}x)`,
    `stored size:  ${formatBytes(r.storedBytes)} in ${r.objects} objects; data ${formatBytes(r.uniqueStoredBytes)} (compression ratio ${r.compressionRatio}x), trees and manifests ${formatBytes(r.metadataStoredBytes)}${r.inlineBytes > 0 ? ` (holding ${formatBytes(r.inlineBytes)} of small files)` : ''}`,
    `unreferenced: ${r.unreferencedObjects} objects, ${formatBytes(r.unreferencedBytes)} (prune deletes them)`,
    `index:        ${formatBytes(r.indexBytes)}`,
  ];
}

function table(rows: BreakdownRow[]): string[] {
  const names = rows.map((r) => quoteName(r.name));
  const width = Math.max(8, ...names.map((n) => n.length));
  return rows.map((r, i) => `    ${names[i]!.padEnd(width)}  ${String(r.files).padStart(7)} file${r.files === 1 ? ' ' : 's'}  ${formatBytes(r.bytes).padStart(10)}`);
}

export function renderSnapshotStats(r: SnapshotStatsReport): string[] {
  const t = r.totals;
  const p = r.overParent;
  return [
    `snapshot ${r.id.slice(0, 12)}  ${r.time}  ${r.type}  ${quoteName(r.source)}${r.message ? `  "${escapeControls(r.message)}"` : ''}`,
    `  ${plural(t.files, 'file')}, ${plural(t.dirs, 'dir')}, ${plural(t.symlinks, 'symlink')}, ${formatBytes(t.bytes)}`,
    p
      ? `  over its parent ${p.parent.slice(0, 8)}: ${p.added} added, ${p.modified} modified, ${p.deleted} deleted; ${formatBytes(p.newBytes)} of new content in ${plural(p.newChunks, 'chunk')}`
      : '  no parent to compare with',
    `  when taken: wrote ${r.whenTaken.newObjects} new objects, ${formatBytes(r.whenTaken.newBytes)}`,
    '  by top-level folder:',
    ...table(r.folders),
    '  by extension:',
    ...table(r.extensions),
  ];
}

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('repository statistics, or one snapshot\'s (by folder and extension, and what it added over its parent)')
    .argument('[ref]', 'a snapshot (id prefix, tag, latest or latest~N)')
    .action(async (ref: string | undefined, _opts, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withRepo(ctx, async (repo) => {
        if (ref !== undefined) {
          const r = await repo.snapshotStats(ref);
          ctx.out.emit(r, () => renderSnapshotStats(r));
        } else {
          const r = await repo.stats();
          ctx.out.emit(r, () => renderRepositoryStats(r));
        }
      });
    });
}
