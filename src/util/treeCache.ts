/** A small LRU cache whose capacity is a total weight (e.g. tree entries), so memory stays bounded whatever the item sizes. */
export class LruCache<K, V> {
  private readonly map = new Map<K, { v: V; w: number }>();
  private total = 0;

  constructor(
    private readonly capacity: number,
    private readonly weigh: (value: V) => number = () => 1,
  ) {}

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.map.delete(key);
      this.map.set(key, hit);
    }
    return hit?.v;
  }

  set(key: K, value: V): void {
    const old = this.map.get(key);
    if (old) {
      this.total -= old.w;
      this.map.delete(key);
    }
    const w = this.weigh(value);
    this.map.set(key, { v: value, w });
    this.total += w;
    while (this.total > this.capacity && this.map.size > 1) {
      const [k, oldest] = this.map.entries().next().value as [K, { v: V; w: number }];
      this.map.delete(k);
      this.total -= oldest.w;
    }
  }
}
