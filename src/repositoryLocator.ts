/** Finds the repository as git finds its own: --repo, else CAIRN_REPO, else the nearest .cairn/ walking up. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NoRepositoryError } from './errors.js';
import { CONFIG_FILE } from './repositoryConfig.js';
import { quoteName } from './util/quoteName.js';

export const EMBEDDED_DIR = '.cairn';

export interface LocateOptions {
  /** Explicit repository directory (--repo). */
  repo?: string;
  /** Where to start looking (default process.cwd()). */
  cwd?: string;
  /** Environment (default process.env), for CAIRN_REPO. */
  env?: NodeJS.ProcessEnv;
}

export interface Location {
  /** The repository directory (holds config.json). */
  dir: string;
  /** For an embedded repository (.cairn/), the directory that holds it; null when standalone. */
  workRoot: string | null;
}

function locationOf(dir: string): Location {
  const abs = path.resolve(dir);
  return { dir: abs, workRoot: path.basename(abs) === EMBEDDED_DIR ? path.dirname(abs) : null };
}

/** Where `init` puts a repository. */
export function initLocation(o: LocateOptions = {}): Location {
  const explicit = o.repo ?? (o.env ?? process.env).CAIRN_REPO;
  if (explicit) return locationOf(path.resolve(o.cwd ?? process.cwd(), explicit));
  const cwd = path.resolve(o.cwd ?? process.cwd());
  return { dir: path.join(cwd, EMBEDDED_DIR), workRoot: cwd };
}

export function locateRepository(o: LocateOptions = {}): Location {
  const explicit = o.repo ?? (o.env ?? process.env).CAIRN_REPO;
  const cwd = path.resolve(o.cwd ?? process.cwd());
  if (explicit) {
    const loc = locationOf(path.resolve(cwd, explicit));
    if (!fs.existsSync(path.join(loc.dir, CONFIG_FILE))) {
      throw new NoRepositoryError(`${quoteName(loc.dir)} is not a cairn repository`, { hint: 'check --repo / CAIRN_REPO, or run `cairn init` there' });
    }
    return loc;
  }
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, EMBEDDED_DIR);
    if (fs.existsSync(path.join(candidate, CONFIG_FILE))) return { dir: candidate, workRoot: dir };
    if (path.dirname(dir) === dir) break;
  }
  throw new NoRepositoryError(`no cairn repository in ${cwd} or any parent directory`, {
    hint: 'run `cairn init`, or name one with --repo DIR or CAIRN_REPO',
  });
}
