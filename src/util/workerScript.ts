/**
 * Where a worker thread's entry file is. Each worker is a file of its own: in
 * the CLI's CommonJS bundle, `dist/bin/<bundleName>` beside the bundle
 * (`__dirname`); for the library's ES modules, `<moduleName>` beside the
 * module that starts it (its `import.meta.url`, which the bundler defines as
 * undefined). When neither exists (the TypeScript sources run by a test
 * runner), the answer is undefined and callers do the work on their own thread.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export function workerScript(bundleName: string, moduleName: string, callerUrl: string | undefined): string | undefined {
  const candidates: string[] = [];
  if (typeof __dirname === 'string') candidates.push(path.join(__dirname, bundleName));
  if (callerUrl?.startsWith('file:')) candidates.push(path.join(path.dirname(fileURLToPath(callerUrl)), moduleName));
  return candidates.find((p) => fs.existsSync(p));
}
