/**
 * The log lines on stderr (pino JSON, src/util/logger.ts) hold no character a terminal may act on: JSON escapes
 * C0 controls, and cairn escapes DEL, C1 (CSI is U+009B), the line separators and the bidi controls as `\uXXXX`,
 * as `--json` output does (src/util/jsonText.ts). The lines still parse back to exactly what was logged.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

describe('log lines on stderr', () => {
  it('escape C1, DEL, line separators and bidi controls, and parse back exactly', () => {
    const logger = path.join(ROOT, 'dist', 'src', 'util', 'logger.js');
    const name = 'a\u009b31mb\u007fc\u2028d\u202ee\u001bf';
    const script = `
      const { createLogger } = await import(${JSON.stringify(logger)});
      createLogger('debug').warn({ path: ${JSON.stringify(name)} }, ${JSON.stringify(`could not read ${name}`)});`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028-\u202e]/);
    expect(r.stderr).toContain('\\u009b31mb\\u007fc\\u2028d\\u202ee\\u001bf');
    const line = JSON.parse(r.stderr) as { path: string; msg: string; level: number };
    expect(line.path).toBe(name);
    expect(line.msg).toBe(`could not read ${name}`);
  });
});
