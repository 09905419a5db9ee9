/** Writing an object's stored form to its temp file, as its codec byte and payload (no framed copy). */
// Nothing from objectCodec.ts here: the flush worker writes temp files with this, and that module loads snappy
// (~10 MiB more of the worker's peak RSS).
import * as fs from 'node:fs';
import { writeAllSync } from '../util/durableFs.js';

/**
 * Creates `tmp` (it must not exist) holding the codec byte and then `payload`; on failure the partial file is
 * removed and the error rethrown. `beforeWrite` runs with the file open (a test's fault point).
 */
export function writeStagedFileSync(tmp: string, codec: number, payload: Uint8Array, beforeWrite?: () => void): void {
  const fd = fs.openSync(tmp, 'wx');
  try {
    beforeWrite?.();
    writeAllSync(fd, [Buffer.of(codec), payload]);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
}
