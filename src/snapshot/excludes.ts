/** Exclude rules: --exclude globs and the source's .cairnignore (gitignore syntax). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { isErrno } from '../errors.js';

export const IGNORE_FILE = '.cairnignore';

export interface ExcludeMatcher {
  /** `rel` is '/'-separated, relative to the source root; `isDir` for directories. */
  excludes(rel: string, isDir: boolean): boolean;
}

export function loadExcludes(sourceRoot: string, patterns: readonly string[]): ExcludeMatcher {
  const ig: Ignore = ignore();
  try {
    ig.add(fs.readFileSync(path.join(sourceRoot, IGNORE_FILE), 'utf8'));
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
  }
  ig.add([...patterns]);
  return {
    excludes(rel, isDir) {
      if (rel === '') return false;
      try {
        return ig.ignores(isDir ? `${rel}/` : rel);
      } catch {
        return false; // a name `ignore` cannot judge (e.g. odd bytes) is kept
      }
    },
  };
}
