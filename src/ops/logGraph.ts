/**
 * The history graph drawn by `cairn log --graph`, in the style of
 * `git log --graph --oneline`: pure functions over (id, parents) pairs.
 *
 * Glossary
 * - lane: a column of the drawing; it holds the id of the snapshot expected
 *   next in it (the parent of the snapshot drawn above it).
 * - node row: a snapshot's own line, `*` in its lane and `|` in the others.
 * - edge rows: the lines between two node rows that move lanes: `\` opens a
 *   lane to the right (a second parent), `/` joins a lane into one to its
 *   left (two snapshots with the same parent: a branch point).
 */

export interface GraphNode {
  id: string;
  parents: readonly string[];
}

export type GraphRow = { kind: 'node'; id: string; prefix: string } | { kind: 'edge'; text: string };

/**
 * Orders nodes so that every snapshot comes before its parents; among those
 * ready to be drawn, the input order (newest first) decides.
 */
export function topoOrder<T extends GraphNode>(nodes: readonly T[]): T[] {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const waitingChildren = new Array<number>(nodes.length).fill(0);
  for (const n of nodes) for (const p of new Set(n.parents)) if (index.has(p)) waitingChildren[index.get(p)!]!++;
  const ready = new MinHeap();
  nodes.forEach((_, i) => {
    if (waitingChildren[i] === 0) ready.push(i);
  });
  const out: T[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    const n = nodes[i]!;
    out.push(n);
    for (const p of new Set(n.parents)) {
      const pi = index.get(p);
      if (pi !== undefined && --waitingChildren[pi]! === 0) ready.push(pi);
    }
  }
  // A cycle cannot come from content-addressed parents; keep any leftovers rather than lose them.
  if (out.length < nodes.length) {
    const seen = new Set(out.map((n) => n.id));
    for (const n of nodes) if (!seen.has(n.id)) out.push(n);
  }
  return out;
}

/** Draws rows that move each lane from `from` to `to`, one column step per row. */
function moveLanes(moves: ReadonlyArray<{ from: number; to: number }>): string[] {
  const pos = moves.map((m) => m.from);
  const rows: string[] = [];
  while (pos.some((p, k) => p !== moves[k]!.to)) {
    const width = 2 * Math.max(...pos, ...moves.map((m) => m.to)) + 2;
    const row = new Array<string>(width).fill(' ');
    pos.forEach((p, k) => {
      const to = moves[k]!.to;
      if (to < p) {
        row[2 * p - 1] = '/';
        pos[k] = p - 1;
      } else if (to > p) {
        row[2 * p + 1] = '\\';
        pos[k] = p + 1;
      } else {
        row[2 * p] = '|';
      }
    });
    rows.push(row.join('').trimEnd());
  }
  return rows;
}

/**
 * Draws nodes given in display order (children before parents, as
 * topoOrder returns). Parents not among the nodes are ignored, so a filtered
 * or limited log draws no dangling lanes.
 */
export function renderGraph(nodes: readonly GraphNode[]): GraphRow[] {
  const known = new Set(nodes.map((n) => n.id));
  const rows: GraphRow[] = [];
  let lanes: string[] = [];
  for (const n of nodes) {
    let i = lanes.indexOf(n.id);
    if (i < 0) {
      lanes.push(n.id);
      i = lanes.length - 1;
    }
    rows.push({ kind: 'node', id: n.id, prefix: lanes.map((_, j) => (j === i ? '*' : '|')).join(' ') });

    // 1. The node's lane continues to its first parent; further parents open lanes to its right;
    //    a node without parents closes its lane and the lanes right of it move left.
    const parents = [...new Set(n.parents.filter((p) => known.has(p)))];
    const shift = parents.length - 1;
    const opened: Array<{ from: number; to: number }> = [];
    const next: string[] = [];
    lanes.forEach((id, j) => {
      if (j < i) {
        opened.push({ from: j, to: j });
        next.push(id);
      } else if (j === i) {
        parents.forEach((p, k) => {
          opened.push({ from: i, to: i + k });
          next.push(p);
        });
      } else {
        opened.push({ from: j, to: j + shift });
        next.push(id);
      }
    });
    for (const text of moveLanes(opened)) rows.push({ kind: 'edge', text });

    // 2. Lanes waiting for the same snapshot join the leftmost of them; an ended lane closes.
    const merged: string[] = [];
    const joined = next.map((id, j) => {
      let to = merged.indexOf(id);
      if (to < 0) {
        merged.push(id);
        to = merged.length - 1;
      }
      return { from: j, to };
    });
    for (const text of moveLanes(joined)) rows.push({ kind: 'edge', text });
    lanes = merged;
  }
  return rows;
}

/** A binary min-heap of numbers (input positions). */
class MinHeap {
  private readonly a: number[] = [];

  get size(): number {
    return this.a.length;
  }

  push(v: number): void {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p]! <= a[i]!) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

export type DrawnRow<T> = { kind: 'node'; prefix: string; node: T } | { kind: 'edge'; text: string };

/** topoOrder then renderGraph, with each node row carrying its node. */
export function drawHistory<T extends GraphNode>(nodes: readonly T[]): Array<DrawnRow<T>> {
  const ordered = topoOrder(nodes);
  const byId = new Map(ordered.map((n) => [n.id, n]));
  return renderGraph(ordered).map((r) => (r.kind === 'node' ? { kind: 'node', prefix: r.prefix, node: byId.get(r.id)! } : r));
}
