/** Exclude rules: --exclude globs and the source's .cairnignore (gitignore syntax). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { isErrno } from '../errors.js';

export const IGNORE_FILE = '.cairnignore';

export interface ExcludeMatcher {
  /** False when there are no rules at all (the walk then skips matching). */
  readonly active: boolean;
  /** `rel` is '/'-separated, relative to the source root; `isDir` for directories. */
  excludes(rel: string, isDir: boolean): boolean;
}

export function loadExcludes(sourceRoot: string, patterns: readonly string[]): ExcludeMatcher {
  const ig: Ignore = ignore();
  let active = patterns.length > 0;
  try {
    const text = fs.readFileSync(path.join(sourceRoot, IGNORE_FILE), 'utf8');
    ig.add(text);
    active ||= text.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
  }
  ig.add([...patterns]);
  return {
    active,
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
