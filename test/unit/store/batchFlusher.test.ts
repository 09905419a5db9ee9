import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchFlusher, type FlushItem, type TempWrite } from '../../../src/store/batchFlusher.js';
import { tempDir } from '../../helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A flush worker that takes every request and never answers: the main thread's side of work in flight. */
function silentWorker(): string {
  const d = tempDir('cairn-flusher-');
  dirs.push(d);
  const script = path.join(d, 'silent.mjs');
  fs.writeFileSync(script, "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => {});\n");
  return script;
}

/** A full collection (V8's gc extension, called without options: an options object from this context is not read). */
function fullGc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** Turns of the event loop, so that objects a WeakRef kept alive for the current job can go. */
async function turns(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

describe('batch flusher', () => {
  // A synchronous walk reads no reply until it awaits, so whatever the main thread keeps per request until the reply
  // stays for a long time: ~25 MB of records at the end of a 100k-file first snapshot, while the worker had its own
  // copy. Both requests must leave their records to the worker once sent.
  it('keeps no batch records on this thread while the worker has the batch', async () => {
    const flusher = new BatchFlusher(silentWorker());
    let items: FlushItem[] | undefined = Array.from({ length: 1000 }, (_, i) => ({ tmp: `/nowhere/tmp/obj-${i}`, dest: `/nowhere/objects/${i}`, dir: '/nowhere/objects' }));
    const ref = new WeakRef(items);
    const sent = flusher.flush(items, '/nowhere/tmp', '/nowhere/objects');
    sent.catch(() => undefined);
    items = undefined;
    await turns();
    fullGc();
    expect(ref.deref()).toBeUndefined();
    await flusher.close();
    await expect(sent).rejects.toThrow(/exited/);
  });

  it('keeps no temp-file records on this thread while the worker writes them', async () => {
    const flusher = new BatchFlusher(silentWorker());
    let temps: TempWrite[] | undefined = Array.from({ length: 128 }, (_, i) => ({ tmp: `/nowhere/tmp/obj-${i}`, offset: i, length: 1, dir: '/nowhere/objects' }));
    const ref = new WeakRef(temps);
    const sent = flusher.writeTemps(temps, new SharedArrayBuffer(128), new Int32Array(new SharedArrayBuffer(4)));
    sent.catch(() => undefined);
    temps = undefined;
    await turns();
    fullGc();
    expect(ref.deref()).toBeUndefined();
    await flusher.close();
    await expect(sent).rejects.toThrow(/exited/);
  });
});
