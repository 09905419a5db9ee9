/** Arbitraries of relative paths as bytes: safe ones, and ones made unsafe in one way. */
import fc from 'fast-check';

/** A safe path component: any bytes but '/' and NUL, not empty, not "." or "..". */
export const safeComponent = fc
  .uint8Array({ minLength: 1, maxLength: 8 })
  .map((b) => Buffer.from(b.map((x) => (x === 0x2f || x === 0 ? 0x61 : x))))
  .filter((b) => b.toString('latin1') !== '.' && b.toString('latin1') !== '..');

export const safePath = fc.array(safeComponent, { minLength: 1, maxLength: 5 }).map((parts) => Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from('/'), p]))));

/** A path made unsafe in one of the ways that let a path leave its root or name nothing. */
export const hostilePath = fc
  .tuple(fc.array(safeComponent, { maxLength: 4 }), fc.nat(), fc.constantFrom('..', '.', '', 'nul', 'absolute'))
  .map(([parts, at, kind]) => {
    const list = parts.map((p) => p.toString('latin1'));
    const i = list.length === 0 ? 0 : at % (list.length + 1);
    if (kind === 'nul') list.splice(i, 1, `${list[i] ?? 'x'}\0`);
    else if (kind === 'absolute') list.unshift('');
    else list.splice(i, 0, kind);
    return Buffer.from(list.join('/'), 'latin1');
  });
