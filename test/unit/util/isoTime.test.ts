import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDateOnly, parseIsoTime } from '../../../src/util/isoTime.js';

describe('parseIsoTime', () => {
  it('takes the ISO-8601 forms cairn documents, as JavaScript reads them', () => {
    expect(parseIsoTime('2026-01-31')).toBe(Date.UTC(2026, 0, 31));
    expect(parseIsoTime('2026-01-31T02:00:00Z')).toBe(Date.UTC(2026, 0, 31, 2));
    expect(parseIsoTime('2026-01-31T02:00:00.5Z')).toBe(Date.UTC(2026, 0, 31, 2, 0, 0, 500));
    expect(parseIsoTime('2026-01-31 02:00:00.123456789+01:00')).toBe(Date.UTC(2026, 0, 31, 1, 0, 0, 123));
    expect(parseIsoTime('2026-01-31T02:00:00+0100')).toBe(Date.UTC(2026, 0, 31, 1));
    expect(parseIsoTime('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(parseIsoTime('2026-01-31T02:00')).toBe(new Date(2026, 0, 31, 2).getTime()); // no zone: local time
  });

  it('refuses what Date.parse would quietly repair or misread', () => {
    for (const bad of ['-1', '1', '2026-02-30', '2025-02-29', '2026-13-01', '2026-00-10', '99999-01-01', '1969-12-31', '2026-01-31Z', '2026-01-31T24:00', '2026-01-31T02:60', '2026-01-31T02:00:00+25:00', 'yesterday', '2026/01/31', '']) {
      expect({ bad, ms: parseIsoTime(bad) }).toEqual({ bad, ms: undefined });
    }
  });

  it('reads back every instant it prints (toISOString), to the millisecond', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(Date.UTC(1970, 0, 1)), max: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)), noInvalidDate: true }), (d) => {
        expect(parseIsoTime(d.toISOString())).toBe(d.getTime());
      }),
    );
  });

  it('knows a date alone', () => {
    expect(isDateOnly('2026-01-31')).toBe(true);
    expect(isDateOnly('2026-01-31T00:00')).toBe(false);
  });
});
