/** The terminal approver: --yes approves; a terminal asks y/N; no terminal refuses. */
import * as readline from 'node:readline/promises';
import { escapeControls, type ApprovalRequest } from '../src/index.js';

export function cliApprover(yes: boolean): (r: ApprovalRequest) => Promise<boolean> {
  return async (r) => {
    if (yes) return true;
    if (!process.stdin.isTTY || !process.stderr.isTTY) return false;
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await rl.question(`${escapeControls(r.summary)}\n[${r.risk} risk] ${escapeControls(r.operation)}: proceed? [y/N] `);
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  };
}
