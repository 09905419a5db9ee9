import * as fs from 'node:fs';

/**
 * Writes all of `bufs` (writev on the thread pool, repeated after a short write): at the descriptor's position, or
 * at file offset `position` when given (the descriptor's position then does not move).
 */
export function writeAll(fd: number, bufs: Buffer[], position?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (rest: Buffer[], at: number | undefined): void => {
      const done = (err: NodeJS.ErrnoException | null, n: number): void => {
        if (err) return reject(err);
        const next = at === undefined ? undefined : at + n;
        while (rest.length > 0 && n >= rest[0]!.length) {
          n -= rest[0]!.length;
          rest = rest.slice(1);
        }
        if (rest.length === 0) return resolve();
        step([rest[0]!.subarray(n), ...rest.slice(1)], next);
      };
      if (at === undefined) fs.writev(fd, rest, done);
      else fs.writev(fd, rest, at, done);
    };
    step(bufs, position);
  });
}

/** All of `buf` written at the descriptor's position, on this thread (write(2) repeated after a short write). */
export function writeAllSync(fd: number, buf: Uint8Array): void {
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off, buf.length - off);
}
