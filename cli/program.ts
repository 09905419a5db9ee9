/** Registers every command on one commander program. */
import { Command, type OutputConfiguration } from 'commander';
import { escapeControls } from '../src/index.js';
import { registerAudit } from './commands/audit.js';
import { registerCat } from './commands/cat.js';
import { registerConfig } from './commands/config.js';
import { registerForget } from './commands/forget.js';
import { registerDiff } from './commands/diff.js';
import { registerInit } from './commands/init.js';
import { registerLog } from './commands/log.js';
import { registerLs } from './commands/ls.js';
import { registerPrune } from './commands/prune.js';
import { registerRebuildIndex } from './commands/rebuildIndex.js';
import { registerRestore } from './commands/restore.js';
import { registerShow } from './commands/show.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerStats } from './commands/stats.js';
import { registerVerify } from './commands/verify.js';
import { registerTag } from './commands/tag.js';
import { registerTags } from './commands/tags.js';

export const VERSION = '0.1.0';

/**
 * commander's own error lines (an unknown option, a missing argument) quote what was typed, which can hold any
 * control character (`--x$'\e]0;...'`): printed with them escaped, line by line, as every other message is.
 */
const ESCAPED_ERRORS: OutputConfiguration = {
  outputError: (text, write) => write(text.split('\n').map(escapeControls).join('\n')),
};

export function buildProgram(): Command {
  const program = new Command('cairn')
    .description('content-addressed versioning and backup store')
    .version(VERSION)
    .option('--repo <dir>', 'repository directory (default: $CAIRN_REPO, else the nearest .cairn/ above the current directory)')
    .option('--json', 'print one JSON document on stdout')
    .option('-v, --verbose', 'debug logs on stderr')
    .option('-y, --yes', 'approve high-risk and critical operations without asking')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput(ESCAPED_ERRORS)
    .exitOverride();
  for (const register of [registerInit, registerSnapshot, registerLog, registerLs, registerCat, registerShow, registerRestore, registerRebuildIndex, registerDiff, registerTag, registerTags, registerAudit, registerForget, registerPrune, registerVerify, registerStats, registerConfig]) {
    register(program);
  }
  for (const c of program.commands) c.exitOverride().configureOutput(ESCAPED_ERRORS);
  return program;
}
