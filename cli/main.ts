#!/usr/bin/env node
/** The cairn binary: parse, run, map errors to exit codes. The only process.exit. */
process.env.UV_THREADPOOL_SIZE ??= '8';

import { CommanderError } from 'commander';
import { explainError, OLD_GENERATION_SLACK_BYTES, releaseHeldLocksSync, setOldGenerationSlack, setYoungGenerationLimit, YOUNG_GENERATION_LIMIT_BYTES } from '../src/index.js';
import { interruption, requestedExit } from './context.js';
import { EXIT, exitCodeFor } from './exitCodes.js';
import { errorLines, jsonText } from './output.js';
import { buildProgram } from './program.js';

function fail(err: unknown, json: boolean): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
    // commander already printed its one line on stderr; --json still gets its one document
    if (json) process.stdout.write(`${jsonText({ error: 'USAGE', message: err.message.replace(/^error: /, '') })}\n`);
    return EXIT.USAGE;
  }
  const known = explainError(err);
  if (known) {
    process.stderr.write(errorLines(known));
    if (json) process.stdout.write(`${jsonText(known.toJSON())}\n`);
    return known.code === 'INTERRUPTED' && interruption.signal === 'SIGTERM' ? EXIT.TERMINATED : exitCodeFor(known.code);
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EPIPE') return EXIT.OK;
  process.stderr.write(errorLines({ message: `internal error: ${e?.message ?? String(err)}`, hint: 'this is a bug; please report it with CAIRN_LOG_LEVEL=debug output' }));
  if (json) process.stdout.write(`${jsonText({ error: 'INTERNAL', message: e?.message ?? String(err) })}\n`);
  if (process.env.CAIRN_LOG_LEVEL === 'debug' && e?.stack) process.stderr.write(`${e.stack}\n`);
  return EXIT.INTERNAL;
}

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  // A command's process is its own: a snapshot storing many objects keeps its young generation at 8 MiB and its
  // old generation's garbage under 32 MiB (docs/performance.md).
  setYoungGenerationLimit(YOUNG_GENERATION_LIMIT_BYTES);
  setOldGenerationSlack(OLD_GENERATION_SLACK_BYTES);
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.OK);
  });
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGTERM' ? EXIT.TERMINATED : EXIT.INTERRUPTED;
    if (!interrupted && interruption.controller) {
      // The command stops in order and fails with its own one line (INTERRUPTED).
      interrupted = true;
      interruption.signal = signal;
      interruption.controller.abort(signal);
      return;
    }
    // Else at once; also a second signal while an orderly stop runs (a command's processes get SIGKILL on exit).
    interrupted = true;
    process.stderr.write('\ncairn: interrupted; the repository is left consistent (unreferenced objects are removed by prune)\n');
    process.exit(code);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await buildProgram().parseAsync(process.argv);
    return requestedExit.code;
  } catch (err) {
    return fail(err, json);
  }
}

let settled = false;
process.on('exit', () => {
  // An exit that did not wait for the command to end (a second Ctrl-C, a signal to a command that stops at once,
  // a closed stdout) leaves the repository consistent but its lock file behind: remove the ones this process holds,
  // so another cairn is not told the repository is busy until it notices this pid is gone.
  releaseHeldLocksSync();
  // A command whose work was left waiting on nothing (a promise no pending I/O or timer will settle) would let the
  // process end with status 0 and the work half done: say so and fail instead.
  if (!settled && process.exitCode === undefined) {
    process.stderr.write('cairn: internal error: the command stopped before it finished (nothing left to wait for)\n  hint: this is a bug; please report it with the command line\n');
    process.exitCode = EXIT.INTERNAL;
  }
});

main().then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (err: unknown) => {
    settled = true;
    process.stderr.write(errorLines({ message: `internal error: ${String(err)}` }));
    process.exitCode = EXIT.INTERNAL;
  },
);
