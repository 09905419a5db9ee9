/**
 * Rendering: compute once, print as JSON (one document on stdout) or as text. Progress and warnings go to stderr.
 * Text views print names through quoteName and free text through escapeControls (src/util/quoteName.ts), so no
 * name or message from the file system or a repository reaches the terminal with its control characters raw;
 * warnings, progress lines and error lines are escaped here as a whole, whatever their maker did.
 */
import { escapeControls, humanBytes, jsonText } from '../src/index.js';

export { jsonText };

/** The one error line (and its hint) printed on stderr: `cairn: MESSAGE` and `  hint: HINT`. */
export function errorLines(err: { message: string; hint?: string | undefined }): string {
  return `cairn: ${escapeControls(err.message)}${err.hint ? `\n  hint: ${escapeControls(err.hint)}` : ''}\n`;
}

export interface Output {
  json: boolean;
  /** Prints the command's result: `data` as JSON, or `text()` as lines. */
  emit(data: unknown, text: () => string | string[]): void;
  warn(message: string): void;
  /** A progress line (or a function making it, called only when the line is shown: at most every 150 ms, on a TTY). */
  progress(line: string | (() => string)): void;
  endProgress(): void;
}

export function createOutput(json: boolean): Output {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let shown = false;
  return {
    json,
    emit(data, text) {
      if (json) {
        process.stdout.write(`${jsonText(data, 2)}\n`);
        return;
      }
      const t = text();
      const lines = Array.isArray(t) ? t : [t];
      if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
    },
    warn(message) {
      if (shown) this.endProgress();
      process.stderr.write(`cairn: warning: ${escapeControls(message)}\n`);
    },
    progress(line) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 150) return;
      last = now;
      const width = process.stderr.columns ?? 100;
      const text = escapeControls(typeof line === 'string' ? line : line());
      process.stderr.write(`\r\x1b[K${text.slice(0, width - 1)}`);
      shown = true;
    },
    endProgress() {
      if (tty && shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

/**
 * Writes text to stdout in pieces of about 64 KiB, waiting for the pipe to take each one: for output produced as it
 * is read (a recursive listing), which is never held whole. A closed pipe ends the process (main.ts).
 */
export function stdoutWriter(): { write(text: string): Promise<void>; end(): Promise<void> } {
  let parts: string[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (parts.length === 0) return;
    const text = parts.join('');
    parts = [];
    size = 0;
    if (!process.stdout.write(text)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  };
  return {
    async write(text) {
      parts.push(text);
      size += text.length;
      if (size >= 64 * 1024) await flush();
    },
    end: flush,
  };
}

/**
 * A JSON document `{ ...head, [key]: [items] }` written as the items come, exactly as jsonText(document, 2) would
 * write it whole (so `--json` output does not change with streaming). If the items' iteration throws, the
 * document stays cut short and the error is thrown: the exit status (and the error document after it) says so.
 */
export async function writeJsonStream(head: Record<string, unknown>, key: string, items: AsyncIterable<unknown>): Promise<void> {
  const out = stdoutWriter();
  const open = jsonText({ ...head, [key]: [] }, 2);
  // `{ ...head, "key": [] }` pretty-printed ends with `"key": []\n}`: the items go between the brackets.
  const cut = open.lastIndexOf('[]');
  await out.write(open.slice(0, cut + 1));
  let first = true;
  try {
    for await (const item of items) {
      await out.write(`${first ? '\n' : ',\n'}${jsonText(item, 2).replace(/^/gm, '    ')}`);
      first = false;
    }
  } finally {
    await out.end();
  }
  await out.write(`${first ? '' : '\n  '}${open.slice(cut + 1)}\n`);
  await out.end();
}

/** Bytes for people (the library's formatter, so messages and output agree). */
export const formatBytes = humanBytes;

export function formatTime(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function formatMode(type: string, mode: number): string {
  const t = type === 'dir' ? 'd' : type === 'symlink' ? 'l' : '-';
  const bits = ['r', 'w', 'x'];
  let s = t;
  for (let i = 8; i >= 0; i--) s += mode & (1 << i) ? bits[(8 - i) % 3] : '-';
  return s;
}
