import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { drawHistory, renderGraph, topoOrder, type GraphNode, type GraphRow } from '../../../src/ops/logGraph.js';

const n = (id: string, ...parents: string[]): GraphNode => ({ id, parents });

/**
 * Follows the line leaving a node's '*' down the drawing ('|' stays in the
 * lane, '/' moves one lane left, '\\' one lane right) and returns the id of the
 * first node whose '*' it meets. Valid for single-parent histories.
 */
function traceParent(rows: GraphRow[], from: number): string | undefined {
  const start = rows[from]!;
  if (start.kind !== 'node') throw new Error('not a node row');
  let lane = start.prefix.indexOf('*') / 2;
  let movingLeft = false;
  for (let r = from + 1; r < rows.length; r++) {
    const row = rows[r]!;
    const text = row.kind === 'node' ? row.prefix : row.text;
    const at = (col: number) => (col >= 0 ? (text[col] ?? ' ') : ' ');
    if (row.kind === 'node' && at(2 * lane) === '*') return row.id;
    // A line joining across another one keeps going left ("| |/" then "|/|").
    const left = row.kind === 'edge' && at(2 * lane - 1) === '/';
    if (left && (movingLeft || at(2 * lane) !== '|')) {
      lane--;
      movingLeft = true;
      continue;
    }
    movingLeft = false;
    if (at(2 * lane) === '|') continue;
    if (row.kind === 'edge' && at(2 * lane + 1) === '\\') lane++;
    else return undefined;
  }
  return undefined;
}

/** The drawing as text: node rows as "prefix id". */
function draw(nodes: GraphNode[]): string {
  return renderGraph(topoOrder(nodes))
    .map((r) => (r.kind === 'node' ? `${r.prefix} ${r.id}` : r.text))
    .join('\n');
}

describe('log --graph renderer', () => {
  it('draws a straight line for a linear history', () => {
    expect(draw([n('c', 'b'), n('b', 'a'), n('a')])).toBe(['* c', '* b', '* a'].join('\n'));
  });

  it('draws a branch made by snapshotting after restoring an older snapshot', () => {
    expect(draw([n('c3', 'c1'), n('c2', 'c1'), n('c1', 'c0'), n('c0')])).toBe(['* c3', '| * c2', '|/', '* c1', '* c0'].join('\n'));
  });

  it('keeps a long side branch in its lane until the branch point', () => {
    expect(draw([n('m3', 'm2'), n('s2', 's1'), n('m2', 'm1'), n('s1', 'm1'), n('m1')])).toBe(
      ['* m3', '| * s2', '* | m2', '| * s1', '|/', '* m1'].join('\n'),
    );
  });

  it('joins a lane across another one', () => {
    expect(draw([n('t1', 'A'), n('t2', 'B'), n('t3', 'A'), n('A', 'R'), n('B', 'R'), n('R')])).toBe(
      ['* t1', '| * t2', '| | * t3', '| |/', '|/|', '* | A', '| * B', '|/', '* R'].join('\n'),
    );
  });

  it('opens a lane for a second parent', () => {
    expect(draw([n('m', 'a', 'b'), n('b', 'base'), n('a', 'base'), n('base')])).toBe(['* m', '|\\', '| * b', '* | a', '|/', '* base'].join('\n'));
  });

  it('draws unrelated histories (two sources) side by side and closes ended lanes', () => {
    expect(draw([n('x2', 'x1'), n('y2', 'y1'), n('x1'), n('y1')])).toBe(['* x2', '| * y2', '* | x1', ' /', '* y1'].join('\n'));
  });

  it('ignores parents outside the drawn set (a limited or filtered log)', () => {
    expect(draw([n('c', 'b'), n('b', 'a')])).toBe(['* c', '* b'].join('\n'));
  });

  it('orders children before parents even when times say otherwise', () => {
    // "old" was recorded with an earlier --time than its parent.
    expect(topoOrder([n('parent'), n('old', 'parent')]).map((x) => x.id)).toEqual(['old', 'parent']);
    expect(drawHistory([n('parent'), n('old', 'parent')]).map((r) => (r.kind === 'node' ? r.node.id : r.text))).toEqual(['old', 'parent']);
  });

  it('for random forests: every node drawn once, children first, and each line leads from a snapshot to its parent', () => {
    const forest = fc.array(fc.nat(), { minLength: 1, maxLength: 40 }).map((picks) =>
      // node i's parent is an older node (index > i), or none
      picks.map((p, i) => {
        const older = picks.length - i - 1;
        return n(`n${i}`, ...(older > 0 && p % 4 !== 0 ? [`n${i + 1 + (p % older)}`] : []));
      }),
    );
    fc.assert(
      fc.property(forest, fc.boolean(), (nodes, shuffle) => {
        const input = shuffle ? [...nodes].reverse() : nodes;
        const order = topoOrder(input);
        const pos = new Map(order.map((x, i) => [x.id, i]));
        expect(order).toHaveLength(nodes.length);
        for (const x of nodes) for (const p of x.parents) expect(pos.get(x.id)!).toBeLessThan(pos.get(p)!);
        const rows = renderGraph(order);
        const nodeRows = rows.filter((r) => r.kind === 'node');
        expect(nodeRows.map((r) => r.id)).toEqual(order.map((x) => x.id));
        for (const r of nodeRows) {
          expect(r.prefix.split('*')).toHaveLength(2);
          expect(r.prefix).toMatch(/^[*| ]+$/);
        }
        for (const r of rows) if (r.kind === 'edge') expect(r.text).toMatch(/^[|/\\ ]+$/);
        const byId = new Map(nodes.map((x) => [x.id, x]));
        rows.forEach((r, i) => {
          if (r.kind !== 'node') return;
          const parent = byId.get(r.id)!.parents[0];
          if (parent) expect(traceParent(rows, i)).toBe(parent);
        });
      }),
      { numRuns: 300 },
    );
  });
});
