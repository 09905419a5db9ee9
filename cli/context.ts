/** Shared command plumbing: global options, opening the repository, output. */
import type { Command } from 'commander';
import { createLogger, Repository, UsageError, type Logger } from '../src/index.js';
import { createOutput, type Output } from './output.js';
import { cliApprover } from './prompt.js';

export interface GlobalOptions {
  repo?: string;
  json?: boolean;
  verbose?: boolean;
  yes?: boolean;
}

export interface CommandContext {
  globals: GlobalOptions;
  out: Output;
  logger: Logger;
  open(options?: { skipIndex?: boolean }): Promise<Repository>;
}

/** Exit status a command asks for after printing its result (e.g. 3 for a partial snapshot). */
export const requestedExit = { code: 0 };

/**
 * SIGINT/SIGTERM. By default main.ts ends the process at once (the repository stays consistent; 'exit'
 * listeners clean up). A command that must stop in order (one that runs another program, which has to be ended
 * with it) runs its work under interruptible(): the first signal then aborts the AbortSignal it was given and
 * the command ends with its own error (INTERRUPTED); a second signal still ends the process at once.
 */
export const interruption: { controller?: AbortController; signal?: NodeJS.Signals } = {};

export async function interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  interruption.controller = controller;
  try {
    return await fn(controller.signal);
  } finally {
    if (interruption.controller === controller) delete interruption.controller;
  }
}

export function commandContext(cmd: Command): CommandContext {
  const globals = cmd.optsWithGlobals() as GlobalOptions;
  // An empty --repo "" (an unset shell variable) must not quietly mean "find the repository from here".
  if (globals.repo === '') throw new UsageError('--repo is empty', { hint: 'name the repository directory, or leave --repo out to use $CAIRN_REPO or the nearest .cairn/' });
  const out = createOutput(globals.json === true);
  const logger = createLogger(globals.verbose ? 'debug' : (process.env.CAIRN_LOG_LEVEL ?? 'warn'));
  return {
    globals,
    out,
    logger,
    open: (options = {}) =>
      Repository.open({
        ...options,
        ...(globals.repo ? { repo: globals.repo } : {}),
        logger,
        onWarning: (m) => out.warn(m),
        approve: cliApprover(globals.yes === true),
        refusalHint: process.stdin.isTTY ? 'answer y at the prompt, or pass --yes' : 'no terminal to ask: pass --yes to approve',
        auditArgs: { argv: process.argv.slice(2) },
      }),
  };
}

/** Runs `fn` with an open repository and closes it afterwards. */
export async function withRepo<T>(ctx: CommandContext, fn: (repo: Repository) => Promise<T>, options: { skipIndex?: boolean } = {}): Promise<T> {
  const repo = await ctx.open(options);
  try {
    return await fn(repo);
  } finally {
    repo.close();
  }
}
