import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchFlusher, type FlushItem, type TempWrite } from '../../../src/store/batchFlusher.js';
import { setOldGenerationSlack } from '../../../src/util/oldGenerationSlack.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import { tempDir } from '../../helpers.js';

const objectIdOf = (i: number) => i.toString(16).padStart(64, '0') as ObjectId;

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

/** A flush worker that fails every request with its workerData, as JSON, for its message. */
function workerDataEcho(): string {
  const d = tempDir('cairn-flusher-');
  dirs.push(d);
  const script = path.join(d, 'echo.mjs');
  fs.writeFileSync(
    script,
    "import { parentPort, workerData } from 'node:worker_threads';\nparentPort.on('message', (r) => parentPort.postMessage({ seq: r.seq, error: { message: JSON.stringify(workerData ?? null) } }));\n",
  );
  return script;
}

/** A full collection: V8's gc extension called without options (Node 20's V8 runs a minor one for { type: 'major' }). */
function fullGc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** Turns of the event loop, so that objects a WeakRef kept alive for the current job can go. */
async function turns(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

/**
 * Sends `make()`'s records with `send` to a worker that never answers, lets go of them, and checks that this thread
 * holds them no more once collected.
 */
async function expectLeftToWorker<T extends object>(make: () => T, send: (flusher: BatchFlusher, records: T) => Promise<void>): Promise<void> {
  const flusher = new BatchFlusher(silentWorker());
  let records: T | undefined = make();
  const ref = new WeakRef(records);
  const sent = send(flusher, records);
  sent.catch(() => undefined);
  records = undefined;
  await turns();
  fullGc();
  expect(ref.deref()).toBeUndefined();
  await flusher.close();
  await expect(sent).rejects.toThrow(/exited/);
}

describe('batch flusher', () => {
  // A synchronous walk reads no reply until it awaits, so whatever the main thread keeps per request until the reply
  // stays for a long time: ~25 MB of records at the end of a 100k-file first snapshot, while the worker had its own
  // copy. Both requests must leave their records to the worker once sent.
  it('keeps no batch records on this thread while the worker has the batch', async () => {
    await expectLeftToWorker(
      (): FlushItem[] => Array.from({ length: 1000 }, (_, i) => ({ tmp: `/nowhere/tmp/obj-${i}`, id: objectIdOf(i) })),
      (flusher, items) => flusher.flush(items, '/nowhere/tmp', '/nowhere/objects'),
    );
  });

  it('keeps no temp-file records on this thread while the worker writes them', async () => {
    await expectLeftToWorker(
      (): TempWrite[] => Array.from({ length: 128 }, (_, i) => ({ tmp: `/nowhere/tmp/obj-${i}`, offset: i, length: 1, id: objectIdOf(i) })),
      (flusher, temps) => flusher.writeTemps(temps, '/nowhere/objects', new SharedArrayBuffer(128), new Int32Array(new SharedArrayBuffer(4))),
    );
  });

  // The worker checks its old generation as the main thread does (flushThread.ts), only when the program turned that
  // on: the batches' records were otherwise left in its heap until it held twice what was live.
  it('has the worker check its old generation only when the program turned the check on', async () => {
    const dataOf = async (): Promise<unknown> => {
      const flusher = new BatchFlusher(workerDataEcho());
      try {
        const err = await flusher.flush([], '/nowhere/tmp', '/nowhere/objects').then(() => undefined, (e: Error) => e);
        return JSON.parse(err!.message) as unknown;
      } finally {
        await flusher.close();
      }
    };
    expect(await dataOf()).toEqual({});
    setOldGenerationSlack(32 * 1024 * 1024);
    try {
      expect(await dataOf()).toEqual({ oldGenerationSlack: 8 * 1024 * 1024 });
    } finally {
      setOldGenerationSlack(undefined);
    }
  });
});
