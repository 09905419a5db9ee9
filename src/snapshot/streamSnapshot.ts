/**
 * Snapshots of a byte stream: standard input, or the output of a command
 * (`pg_dump -Fc ...`). A stream snapshot is a manifest of kind `stream` whose
 * source is `stream:NAME` (each name has its own HEAD and history) and whose
 * tree holds one file entry NAME, so `cairn cat <ref>:NAME` streams it back.
 *
 * The stream is chunked as it arrives (content-defined chunks, so a dump that
 * changed a little shares most chunks with the last one) in bounded memory
 * whatever its size. A command that exits non-zero or is killed leaves no
 * snapshot: its chunks stay unreferenced (prune removes them) and the error
 * carries the end of its standard error. A snapshot that fails while the
 * command runs (a full disk) or is interrupted (`signal`) stops the command
 * and everything it started (commandRun.ts) before it throws.
 */
import type { Readable } from 'node:stream';
import { InterruptedError, UsageError } from '../errors.js';
import { nameFields } from '../model/entryName.js';
import type { SnapshotProblem, SnapshotType } from '../model/manifest.js';
import { encodeTree } from '../model/tree.js';
import type { RepoContext } from '../repoContext.js';
import { changeCompressionOf } from '../repositoryConfig.js';
import type { ReadInto } from '../chunk/chunkStream.js';
import { readerOf } from '../chunk/readerOf.js';
import { startCommand } from './commandRun.js';
import { storeBuffer, storeStream, type ContentResult } from './contentWriter.js';
import { commitSnapshot, fileSystemNow, parseSnapshotTime, validateSnapshotChoices, type SnapshotSummary } from './snapshotter.js';

export interface StreamSnapshotOptions {
  /** The file name the stream is stored under (one path component, e.g. `db.dump`). */
  name: string;
  /** The bytes to store (e.g. process.stdin). Exactly one of input and command. Destroyed when the snapshot fails before its end. */
  input?: Readable;
  /** A shell command (run with /bin/sh -c) whose standard output is stored. */
  command?: string;
  message?: string;
  type?: SnapshotType;
  /** Record this time instead of now (ISO-8601). */
  time?: string;
  /** The command's standard error as it arrives (the CLI passes it through). */
  onCommandStderr?: (chunk: Buffer) => void;
  onProgress?: (bytes: number) => void;
  /**
   * Aborting it stops the snapshot (the CLI aborts on SIGINT/SIGTERM): the command and what it started are
   * ended, nothing is committed, and the snapshot throws InterruptedError. Honoured until the stream has been
   * read and the command has exited; the commit that follows is not interrupted.
   */
  signal?: AbortSignal;
}

/** What manifest.extra holds for a stream snapshot. */
export interface StreamSnapshotExtra {
  stream: string;
  input: 'stdin' | 'command';
  command?: string;
  chunks: number;
}

export const STREAM_SOURCE_PREFIX = 'stream:';

/** The history source of a stream name. */
export function streamSource(name: string): string {
  return `${STREAM_SOURCE_PREFIX}${name}`;
}

export function validateStreamName(name: string | undefined): string {
  if (name === undefined || name === '') throw new UsageError('a stream snapshot needs --name NAME', { hint: 'e.g. --name db.dump (the file name `cairn cat <ref>:NAME` uses)' });
  if (name.includes('/') || name.includes('\0') || name === '.' || name === '..') {
    throw new UsageError(`--name "${name}" must be a plain file name`, { hint: 'no "/", and not "." or ".."' });
  }
  return name;
}

/** A promise that rejects with InterruptedError when `signal` aborts (never settles otherwise). */
function abortedBy(signal: AbortSignal | undefined, what: string): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    const fail = () => {
      const by = typeof signal?.reason === 'string' ? ` by ${signal.reason}` : '';
      reject(new InterruptedError(`interrupted${by}: ${what}; no snapshot was made`, { details: by ? { signal: signal!.reason } : {} }));
    };
    if (signal?.aborted) fail();
    else signal?.addEventListener('abort', fail, { once: true });
  });
  p.catch(() => undefined); // observed by the reads that race it
  return p;
}

/** Stores a stream as a snapshot; no snapshot unless the whole stream arrived and the command succeeded. */
export async function takeStreamSnapshot(ctx: RepoContext, options: StreamSnapshotOptions): Promise<SnapshotSummary> {
  validateSnapshotChoices(undefined, options.type);
  const name = validateStreamName(options.name);
  if ((options.input === undefined) === (options.command === undefined)) {
    throw new UsageError('a stream snapshot reads either standard input or a command, not both and not neither', { hint: 'use --stdin or --from-command "CMD"' });
  }
  if (options.command !== undefined && options.command.trim() === '') throw new UsageError('--from-command needs a command');
  const started = Date.now();
  const time = parseSnapshotTime(options.time);
  const source = streamSource(name);
  return ctx.withLock('snapshot', false, async () => {
    const run = options.command !== undefined ? startCommand(options.command, { ...(options.onCommandStderr ? { onStderr: options.onCommandStderr } : {}), onWarning: ctx.warn }) : undefined;
    const raw = run ? run.read : readerOf(options.input!);
    const interrupted = abortedBy(options.signal, run ? 'the command was stopped' : 'standard input was not read to its end');
    let total = 0;
    const read: ReadInto = async (buf, offset, length) => {
      const next = raw(buf, offset, length);
      next.catch(() => undefined); // lost to an interruption: settled (or never) after the snapshot failed
      const n = await Promise.race([next, interrupted]);
      total += n;
      options.onProgress?.(total);
      return n;
    };
    let content: ContentResult;
    try {
      // A stream stored before under this name is a changed one: its new chunks get the change codec.
      const changed = ctx.index.latest(source) !== undefined;
      // Parallel: a stream's size is not known before it ends, and streams are mostly database dumps.
      content = await storeStream(ctx.store, read, ctx.config.chunker, { parallel: true, ...(changed ? { compression: changeCompressionOf(ctx.config) } : {}) });
      if (run) await Promise.race([run.finish(), interrupted]);
    } catch (err) {
      // Never a wait on the command's pipes or on its 'close': stop() ends its whole process group and gives up
      // on what it cannot end.
      await run?.stop();
      options.input?.destroy(); // not read further: no pending read may keep the process waiting on its writer
      await ctx.store.abort();
      throw err;
    }
    const warnings: SnapshotProblem[] = [];
    if (content.size === 0) {
      const message = run ? 'the command wrote nothing to its standard output' : 'standard input was empty';
      warnings.push({ path: name, message });
      ctx.warn(`${name}: ${message}`);
    }
    const tree = await storeBuffer(
      ctx.store,
      encodeTree([{ ...nameFields(Buffer.from(name, 'utf8')), type: 'file', mode: 0o600, mtime: (BigInt(time.getTime()) * 1_000_000n).toString(), size: content.size, chunks: content.chunks }]),
    );
    const extra: StreamSnapshotExtra = {
      stream: name,
      input: run ? 'command' : 'stdin',
      ...(options.command !== undefined ? { command: options.command } : {}),
      chunks: content.chunks.length,
    };
    return commitSnapshot(ctx, {
      kind: 'stream',
      source,
      tree: tree.chunks[0]!,
      mode: 'full',
      base: null,
      type: options.type ?? 'manual',
      message: options.message ?? '',
      time,
      scanStart: await fileSystemNow(ctx.tmpDir),
      counts: {
        files: 1,
        dirs: 0,
        symlinks: 0,
        bytes: content.size,
        bytesRead: content.size,
        filesRead: 1,
        newObjects: content.newObjects + tree.newObjects,
        newBytes: content.newBytes + tree.newBytes,
      },
      started,
      errors: [],
      warnings,
      extra: { ...extra },
    });
  });
}
