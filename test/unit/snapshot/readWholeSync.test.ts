import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { READ_SCRATCH_MAX, readWholeSync, type ReadScratch } from '../../../src/snapshot/treeBuilder.js';
import { tempDir } from '../../helpers.js';

const dir = tempDir('cairn-readwhole-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function readWith(content: Uint8Array, expected: number, scratch?: ReadScratch): Buffer {
  const p = path.join(dir, 'f');
  fs.writeFileSync(p, content);
  const fd = fs.openSync(p, 'r');
  try {
    return readWholeSync(fd, expected, scratch);
  } finally {
    fs.closeSync(fd);
  }
}

describe('readWholeSync', () => {
  it('reads the whole file whatever size the stat said (same, smaller: it grew, larger: it shrank)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), fc.nat({ max: 140_000 }), (content, expected) => {
        expect(readWith(content, expected).equals(Buffer.from(content))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('reads into a reused buffer the same, growing it when a file is larger (the result a view of it)', () => {
    const scratch: ReadScratch = { buf: Buffer.alloc(16) };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), fc.nat({ max: 140_000 }), (content, expected) => {
        const got = readWith(content, expected, scratch);
        expect(got.equals(Buffer.from(content))).toBe(true);
        // Read within what the stat said: a view of the scratch buffer, which is big enough for it and one byte more.
        if (content.length <= expected) {
          expect(got.buffer).toBe(scratch.buf.buffer);
          expect(scratch.buf.length).toBeGreaterThan(expected);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('gives a file larger than READ_SCRATCH_MAX (one that grew while read) a buffer of its own, the scratch left as it was', () => {
    const scratch: ReadScratch = { buf: Buffer.alloc(16) };
    const before = scratch.buf;
    const content = Buffer.alloc(READ_SCRATCH_MAX + 10, 7);
    const got = readWith(content, content.length, scratch);
    expect(got.equals(content)).toBe(true);
    expect(got.buffer).not.toBe(scratch.buf.buffer);
    expect(scratch.buf).toBe(before);
  });

  it('takes a read that stops short at the stated size as the end, without a read of 0 after it', () => {
    // A FIFO opened for reading and writing without blocking: after the bytes written to it, a further read fails
    // with EAGAIN instead of returning 0, so a read past the stated size shows.
    const fifo = path.join(dir, 'fifo');
    fs.rmSync(fifo, { force: true });
    execFileSync('mkfifo', [fifo]);
    const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    try {
      for (const scratch of [undefined, { buf: Buffer.alloc(16) }]) {
        fs.writeSync(fd, Buffer.from('twenty-one bytes here'));
        expect(readWholeSync(fd, 21, scratch).toString()).toBe('twenty-one bytes here');
      }
    } finally {
      fs.closeSync(fd);
      fs.rmSync(fifo, { force: true });
    }
  });

  it('reads empty files, and a file that grew from empty', () => {
    expect(readWith(new Uint8Array(0), 0).length).toBe(0);
    expect(readWith(new Uint8Array(0), 10).length).toBe(0);
    expect(readWith(Buffer.from('grew'), 0).toString()).toBe('grew');
    expect(readWith(Buffer.from('exactly'), 7).toString()).toBe('exactly');
    expect(readWith(Buffer.from('grew by one'), 10).toString()).toBe('grew by one');
  });
});
