/**
 * A small least-recently-used map (Map insertion order), with an optional maximum age per entry
 * so that records another instance rewrote are picked up again within that time.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, { value: V; at: number }>();

  constructor(
    readonly capacity: number,
    readonly maxAgeMs = Infinity,
  ) {}

  /** Whether the key is held (and fresh); a hit moves it to the most recent end. */
  has(key: K): boolean {
    return this.lookup(key) !== undefined;
  }

  /** The value, or undefined when absent or stale. Stored values may themselves be null. */
  get(key: K): V | undefined {
    return this.lookup(key)?.value;
  }

  /** The entry (so that a stored null is told apart from a miss), or undefined when absent or stale. */
  find(key: K): { value: V } | undefined {
    return this.lookup(key);
  }

  private lookup(key: K): { value: V; at: number } | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    if (Date.now() - e.at > this.maxAgeMs) return undefined;
    this.map.set(key, e);
    return e;
  }

  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    this.map.delete(key);
    this.map.set(key, { value, at: Date.now() });
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
