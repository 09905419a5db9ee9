/**
 * The Node options a worker thread inherits: the parent's, without those that describe the parent's own entry
 * and without those a worker refuses.
 * - A worker inherits process.execArgv by default, and a parent started as `node --input-type=module -e ...` (a
 *   library user's one-liner, a test) would pass `--input-type` to a worker started from a file (refused:
 *   ERR_INPUT_TYPE_NOT_ALLOWED) or from source text (run as an ES module, where `require` is undefined).
 * - V8's heap sizes (`--max-semi-space-size`, `--max-old-space-size`, ...) are per process: `new Worker` throws
 *   ERR_WORKER_INVALID_EXEC_ARGV for them (a worker's heap is sized by `resourceLimits`). Passed to the parent,
 *   they made every worker fail to start, and a snapshot reported files as not stored.
 */
const WITH_VALUE = new Set(['-e', '--eval', '-p', '--print', '--input-type']);
const PER_PROCESS = /^--(max|min)[-_](semi|old|young)[-_]space[-_]size|^--(max|initial)[-_]heap[-_]size|^--max[-_]young[-_]generation[-_]size|^--stack[-_]size/;

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
    out.push(a);
  }
  return out;
}
