/**
 * A large file's chunks read on two threads (Materializer.writeFileShared):
 * groups go to the store's group reader (a worker in the built CLI, a fake
 * here) while this thread reads others, and the file must come out byte for
 * byte whatever order and delay the answers come in, whichever groups the
 * reader gives up on, with at most two groups on the reader at once; a group
 * the reader gave up on that cannot be read here either fails the file with
 * the store's error.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../../src/errors.js';
import type { TreeEntry } from '../../../src/model/tree.js';
import { Materializer, SHARED_READ_MAX_CHUNK, SHARED_READ_MIN } from '../../../src/ops/materialize.js';
import type { RepoContext } from '../../../src/repoContext.js';
import type { ObjectId } from '../../../src/store/objectId.js';
import type { ObjectGroupReader } from '../../../src/store/objectStore.js';
import { tempDir } from '../../helpers.js';

const root = tempDir('cairn-materialize-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const KiB = 1024;
let files = 0;

/** Distinct chunk contents (ids are their SHA-256), from which files are made. */
const pool: Buffer[] = Array.from({ length: 24 }, (_, i) => {
  const b = Buffer.alloc(8 * KiB + i * 2 * KiB);
  for (let j = 0; j < b.length; j++) b[j] = (j * 31 + i * 7 + (j >> 9)) & 0xff;
  return b;
});
const byId = new Map<string, Buffer>(pool.map((b) => [createHash('sha256').update(b).digest('hex'), b]));
const ids = [...byId.keys()] as ObjectId[];

interface Plan {
  /** Indexes into ids: the file's chunks. */
  chunks: number[];
  /** Per read() call, in order: how the fake reader answers (delay in ms, or give up). */
  answers: Array<{ delay: number; giveUp: boolean }>;
}

interface Fake {
  ctx: RepoContext;
  maxOnReader: () => number;
  reads: () => number;
  /** Buffers the reader gave and the writer has not handed back. */
  unreleased: () => number;
  released: () => number;
  /** The groups of the reader's first two read() calls. */
  firstGroups: Array<readonly ObjectId[]>;
}

function fakeContext(plan: Plan, damaged?: string): Fake {
  let onReader = 0;
  let most = 0;
  let calls = 0;
  let released = 0;
  const given = new Set<Buffer>();
  const firstGroups: Array<readonly ObjectId[]> = [];
  const reader: ObjectGroupReader = {
    read(group) {
      if (firstGroups.length < 2) firstGroups.push(group);
      const a = plan.answers[calls++ % plan.answers.length]!;
      onReader++;
      most = Math.max(most, onReader);
      return new Promise((resolve) => {
        const answer = (): void => {
          onReader--;
          if (a.giveUp || group.includes(damaged as ObjectId)) resolve(undefined);
          else {
            const content = Buffer.concat(group.map((id) => byId.get(id)!));
            given.add(content);
            resolve(content);
          }
        };
        if (a.delay === 0) setImmediate(answer);
        else setTimeout(answer, a.delay);
      });
    },
    // A released buffer is emptied, as a transferred one is: released before its write completes, the file would
    // hold zeros there.
    release(content) {
      expect(given.has(content)).toBe(true);
      given.delete(content);
      content.fill(0);
      released++;
    },
  };
  const store = {
    getSync(id: ObjectId): Buffer {
      if (id === damaged) throw new IntegrityError(`object ${id} is corrupted`, { details: { object: id } });
      return byId.get(id)!;
    },
    useSync<T>(id: ObjectId, use: (content: Buffer) => T): T {
      return use(store.getSync(id));
    },
    groupReader: () => reader,
  };
  return { ctx: { store } as unknown as RepoContext, maxOnReader: () => most, reads: () => calls, unreleased: () => given.size, released: () => released, firstGroups };
}

function entryOf(plan: Plan): { entry: TreeEntry; content: Buffer } {
  const content = Buffer.concat(plan.chunks.map((i) => pool[i]!));
  const entry: TreeEntry = { name: 'f', type: 'file', mode: 0o644, mtime: '0', size: content.length, chunks: plan.chunks.map((i) => ids[i]!) };
  return { entry, content };
}

// Enough small chunks (8-54 KiB) for a file over the two-thread threshold (16 MiB), in groups of ~1 MiB (~33 chunks).
const planArb = fc.record({
  chunks: fc.array(fc.nat({ max: pool.length - 1 }), { minLength: 600, maxLength: 800 }),
  answers: fc.array(fc.record({ delay: fc.constantFrom(0, 0, 1, 3), giveUp: fc.integer({ min: 0, max: 4 }).map((n) => n === 0) }), {
    minLength: 1,
    maxLength: 12,
  }),
});

describe('writing a large file with a group reader', () => {
  it('writes every byte in order, whatever the reader answers and when, with at most two groups on it, the file\'s last two first, handing its buffers back once written', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        const { entry, content } = entryOf(plan);
        fc.pre(content.length >= SHARED_READ_MIN && content.length <= SHARED_READ_MAX_CHUNK * plan.chunks.length);
        const { ctx, maxOnReader, reads, unreleased, firstGroups } = fakeContext(plan);
        const out = path.join(root, `f${files++}`);
        await new Materializer(ctx).writeFile(entry, Buffer.from(out), 'f');
        expect(fs.readFileSync(out).equals(content)).toBe(true);
        expect(reads()).toBeGreaterThan(0);
        expect(maxOnReader()).toBeLessThanOrEqual(2);
        // The reader's first groups are the file's last two (it starts while this thread reads from the front).
        expect(firstGroups[0]!.at(-1)).toBe(entry.chunks!.at(-1));
        expect([...firstGroups[1]!, ...firstGroups[0]!]).toEqual(entry.chunks!.slice(-(firstGroups[0]!.length + firstGroups[1]!.length)));
        // Every buffer the reader gave was handed back, once written (the writer asks only for groups it writes).
        expect(unreleased()).toBe(0);
        fs.rmSync(out);
      }),
      { numRuns: 20 },
    );
  });

  it('a group read here larger than its buffer (chunks larger than the file\'s average) is written whole, and buffers are reused', async () => {
    // Small chunks, then the largest: the groups of large chunks hold ~1.7 MiB, past a group buffer's 1.25 MiB.
    const small = pool.map((b, i) => [b.length, i] as const).sort((a, b) => a[0] - b[0]);
    const chunks = [...Array.from({ length: 350 }, () => small[0]![1]), ...Array.from({ length: 350 }, () => small[small.length - 1]![1])];
    const plan: Plan = { chunks, answers: [{ delay: 0, giveUp: true }] };
    const { entry, content } = entryOf(plan);
    expect(content.length).toBeGreaterThanOrEqual(SHARED_READ_MIN);
    const { ctx } = fakeContext(plan);
    const out = path.join(root, 'grown');
    await new Materializer(ctx).writeFile(entry, Buffer.from(out), 'f');
    expect(fs.readFileSync(out).equals(content)).toBe(true);
  });

  it('fails with the store error when a group the reader gave up on cannot be read here, after every group settled', async () => {
    const plan: Plan = { chunks: Array.from({ length: 700 }, (_, i) => i % pool.length), answers: [{ delay: 1, giveUp: false }] };
    expect(entryOf(plan).content.length).toBeGreaterThanOrEqual(SHARED_READ_MIN);
    expect(entryOf(plan).content.length).toBeLessThanOrEqual(SHARED_READ_MAX_CHUNK * plan.chunks.length);
    const { entry } = entryOf(plan);
    for (const at of [3, 350, 699]) {
      const { ctx } = fakeContext(plan, entry.chunks![at]);
      const out = path.join(root, `bad${at}`);
      const err = await new Materializer(ctx).writeFile(entry, Buffer.from(out), 'data/f').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toBe(`cannot restore data/f: object ${entry.chunks![at]} is corrupted`);
    }
  });
});
