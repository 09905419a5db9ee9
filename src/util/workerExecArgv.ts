/**
 * The Node options a worker thread inherits: the parent's, without those that describe the parent's own entry.
 * A worker inherits process.execArgv by default, and a parent started as `node --input-type=module -e ...` (a
 * library user's one-liner, a test) would pass `--input-type` to a worker started from a file (refused:
 * ERR_INPUT_TYPE_NOT_ALLOWED) or from source text (run as an ES module, where `require` is undefined).
 */
export function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '--input-type') {
      i++; // and its value
      continue;
    }
    if (a.startsWith('--input-type=') || a.startsWith('--eval=') || a.startsWith('--print=')) continue;
    out.push(a);
  }
  return out;
}
