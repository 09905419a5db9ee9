/** Operands before and after a literal `--` (commander drops the `--` itself). */
import type { Command } from 'commander';

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
