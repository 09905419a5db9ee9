/**
 * The young generation's limit (src/util/youngGenerationLimit.ts), each case in a fresh Node process running the
 * built module (dist/src/util/): V8's young generation only grows, so one process can hold one case. The loop keeps
 * a rolling window of objects alive, so that more bytes survive each scavenge than the young generation holds,
 * which is what makes V8 grow it.
 */
import { describe, expect, it } from 'vitest';
import { builtModule, runModuleScript } from '../../helpers.js';

const LIMIT = builtModule('util/youngGenerationLimit.js');
const WORKERS = builtModule('util/workerExecArgv.js');

interface Outcome {
  before: number;
  after: number;
  limited: boolean;
}

/** Runs `steps` (module code with `limit` and `workers` imported) and then the allocation loop. */
function run(steps: string): Outcome {
  const script = `
    import * as limit from ${JSON.stringify(LIMIT)};
    import * as workers from ${JSON.stringify(WORKERS)};
    import { Worker } from 'node:worker_threads';
    import { once } from 'node:events';
    // Garbage that dies young: scavenges run (both semi-spaces committed) and nothing grows.
    let sink = 0;
    for (let i = 0; i < 300000; i++) sink += ({ n: i, s: 'y' + i }).s.length;
    const before = limit.youngGenerationBytes();
    let limited = false;
    ${steps}
    let keep = [];
    for (let i = 0; i < 1500000; i++) {
      keep.push({ n: i, s: 'x' + i });
      if (keep.length > 20000) keep = keep.slice(10000);
    }
    process.stdout.write(JSON.stringify({ before, after: limit.youngGenerationBytes(), limited, sink }));
    process.exit(0);
  `;
  return runModuleScript<Outcome>(script);
}

describe('limitYoungGeneration', () => {
  it('is off until a program turns it on', () => {
    const o = run('limited = limit.limitYoungGeneration();');
    expect(o.limited).toBe(false);
    expect(o.after).toBeGreaterThan(o.before);
  });

  it('uses the limit a program set', () => {
    const o = run('limit.setYoungGenerationLimit(before); limited = limit.limitYoungGeneration();');
    expect(o.limited).toBe(true);
    expect(o.after).toBe(o.before);
  });

  it('is needed: without it, the loop makes V8 grow the young generation', () => {
    const o = run('');
    expect(o.before).toBeGreaterThan(0);
    expect(o.after).toBeGreaterThan(o.before);
  });

  it('stops the young generation at the limit once it has reached it', () => {
    const o = run('limited = limit.limitYoungGeneration(before);');
    expect(o.limited).toBe(true);
    expect(o.after).toBe(o.before);
  });

  it('does nothing below the limit', () => {
    const o = run('limited = limit.limitYoungGeneration(before + 1);');
    expect(o.limited).toBe(false);
    expect(o.after).toBeGreaterThan(o.before);
  });

  it('holds after a worker started with startWorker is online', () => {
    const o = run(`
      limited = limit.limitYoungGeneration(before);
      const w = workers.startWorker('setTimeout(() => {}, 10)', { eval: true });
      await once(w, 'online');
      await new Promise((resolve) => setImmediate(resolve));
    `);
    expect(o.limited).toBe(true);
    expect(o.after).toBe(o.before);
  });

  it('is undone by a worker started otherwise (why startWorker applies it again)', () => {
    const o = run(`
      limited = limit.limitYoungGeneration(before);
      const w = new Worker('setTimeout(() => {}, 10)', { eval: true });
      await once(w, 'online');
      await new Promise((resolve) => setImmediate(resolve));
    `);
    expect(o.after).toBeGreaterThan(o.before);
  });
});
