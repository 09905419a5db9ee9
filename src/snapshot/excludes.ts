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

/**
 * The rules a snapshot was taken with, as data: the text of the source's
 * .cairnignore (null when it had none) and the --exclude patterns. Recorded
 * in the manifest (`extra.excludeRules`) so a restore leaves alone exactly
 * what the snapshot left out.
 */
export interface ExcludeRules {
  ignoreFile: string | null;
  patterns: string[];
}

/** Reads the source's .cairnignore and adds `patterns`. */
export function readExcludeRules(sourceRoot: string, patterns: readonly string[]): ExcludeRules {
  let ignoreFile: string | null = null;
  try {
    ignoreFile = fs.readFileSync(path.join(sourceRoot, IGNORE_FILE), 'utf8');
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
  }
  return { ignoreFile, patterns: [...patterns] };
}

export function compileExcludes(rules: ExcludeRules): ExcludeMatcher {
  const ig: Ignore = ignore();
  if (rules.ignoreFile !== null) ig.add(rules.ignoreFile);
  ig.add([...rules.patterns]);
  const active =
    rules.patterns.length > 0 || (rules.ignoreFile !== null && rules.ignoreFile.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('#')));
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

export function loadExcludes(sourceRoot: string, patterns: readonly string[]): ExcludeMatcher {
  return compileExcludes(readExcludeRules(sourceRoot, patterns));
}

/** True when the rules exclude nothing. */
export function noExcludeRules(rules: ExcludeRules): boolean {
  return rules.ignoreFile === null && rules.patterns.length === 0;
}
