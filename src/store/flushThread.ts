/**
 * The worker side of BatchFlusher (batchFlusher.ts): makes batches of staged objects durable and moves them into
 * place (batchDurable.ts), and writes small objects' temp files from groups the main thread copied into shared
 * buffers (their stored forms, after a process's first few hundred; see FsObjectStore.deferWrite).
 *
 * A written group's shard directories are made at once too, best effort, so that the batch that renames its
 * objects (the one a snapshot waits for at its end) finds them made.
 *
 * Temp files are written as soon as their group comes, also while a batch is being made durable (its `sync -f`
 * is awaited, and the event loop turns every few hundred renames); a batch's own temp files were sent before it,
 * so they are written before it starts. Batches are taken one at a time in the order they come, and a batch sent
 * after one that failed fails too, so that no object is ever in place before those put before it (a tree before
 * its files).
 *
 * Runs as a worker_threads entry: dist/src/store/flushThread.js for the library, dist/bin/cairn-flusher.cjs in the
 * CLI's bundle.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkOldGenerationSlack } from '../util/oldGenerationSlack.js';
import { makeBatchDurable, makeShardDir } from './batchDurable.js';
import type { FlusherData, FlusherReply, FlusherRequest } from './batchFlusher.js';
import { objectShardDir } from './objectPath.js';
import { ShardDirSet } from './shardDirSet.js';
import { writeStagedFileSync } from './stagedFile.js';

const port = parentPort;
if (!port) throw new Error('flushThread.js is a worker thread entry');

type BatchRequest = Extract<FlusherRequest, { type: 'batch' }>;
type TempsRequest = Extract<FlusherRequest, { type: 'temps' }>;

function reply(r: FlusherReply): void {
  port!.postMessage(r);
}

function errorOf(err: unknown, index?: number): NonNullable<FlusherReply['error']> {
  const e = err as NodeJS.ErrnoException;
  return { message: e.message, ...(e.code !== undefined ? { code: e.code } : {}), ...(e.path !== undefined ? { path: e.path } : {}), ...(index !== undefined ? { index } : {}) };
}

/** Shard directories this thread has made or found (by writeTemps and by the batches), for its whole life. */
const made = new ShardDirSet();

// Each temp file is its stored form, a codec byte and the payload after it in the shared buffer, written as
// writeStagedFileSync writes every temp file (a file that fails is removed).
function writeTemps(req: TempsRequest): void {
  const bytes = Buffer.from(req.shared);
  for (let i = 0; i < req.temps.length; i++) {
    const t = req.temps[i]!;
    try {
      writeStagedFileSync(t.tmp, bytes[t.offset]!, bytes.subarray(t.offset + 1, t.offset + t.length));
    } catch (err) {
      reply({ seq: req.seq, error: errorOf(err, i) });
      return;
    }
  }
  Atomics.store(req.written, 0, 1); // the buffer is free: seen before this reply (see FsObjectStore.sentGroups)
  // Their shard directories, made now rather than in the batch that renames them, which the snapshot waits for
  // at its end. Best effort: the batch makes a directory that could not be made here, or reports why it cannot.
  for (const t of req.temps) {
    try {
      makeShardDir(objectShardDir(req.root, t.id), made);
    } catch {
      // left to the batch
    }
  }
  reply({ seq: req.seq });
}
const failed = new Set<number>();
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function flushBatch(req: BatchRequest): Promise<void> {
  if (req.after !== undefined && failed.has(req.after)) {
    failed.add(req.seq);
    reply({ seq: req.seq, error: { message: 'an earlier batch of objects could not be stored' } });
    return;
  }
  try {
    await makeBatchDurable(req.items, req.tempDir, req.root, made, turn);
    reply({ seq: req.seq });
  } catch (err) {
    failed.add(req.seq);
    reply({ seq: req.seq, error: errorOf(err) });
  }
}

const batches: BatchRequest[] = [];
let flushing = false;
async function flushBatches(): Promise<void> {
  flushing = true;
  while (batches.length > 0) await flushBatch(batches.shift()!);
  flushing = false;
}

/** See batchFlusher.ts, FLUSHER_OLD_GENERATION_SLACK. */
const slack = (workerData as FlusherData | undefined)?.oldGenerationSlack;

port.on('message', (req: FlusherRequest) => {
  if (slack !== undefined) checkOldGenerationSlack(slack);
  if (req.type === 'temps') return writeTemps(req);
  batches.push(req);
  if (!flushing) void flushBatches();
});
