import type { Command } from 'commander';
import { escapeControls, quoteName, type VerifyReport } from '../../src/index.js';
import { commandContext, requestedExit, withRepo } from '../context.js';
import { EXIT } from '../exitCodes.js';
import { formatBytes } from '../output.js';

function damageNote(problem: string, object: string, isDir: boolean): string {
  return `${isDir ? 'folder unreadable: tree' : 'object'} ${object.slice(0, 12)} ${problem}`;
}

export function renderVerify(r: VerifyReport): string[] {
  const lines = [
    `checked ${r.snapshots} snapshot${r.snapshots === 1 ? '' : 's'}: ${r.trees} trees, ${r.objects} objects` +
      (r.readData.mode === 'none' ? ' (existence; --read-data re-hashes them)' : `, ${r.readData.objectsRead} read and re-hashed (${formatBytes(r.readData.bytesRead)})`) +
      (r.readData.spec ? ` sample ${r.readData.spec}${r.readData.seed ? ` seed ${r.readData.seed}` : ''}` : ''),
  ];
  if (r.ok) {
    lines.push('no damage found; the index agrees with the store');
    return lines;
  }
  if (r.damagedObjects.length) {
    const n = r.damagedObjects.length;
    lines.push(`DAMAGE: ${n} object${n === 1 ? ' is' : 's are'} missing or corrupted`);
    for (const o of r.damagedObjects) {
      // What is wrong with a corrupted object (a bad hash, a malformed field) is worth a line; "missing" says it all.
      const why = o.problem === 'corrupted' ? `: ${escapeControls(o.message)}` : '';
      lines.push(`  ${o.kind.padEnd(8)} ${o.id.slice(0, 12)}  ${o.problem}; breaks ${o.snapshots.length} snapshot${o.snapshots.length === 1 ? '' : 's'}${why}`);
    }
  }
  if (r.damagedSnapshots.length) {
    const n = r.damagedSnapshots.length;
    lines.push(`${n} snapshot${n === 1 ? '' : 's'} cannot be fully restored:`);
    for (const s of r.damagedSnapshots) {
      const known = [s.time, s.type && escapeControls(s.type), s.source && quoteName(s.source)].filter((x) => x !== null);
      const where = known.length ? `  ${known.join('  ')}` : '';
      if (s.problem) {
        lines.push(`  snapshot ${s.id.slice(0, 8)}${where}: ${escapeControls(s.problem)}`);
        continue;
      }
      lines.push(`  snapshot ${s.id.slice(0, 8)}${where}: ${s.damagedFiles} damaged file${s.damagedFiles === 1 ? '' : 's'}`);
      for (const f of s.files) lines.push(`    ${quoteName(f.path)}  (${damageNote(f.problem, f.object, f.path.endsWith('/'))})`);
      if (s.damagedFiles > s.files.length) lines.push(`    ... and ${s.damagedFiles - s.files.length} more (see --json)`);
    }
  }
  if (r.indexProblems.length) {
    lines.push(`${r.indexProblems.length} index problem${r.indexProblems.length === 1 ? '' : 's'}:`);
    for (const p of r.indexProblems) lines.push(`  ${escapeControls(p.message)}`);
  }
  if (r.journalProblems.length) {
    const n = r.journalProblems.length;
    lines.push(`${n} restore journal${n === 1 ? '' : 's'} cannot be used:`);
    for (const p of r.journalProblems) lines.push(`  ${escapeControls(p.message)}`, `    what to do: ${escapeControls(p.hint)}`);
  }
  return lines;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check every snapshot can be restored and the index agrees with the store (exit 4 on damage)')
    .option('--read-data', 'also read and re-hash every object')
    .option('--read-data-subset <spec>', 'read and re-hash a sample: 10% (random) or n/t (the n-th of t fixed groups)')
    .action(async (opts: { readData?: boolean; readDataSubset?: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withRepo(ctx, async (repo) => {
        const r = await repo.verify({
          readData: opts.readData === true,
          ...(opts.readDataSubset !== undefined ? { readDataSubset: opts.readDataSubset } : {}),
          onProgress: (p) =>
            ctx.out.progress(() => `verify: snapshot ${p.snapshots}/${p.snapshotsTotal}, ${p.trees} trees, ${p.objects} objects${p.bytesRead ? `, ${formatBytes(p.bytesRead)} read` : ''}`),
        });
        ctx.out.endProgress();
        ctx.out.emit(r, () => renderVerify(r));
        if (!r.ok) requestedExit.code = EXIT.INTEGRITY;
      });
    });
}
