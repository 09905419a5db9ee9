/** The repository config (config.json): format constants written at init and read back, never assumed. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CDC, validateChunkerParams, type ChunkerParams } from './chunk/chunkerParams.js';
import { COMPRESSIONS, type Compression } from './store/objectCodec.js';
import { IntegrityError, NoRepositoryError, UnsupportedFormatError, isErrno } from './errors.js';
import { writeFileAtomicSync } from './util/durableFs.js';
import { quoteName } from './util/quoteName.js';

export const FORMAT_VERSION = 1;
export const CONFIG_FILE = 'config.json';

export interface RepositoryConfig {
  format: number;
  id: string;
  createdAt: string;
  hash: 'sha256';
  layout: { objects: 'objects/<2>/<2>/<64>' };
  /** What new objects are compressed with; objects of every codec stay readable whatever this says. */
  compression: Compression;
  /**
   * What the new objects of a changed file are compressed with (a file that was
   * in the base snapshot, or a database snapshotted before). They are a small
   * part of a snapshot but are kept for every snapshot after it, so a codec
   * that is slower and smaller pays. Absent in repositories made before it
   * existed: they use `compression` for everything.
   */
  changeCompression?: Compression;
  /**
   * Files up to this many bytes are held in their directory's tree instead of
   * as objects of their own (0: none; at most INLINE_MAX_LIMIT). Absent in
   * repositories made before it existed: none.
   */
  inlineMax?: number;
  chunker: ChunkerParams;
  /** Chunking for database files: fixed chunks of this size rounded up to whole pages (default 8 KiB: two 4 KiB pages, big enough to be compressed). */
  dbChunker: ChunkerParams;
  /** Anything later issues add (retention policy, ...). */
  [key: string]: unknown;
}

/** The codec a changed file's new objects get when init is not told: deflate when the fast codec is snappy. */
export function defaultChangeCompression(compression: Compression): Compression {
  return compression === 'snappy' ? 'deflate' : compression;
}

/** The codec for a changed file's new objects (see RepositoryConfig.changeCompression). */
export function changeCompressionOf(cfg: RepositoryConfig): Compression {
  return cfg.changeCompression ?? cfg.compression;
}

/** The largest inlineMax a config may name. */
export const INLINE_MAX_LIMIT = 65536;
/** inlineMax of a new repository: a file system block. */
export const DEFAULT_INLINE_MAX = 4096;

export function defaultConfig(
  compression: Compression = 'snappy',
  changeCompression: Compression = defaultChangeCompression(compression),
  inlineMax: number = DEFAULT_INLINE_MAX,
): RepositoryConfig {
  return {
    format: FORMAT_VERSION,
    id: randomBytes(16).toString('hex'),
    createdAt: new Date().toISOString(),
    hash: 'sha256',
    layout: { objects: 'objects/<2>/<2>/<64>' },
    compression,
    changeCompression,
    inlineMax,
    chunker: { ...DEFAULT_CDC },
    dbChunker: { kind: 'fixed', size: 8192 },
  };
}

export function readConfig(repoDir: string): RepositoryConfig {
  const file = path.join(repoDir, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      // --repo naming a workspace (the directory holding .cairn/) rather than its repository
      const inner = path.join(repoDir, '.cairn');
      const hint = fs.existsSync(path.join(inner, CONFIG_FILE)) ? `${repoDir} is a workspace: its repository is ${inner} (or run cairn inside the workspace without --repo)` : 'run `cairn init` first';
      throw new NoRepositoryError(`${quoteName(repoDir)} is not a cairn repository (no ${CONFIG_FILE})`, { hint });
    }
    throw err;
  }
  let cfg: RepositoryConfig;
  try {
    cfg = JSON.parse(text) as RepositoryConfig;
  } catch (err) {
    throw new IntegrityError(`${quoteName(file)} is not valid JSON`, { cause: err });
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new IntegrityError(`${quoteName(file)} is not a cairn configuration (not a JSON object)`, { hint: 'restore it from a backup, or put back its keys as docs/format.md lists them' });
  if (typeof cfg.format !== 'number') throw new IntegrityError(`${quoteName(file)} has no format version`);
  if (cfg.format > FORMAT_VERSION) {
    throw new UnsupportedFormatError(`the repository at ${quoteName(repoDir)} uses format ${cfg.format}; this cairn reads format ${FORMAT_VERSION}`, {
      hint: 'upgrade cairn to open it',
    });
  }
  for (const key of ['compression', 'changeCompression'] as const) {
    const codec = cfg[key];
    if (key === 'changeCompression' && codec === undefined) continue;
    if (!COMPRESSIONS.includes(codec as Compression)) {
      throw new UnsupportedFormatError(`${quoteName(file)} names ${key} "${String(codec)}"; this cairn knows ${COMPRESSIONS.join(', ')}`, { hint: 'upgrade cairn to open it' });
    }
  }
  if (cfg.inlineMax !== undefined && !isInlineMax(cfg.inlineMax)) {
    throw new UnsupportedFormatError(`${quoteName(file)} names inlineMax ${JSON.stringify(cfg.inlineMax)}; this cairn knows whole numbers of bytes up to ${INLINE_MAX_LIMIT}`, {
      hint: 'upgrade cairn to open it',
    });
  }
  validateChunkerParams(cfg.chunker);
  validateChunkerParams(cfg.dbChunker);
  return cfg;
}

/** Whether `n` is a valid inlineMax: a whole number of bytes from 0 to INLINE_MAX_LIMIT. */
export function isInlineMax(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= INLINE_MAX_LIMIT;
}

export function writeConfig(repoDir: string, cfg: RepositoryConfig): void {
  writeFileAtomicSync(path.join(repoDir, CONFIG_FILE), `${JSON.stringify(cfg, null, 2)}\n`);
}
