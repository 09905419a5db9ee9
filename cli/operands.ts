/** Operands before and after a literal `--` (commander drops the `--` itself). */
import type { Command } from 'commander';
import { UsageError } from '../src/index.js';

/**
 * Splits a command's operands at the `--` the user typed: `cairn diff A -- src`
 * gives before ['A'] and after ['src']. Everything after `--` is an operand,
 * so the count of raw arguments after it tells where the split is.
 */
export function splitAtDashDash(cmd: Command, operands: readonly string[]): { before: string[]; after: string[] } {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  const raw = (root as Command & { rawArgs?: string[] }).rawArgs ?? [];
  const at = raw.indexOf('--');
  const after = at < 0 ? 0 : Math.min(raw.length - at - 1, operands.length);
  return { before: operands.slice(0, operands.length - after), after: operands.slice(operands.length - after) };
}

/**
 * Parses a whole-number option (digits only, at least `min`, at most Number.MAX_SAFE_INTEGER): `-n abc`, `-n -5`
 * and `-n 1e3` are usage errors naming the flag, never read as "no limit" or as 1.
 */
export function wholeNumber(flag: string, min = 0): (v: string) => number {
  return (v) => {
    const t = v.trim();
    const n = /^\d+$/.test(t) ? Number(t) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      throw new UsageError(`${flag} needs a whole number${min > 0 ? ` of at least ${min}` : ''}, not "${v}"`);
    }
    return n;
  };
}
