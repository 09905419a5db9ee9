/** Writing an object's stored form to its temp file, as its codec byte and payload (no framed copy). */
// Nothing from objectCodec.ts here: the flush worker writes temp files with this, and that module loads snappy
// (~10 MiB more of the worker's peak RSS).
import * as fs from 'node:fs';

/**
 * Creates `tmp` (it must not exist) holding the codec byte and then `payload`; on failure the partial file is
 * removed and the error rethrown. `beforeWrite` runs with the file open (a test's fault point).
 */
export function writeStagedFileSync(tmp: string, codec: number, payload: Uint8Array, beforeWrite?: () => void): void {
  const fd = fs.openSync(tmp, 'wx');
  try {
    beforeWrite?.();
    const parts: Uint8Array[] = [Buffer.of(codec), payload];
    let left = 1 + payload.length;
    // writev may write less than asked (a signal, a nearly full disk): go on from where it stopped.
    while (left > 0) {
      let n = fs.writevSync(fd, parts);
      left -= n;
      while (n > 0) {
        const first = parts[0]!;
        if (n >= first.length) {
          n -= first.length;
          parts.shift();
        } else {
          parts[0] = first.subarray(n);
          n = 0;
        }
      }
    }
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
}
