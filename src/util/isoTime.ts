/**
 * Times given on the command line (`snapshot --time`, `tag --time`, `audit --since/--until`), read strictly.
 *
 * JavaScript's Date parser takes far more than ISO 8601 and quietly repairs what it takes: `-1` became
 * 2001-01-01, `2026-02-30` became March 2, and a five-digit year made a snapshot the newest one for ever. A time
 * that decides what retention keeps must mean what it says, so only these forms are taken:
 * `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS`, `YYYY-MM-DDTHH:MM:SS.fff` (up to 9 digits; `T` or a
 * space), each with an optional zone: `Z` or `±HH:MM` (`±HHMM`). The year is 1970–9999; every field must exist
 * in the calendar (February 30 does not). As in JavaScript, a date alone is UTC midnight and a date and time
 * without a zone is local time.
 */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Milliseconds since the epoch of a strict ISO-8601 time (see the module comment), or undefined. */
export function parseIsoTime(text: string): number | undefined {
  const m = ISO_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (h === undefined && zone !== undefined) return undefined; // a zone needs a time of day
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) return undefined;
  let z = zone?.toUpperCase();
  if (z !== undefined && z !== 'Z') {
    const zh = Number(z.slice(1, 3));
    const zm = Number(z.slice(-2));
    if (zh > 23 || zm > 59) return undefined;
    z = `${z.slice(0, 3)}:${z.slice(-2)}`;
  }
  const date = `${y}-${mo}-${d}`;
  if (h === undefined) return Date.parse(date);
  // Milliseconds are what a Date keeps: longer fractions are cut, never rounded into the next second.
  const ms = frac === undefined ? '' : frac.slice(0, 4).padEnd(4, '0');
  const parsed = Date.parse(`${date}T${h}:${mi}:${s ?? '00'}${ms}${z ?? ''}`);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** What to say after a time that parseIsoTime refused. */
export const ISO_TIME_HINT = 'give a real date, 1970-9999, as YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM], e.g. 2026-01-31T02:00:00Z';

/** Whether `text` is a date alone (YYYY-MM-DD), which `audit --until` reads as the end of that day. */
export function isDateOnly(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text.trim());
}
