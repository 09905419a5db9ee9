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
 * carries the end of its standard error.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { CommandFailedError, UsageError, describeError } from '../errors.js';
import { nameFields } from '../model/entryName.js';
import type { SnapshotProblem, SnapshotType } from '../model/manifest.js';
import { encodeTree } from '../model/tree.js';
import type { RepoContext } from '../repoContext.js';
import { changeCompressionOf } from '../repositoryConfig.js';
import type { ReadInto } from '../chunk/chunkStream.js';
import { storeBuffer, storeStream, type ContentResult } from './contentWriter.js';
import { commitSnapshot, fileSystemNow, parseSnapshotTime, validateSnapshotChoices, type SnapshotSummary } from './snapshotter.js';

export interface StreamSnapshotOptions {
  /** The file name the stream is stored under (one path component, e.g. `db.dump`). */
  name: string;
  /** The bytes to store (e.g. process.stdin). Exactly one of input and command. */
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

/** A ReadInto over a Readable: holds at most one of its chunks. */
export function readerOf(stream: Readable): ReadInto {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let pending: Buffer = Buffer.alloc(0);
  let done = false;
  return async (buf, offset, length) => {
    while (pending.length === 0) {
      if (done) return 0;
      const r = await it.next();
      if (r.done) {
        done = true;
        return 0;
      }
      pending = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    }
    const n = Math.min(length, pending.length);
    pending.copy(buf, offset, 0, n);
    pending = pending.subarray(n);
    return n;
  };
}

const STDERR_TAIL = 8 * 1024;

interface CommandRun {
  read: ReadInto;
  /** Resolves when the command has exited (after its output ended). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrTail: () => string;
  kill: () => void;
}

function runCommand(command: string, onStderr?: (chunk: Buffer) => void): CommandRun {
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = Buffer.alloc(0);
  child.stderr.on('data', (d: Buffer) => {
    onStderr?.(d);
    tail = Buffer.concat([tail, d]);
    if (tail.length > STDERR_TAIL) tail = tail.subarray(tail.length - STDERR_TAIL);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (err) => reject(new CommandFailedError(`cannot run the command: ${describeError(err)}`, { cause: err, details: { command } })));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  exited.catch(() => undefined); // observed below; never an unhandled rejection
  return {
    read: readerOf(child.stdout),
    exited,
    stderrTail: () => tail.toString('utf8'),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
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
    const run = options.command !== undefined ? runCommand(options.command, options.onCommandStderr) : undefined;
    const raw = run ? run.read : readerOf(options.input!);
    let total = 0;
    const read: ReadInto = async (buf, offset, length) => {
      const n = await raw(buf, offset, length);
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
      if (run) {
        const { code, signal } = await run.exited;
        if (code !== 0 || signal !== null) {
          const how = signal !== null ? `was killed by ${signal}` : `exited with status ${code}`;
          const said = lastLine(run.stderrTail());
          throw new CommandFailedError(`the command ${how}${said ? `: ${said}` : ''}; no snapshot was made`, {
            hint: 'its standard error is shown above; fix the command and run the snapshot again',
            details: { command: options.command, exitCode: code, signal, stderr: run.stderrTail() },
          });
        }
      }
    } catch (err) {
      run?.kill();
      await run?.exited.catch(() => undefined);
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
