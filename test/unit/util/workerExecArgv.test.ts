import { describe, expect, it } from 'vitest';
import { refusedOptions } from '../../../src/util/workerExecArgv.js';

describe('refusedOptions', () => {
  it('reads the options a refused worker names', () => {
    expect(refusedOptions('Initiated Worker with invalid execArgv flags: --trace-gc, --no-opt, --max-semi-space-size=2')).toEqual([
      '--trace-gc',
      '--no-opt',
      '--max-semi-space-size=2',
    ]);
    expect(refusedOptions('Initiated Worker with invalid execArgv flags: --expose-gc')).toEqual(['--expose-gc']);
  });

  it('names nothing in a message it does not know', () => {
    expect(refusedOptions('something else went wrong')).toEqual([]);
    expect(refusedOptions('invalid: nope')).toEqual([]);
  });
});
