/**
 * The command of a `--from-command` stream snapshot, run so that it can always
 * be ended. Words:
 *
 * - the command: `/bin/sh -c CMD`, started as the leader of its own process
 *   group (and session: it has no controlling terminal, so it cannot stop on
 *   a prompt). Every process it starts (`pg_dump ... | gzip`, `cat f; sleep`)
 *   is in that group unless it leaves it (setsid, a daemon).
 * - stop: the whole group gets SIGTERM, then SIGKILL if it is still there
 *   after STOP_GRACE_MS; our ends of its pipes are destroyed, so cairn never
 *   waits on a pipe that a process it cannot reach still holds. Used when the
 *   snapshot fails (a full disk), is interrupted (SIGINT/SIGTERM), or the
 *   command exits non-zero while a process it started still runs.
 * - tied to us: if cairn exits while the group may still run (a second Ctrl-C,
 *   an exit nobody planned), an 'exit' listener SIGKILLs the group. Where no
 *   listener runs (cairn SIGKILLed, or the OOM killer), the watchdog does: the
 *   shell starts, in the group, a watchdog that reads a pipe from cairn; EOF
 *   without a word (cairn is gone) makes it SIGKILL its own group, which no
 *   other group can be while it lives (kill 0: no pid reuse can misdirect it).
 *   cairn disarms it (a newline) once the command has exited with status 0, so
 *   what a successful command left running stays alone.
 *
 * On success (status 0) the stream ends when its standard output is closed by
 * every process holding it, as a shell pipe does; a process the command left
 * in the background holding it keeps the snapshot waiting (a warning says so
 * after LINGER_WARN_MS) and is not killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { ReadInto } from '../chunk/chunkStream.js';
import { readerOf } from '../chunk/readerOf.js';
import { CommandFailedError, describeError } from '../errors.js';

/** SIGTERM → SIGKILL. */
const STOP_GRACE_MS = 3000;
/** How long a SIGKILLed group may take to be gone (a process in uninterruptible sleep) before cairn stops waiting. */
const KILL_WAIT_MS = 3000;
/** How long the end of standard error is awaited once no process of the group is left. */
const STDERR_SETTLE_MS = 1000;
/** After the command exited with status 0, how long its standard output may stay open before a warning. */
const LINGER_WARN_MS = 5000;
const POLL_MS = 20;
const STDERR_TAIL = 8 * 1024;

export interface CommandExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CommandRunOptions {
  /** The command's standard error as it arrives. */
  onStderr?: (chunk: Buffer) => void;
  /** A warning for the user (the command exited but its standard output stays open). */
  onWarning?: (message: string) => void;
}

export interface CommandRun {
  /** The command's standard output. Rejects once the run is stopped, or when the command failed before it ended. */
  read: ReadInto;
  /** After `read` gave its end: resolves when the command exited with status 0, else rejects (CommandFailedError). */
  finish(): Promise<void>;
  /** Ends the command and every process of its group; resolves when they are gone (or cairn gave up waiting). */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Whether a live process of group `pgid` is left. A zombie (dead, its exit status not yet collected by its
 * parent, or by init for an orphan, which some inits do only every few seconds) holds nothing and does not count;
 * that is told from /proc where there is one.
 */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return liveMember(pgid) ?? true;
}

/** Whether /proc lists a process of group `pgid` that is not a zombie; undefined without a readable /proc. */
function liveMember(pgid: number): boolean | undefined {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so fields count from its last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: none left; EPERM: none we may signal (nothing more we can do)
  }
}

/** Polls `done` until true or `ms` passed; whether it became true. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (let waited = 0; !done(); waited += POLL_MS) {
    if (waited >= ms) return false;
    await sleep(POLL_MS);
  }
  return true;
}

function ended(stream: Readable): () => boolean {
  let done = stream.readableEnded || stream.destroyed;
  const mark = () => {
    done = true;
  };
  stream.once('end', mark).once('close', mark).once('error', mark);
  return () => done;
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

/**
 * The shell's script: start the watchdog (on fd 3, its other descriptors on /dev/null so that it never holds the
 * command's output open), close fd 3 for the command, run the command, and end as the command did: a status above
 * 128 from a command killed by a signal is turned back into that signal (what `sh -c CMD` gives when it runs a
 * single command in its own place), so the failure says "killed by SIGSEGV" either way.
 */
const WATCHED_SHELL = [
  '{ read -r _ <&3 || kill -KILL 0; } </dev/null >/dev/null 2>&1 &',
  'exec 3<&-',
  '__cairn_command=$1; shift',
  'eval "$__cairn_command"',
  '__cairn_status=$?',
  'if [ "$__cairn_status" -gt 128 ] && [ "$__cairn_status" -lt 160 ]; then trap - "$((__cairn_status - 128))"; kill "-$((__cairn_status - 128))" $$; fi',
  'exit "$__cairn_status"',
].join('\n');

/** Starts `command` with /bin/sh in its own process group, with its watchdog; standard input is closed. */
export function startCommand(command: string, options: CommandRunOptions = {}): CommandRun {
  const child: ChildProcess & { stdout: Readable; stderr: Readable; stdio: ChildProcess['stdio'] } = spawn('/bin/sh', ['-c', WATCHED_SHELL, 'sh', command], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    detached: true, // its own process group, so that stop() reaches what it started; never unref()ed: cairn waits for it
  }) as ChildProcess & { stdout: Readable; stderr: Readable };
  const pgid = child.pid;
  // The watchdog's pipe: held open by cairn until the command has exited with status 0 (see the module comment).
  const watchdog = child.stdio[3] as (NodeJS.WritableStream & { destroy(): void; unref?: () => void }) | null;
  watchdog?.on('error', () => undefined); // EPIPE once the watchdog is gone
  const disarm = () => {
    if (!watchdog) return;
    watchdog.end('\n');
  };
  let tail = Buffer.alloc(0);
  // Passed on in whole lines, so that a line of the command's cut short by its end never runs into cairn's own
  // error line ("head: cairn: cannot write object …"); a partial line is passed on, ended, when stderr closes.
  let partial = Buffer.alloc(0);
  child.stderr.on('data', (d: Buffer) => {
    const all = partial.length > 0 ? Buffer.concat([partial, d]) : d;
    const cut = all.lastIndexOf(0x0a) + 1;
    const keep = all.length - cut > STDERR_TAIL ? all.length : cut; // a very long line goes on as it is
    if (keep > 0) options.onStderr?.(all.subarray(0, keep));
    partial = Buffer.from(all.subarray(keep));
    tail = Buffer.concat([tail, d]);
    if (tail.length > STDERR_TAIL) tail = tail.subarray(tail.length - STDERR_TAIL);
  });
  const flushPartial = () => {
    if (partial.length > 0) options.onStderr?.(Buffer.concat([partial, Buffer.from('\n')]));
    partial = Buffer.alloc(0);
  };
  child.stderr.once('close', flushPartial);
  const stderrEnded = ended(child.stderr);
  const stdoutEnded = ended(child.stdout);

  // Tied to us: an exit while the group may still run takes the group with it.
  const onProcessExit = () => {
    if (pgid !== undefined) signalGroup(pgid, 'SIGKILL');
  };
  let tied = false;
  const untie = () => {
    if (tied) process.off('exit', onProcessExit);
    tied = false;
  };
  if (pgid !== undefined) {
    process.on('exit', onProcessExit);
    tied = true;
  }

  let status: CommandExit | undefined;
  let spawnError: CommandFailedError | undefined;
  let failure: CommandFailedError | undefined;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  /** Set when the command exited non-zero: settles once it is stopped and `failure` is set. */
  let failing: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  /** Settles the pending read (a stop, or the command failed while its output stays open). */
  const cutShort = new Promise<never>((_, reject) => {
    wake = () => reject(new Error('stopped'));
  });
  cutShort.catch(() => undefined);

  const failureOf = (s: CommandExit): CommandFailedError => {
    const how = s.signal !== null ? `was killed by ${s.signal}` : `exited with status ${s.code}`;
    const stderr = tail.toString('utf8');
    const said = lastLine(stderr);
    return new CommandFailedError(`the command ${how}${said ? `: ${said}` : ''}; no snapshot was made`, {
      hint: 'its standard error is shown above; fix the command and run the snapshot again',
      details: { command, exitCode: s.code, signal: s.signal, stderr },
    });
  };

  const exited = new Promise<void>((resolve) => {
    child.on('error', (err) => {
      spawnError = new CommandFailedError(`cannot run the command: ${describeError(err)}`, { cause: err, details: { command } });
      resolve();
    });
    child.on('exit', (code, signal) => {
      status = { code, signal };
      resolve();
      if (code === 0 && signal === null) disarm();
      if (code !== 0 || signal !== null) {
        // Failed: whatever it left running (holding the pipe, or not) is of no use; the pending read ends.
        failing = stop().then(() => {
          failure ??= failureOf(status!);
        });
        void failing.then(() => wake?.());
      } else if (!stdoutEnded()) {
        const timer = setTimeout(() => {
          if (!stdoutEnded() && !stopped) {
            options.onWarning?.(
              'the command exited with status 0 but its standard output is still open (a process it started in the background holds it); waiting for it to close — interrupt cairn to give up',
            );
          }
        }, LINGER_WARN_MS);
        timer.unref();
        child.stdout.once('close', () => clearTimeout(timer));
      }
    });
  });

  async function settleStderr(): Promise<void> {
    await until(stderrEnded, STDERR_SETTLE_MS);
    flushPartial();
    child.stderr.destroy();
  }

  function stop(): Promise<void> {
    stopping ??= (async () => {
      stopped = true;
      child.stdout.destroy(); // our end: a process outside our reach may hold the other
      if (pgid === undefined) return;
      signalGroup(pgid, 'SIGTERM');
      if (!(await until(() => !groupAlive(pgid), STOP_GRACE_MS))) {
        signalGroup(pgid, 'SIGKILL');
        await until(() => !groupAlive(pgid), KILL_WAIT_MS);
      }
      // Gone: its pgid may be reused from now on. Still there (a process that cannot die): SIGKILLed again at exit.
      if (!groupAlive(pgid)) untie();
      await settleStderr();
    })();
    return stopping;
  }

  const raw = readerOf(child.stdout);
  const read: ReadInto = async (buf, offset, length) => {
    const next = raw(buf, offset, length);
    next.catch(() => undefined); // a read cut short by stop() is not an unhandled rejection
    let n: number;
    try {
      n = await Promise.race([next, cutShort]);
    } catch (err) {
      if (!stopped) throw err;
      n = 0;
    }
    if (stopped) {
      // A destroyed stdout may read as its end: never taken for the whole stream.
      await failing;
      throw failure ?? new Error('the command was stopped');
    }
    return n;
  };

  return {
    read,
    async finish() {
      await exited;
      if (spawnError) throw spawnError;
      if (status!.code !== 0 || status!.signal !== null) {
        await stop();
        throw (failure ??= failureOf(status!));
      }
      // Succeeded. What it left in the background is the user's: not killed, not waited for.
      untie();
      if (!groupAlive(pgid!)) await until(stderrEnded, STDERR_SETTLE_MS);
      if (!stderrEnded()) (child.stderr as Readable & { unref?: () => void }).unref?.(); // passed on while cairn runs, without keeping it alive
    },
    stop,
  };
}
