/**
 * A scratch object writer: names every object it is given, as a store would,
 * but keeps in memory only those `keep` selects and writes nothing to disk.
 * `cairn diff REF` builds the tree of a directory on disk through it, so the
 * repository is never written to and file contents are hashed, not kept.
 * Reads of objects it does not hold fall through to `fallback`.
 */
import { IntegrityError } from '../errors.js';
import { sha256Hex } from '../util/hash.js';
import type { ObjectId } from './objectId.js';
import type { ObjectReader, PutResult, SyncObjectWriter } from './objectStore.js';

export class ScratchObjectWriter implements SyncObjectWriter {
  readonly needsFlush = false;
  private readonly kept = new Map<ObjectId, Buffer>();
  private readonly named = new Set<ObjectId>();

  constructor(
    private readonly keep: (content: Buffer) => boolean,
    private readonly fallback: ObjectReader | null = null,
  ) {}

  async put(content: Buffer, knownId?: ObjectId): Promise<PutResult> {
    return this.putSync(content, knownId ?? (sha256Hex(content) as ObjectId));
  }

  putSync(content: Buffer, id: ObjectId): PutResult {
    const written = !this.named.has(id);
    this.named.add(id);
    if (written && this.keep(content)) this.kept.set(id, Buffer.from(content));
    return { id, written, storedBytes: 0 };
  }

  /** The bytes of a kept object, or undefined. */
  peek(id: ObjectId): Buffer | undefined {
    return this.kept.get(id);
  }

  async get(id: ObjectId): Promise<Buffer> {
    const hit = this.kept.get(id);
    if (hit) return hit;
    if (this.fallback) return this.fallback.get(id);
    throw new IntegrityError(`object ${id} is not held by the scratch writer`, { details: { object: id } });
  }

  async has(id: ObjectId): Promise<boolean> {
    return this.named.has(id) || (this.fallback ? this.fallback.has(id) : false);
  }

  async storedSize(id: ObjectId): Promise<number | undefined> {
    return this.kept.get(id)?.length ?? (this.fallback ? this.fallback.storedSize(id) : undefined);
  }

  async *list(): AsyncIterable<ObjectId> {
    yield* this.kept.keys();
  }

  async flush(_options?: { wait?: boolean }): Promise<void> {}

  async delete(id: ObjectId): Promise<void> {
    this.kept.delete(id);
    this.named.delete(id);
  }
}
