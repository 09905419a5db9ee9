import * as fs from 'node:fs';

/** Writes all of `bufs` at the descriptor's position (writev on the thread pool, repeated after a short write). */
export function writeAll(fd: number, bufs: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (rest: Buffer[]): void => {
      fs.writev(fd, rest, (err, n) => {
        if (err) return reject(err);
        while (rest.length > 0 && n >= rest[0]!.length) {
          n -= rest[0]!.length;
          rest = rest.slice(1);
        }
        if (rest.length === 0) return resolve();
        rest = [rest[0]!.subarray(n), ...rest.slice(1)];
        step(rest);
      });
    };
    step(bufs);
  });
}
