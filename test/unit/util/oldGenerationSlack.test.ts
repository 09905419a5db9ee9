/**
 * The old generation's slack (src/util/oldGenerationSlack.ts), each case in a fresh Node process running the built
 * modules (dist/src/util/): garbage is promoted to the old generation by two minor collections, then dropped, and
 * stays there until a full collection.
 */
import { describe, expect, it } from 'vitest';
import { builtModule, runModuleScript } from '../../helpers.js';

const SLACK = builtModule('util/oldGenerationSlack.js');
const YOUNG = builtModule('util/youngGarbage.js');

interface Outcome {
  first: boolean;
  ran: boolean;
  before: number;
  after: number;
}

/** Takes the first look, promotes ~20 MB of garbage, then calls the check as `call` says. */
function run(setup: string, call: string): Outcome {
  const script = `
    import * as slack from ${JSON.stringify(SLACK)};
    import { collectYoungGarbage } from ${JSON.stringify(YOUNG)};
    ${setup}
    const first = ${call};
    let junk = Array.from({ length: 200000 }, (_, i) => ({ i, s: 'garbage ' + i }));
    collectYoungGarbage();
    collectYoungGarbage(); // survived twice: in the old generation now
    junk = null;
    const before = slack.oldGenerationBytes();
    const ran = ${call};
    process.stdout.write(JSON.stringify({ first, ran, before, after: slack.oldGenerationBytes() }));
  `;
  return runModuleScript<Outcome>(script);
}

describe('checkOldGenerationSlack', () => {
  it('collects once the old generation has grown by more than the slack, and not at the first look', () => {
    const o = run('', 'slack.checkOldGenerationSlack(4 * 1024 * 1024)');
    expect(o.first).toBe(false);
    expect(o.ran).toBe(true);
    expect(o.before - o.after).toBeGreaterThan(8 * 1024 * 1024); // the promoted garbage is gone
  });

  it('leaves growth within the slack alone', () => {
    const o = run('', 'slack.checkOldGenerationSlack(512 * 1024 * 1024)');
    expect(o.ran).toBe(false);
    expect(o.before - o.after).toBeLessThan(1024 * 1024);
  });

  it('is off until a program turns it on, and then uses the slack it set', () => {
    expect(run('', 'slack.checkOldGenerationSlack()').ran).toBe(false);
    expect(run('slack.setOldGenerationSlack(4 * 1024 * 1024);', 'slack.checkOldGenerationSlack()').ran).toBe(true);
  });
});
