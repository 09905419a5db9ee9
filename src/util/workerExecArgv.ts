/**
 * Starting a worker thread with the Node options it can take: the parent's, without those that describe the
 * parent's own entry and without those a worker refuses.
 * - A worker inherits process.execArgv by default, and a parent started as `node --input-type=module -e ...` (a
 *   library user's one-liner, a test) would pass `--input-type` to a worker started from a file (refused:
 *   ERR_INPUT_TYPE_NOT_ALLOWED) or from source text (run as an ES module, where `require` is undefined).
 * - V8's options (`--max-semi-space-size`, `--trace-gc`, `--expose-gc`, `--no-opt`, ...) are per process:
 *   `new Worker` throws ERR_WORKER_INVALID_EXEC_ARGV when given any of them. Passed to the parent, they once made
 *   every worker fail to start, and a snapshot reported files as not stored. JavaScript cannot tell V8's options
 *   from Node's (`--cpu-prof` is Node's and a worker takes it), so the heap sizes are dropped by name, and any
 *   other option the first refusal names is dropped from then on (startWorker).
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { reapplyYoungGenerationLimit } from './youngGenerationLimit.js';

const WITH_VALUE = new Set(['-e', '--eval', '-p', '--print', '--input-type']);
const PER_PROCESS = /^--(max|min)[-_](semi|old|young)[-_]space[-_]size|^--(max|initial)[-_]heap[-_]size|^--max[-_]young[-_]generation[-_]size|^--stack[-_]size/;
/** Options a worker refused in this process (see startWorker). */
const refused = new Set<string>();

export function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (WITH_VALUE.has(a)) {
      i++; // and its value
      continue;
    }
    if (a.startsWith('--input-type=') || a.startsWith('--eval=') || a.startsWith('--print=')) continue;
    if (PER_PROCESS.test(a)) continue; // always `--flag=N`: node refuses a V8 option's value as a separate argument
    if (refused.has(a)) continue;
    out.push(a);
  }
  return out;
}

/** The options a refusal names ("Initiated Worker with invalid execArgv flags: --a, --b"), or none. */
export function refusedOptions(message: string): string[] {
  const at = message.lastIndexOf(': ');
  if (at < 0) return [];
  return message
    .slice(at + 2)
    .split(', ')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('-'));
}

/**
 * `new Worker(script, options)` with workerExecArgv(). When Node refuses some of them, they are dropped for this
 * and every later worker; when it refuses without naming which, the worker starts with no options at all.
 */
export function startWorker(script: string, options: Omit<WorkerOptions, 'execArgv'> = {}): Worker {
  const w = newWorker(script, options);
  // A worker's start sets V8's flags (the process's) back to the command line's.
  w.once('online', reapplyYoungGenerationLimit);
  return w;
}

function newWorker(script: string, options: Omit<WorkerOptions, 'execArgv'>): Worker {
  const execArgv = workerExecArgv();
  try {
    return new Worker(script, { ...options, execArgv });
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
    const named = refusedOptions((err as Error).message).filter((a) => execArgv.includes(a));
    for (const a of named) refused.add(a);
    if (named.length === 0) for (const a of execArgv) refused.add(a);
    return new Worker(script, { ...options, execArgv: workerExecArgv() });
  }
}
