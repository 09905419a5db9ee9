/**
 * Database files inside a snapshotted directory. A SQLite database is
 * rewritten in place, page by page: an update of 1% of its rows touches a few
 * percent of its pages, scattered through the file. With content-defined
 * chunks of ~1 MiB nearly every chunk holds a changed page, so a snapshot
 * after such a change stores almost the whole file again. Fixed chunks of
 * whole pages (the repository's dbChunker, aligned to the page size) store
 * only the runs of pages that changed; appended pages only add chunks.
 */
import type { ChunkerParams } from './chunkerParams.js';

/** "SQLite format 3\0": the first 16 bytes of every SQLite database file. */
export const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** Bytes of a file's start that sqlitePageSize needs. */
export const SQLITE_HEADER_BYTES = 100;

/** The page size of a SQLite database from its header, or null when `header` is not one. */
export function sqlitePageSize(header: Uint8Array): number | null {
  if (header.length < SQLITE_HEADER_BYTES || !SQLITE_MAGIC.equals(header.subarray(0, 16))) return null;
  const raw = (header[16]! << 8) | header[17]!;
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return null;
  return pageSize;
}

/**
 * The chunker for a database with pages of `pageSize` bytes: a fixed
 * configured size rounded up to whole pages (so an unchanged run of pages
 * always gives the same chunk); any other configured chunker as it is.
 */
export function pageAlignedChunker(configured: ChunkerParams, pageSize: number): ChunkerParams {
  if (configured.kind !== 'fixed') return configured;
  return { kind: 'fixed', size: configured.size <= pageSize ? pageSize : Math.ceil(configured.size / pageSize) * pageSize };
}
