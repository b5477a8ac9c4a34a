/**
 * Per-instance cache of computed recommendation lists (personal recommendations use it). An entry
 * is served only while every input it was computed from is the *very same object* as at the time:
 * the model in service, the customer's access answer (CustomerAccessCache hands out one object per
 * id until the answer changes or invalidate() drops it), their record (the model source's LRU holds
 * one object per customer until putCustomer rewrites it, e.g. on a purchase event, another instance
 * announces a change of that customer, or it ages out),
 * the store's in-stock set (replaced whole on each inventory refresh). Identity, not equality: a
 * list can never outlive the data it came from, with nothing to invalidate by hand besides
 * CustomerAccessCache.invalidate(). Lists are frozen (they are shared between responses).
 */
import type { RecList } from './rec-list.js';

interface Entry {
  inputs: readonly unknown[];
  list: RecList;
}

export class ListCache {
  private readonly entries = new Map<string, Entry>();

  constructor(readonly maxEntries = 10_000) {}

  /** The list cached under key when its inputs are the same objects (in the same order), else undefined. */
  get(key: string, inputs: readonly unknown[]): RecList | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.inputs.length !== inputs.length || e.inputs.some((x, i) => x !== inputs[i])) {
      this.entries.delete(key);
      return undefined;
    }
    return e.list;
  }

  /** Caches a list (frozen, deeply) under key; the oldest entry goes when full. Returns the frozen list. */
  set(key: string, inputs: readonly unknown[], list: RecList): RecList {
    if (this.maxEntries <= 0) return list;
    deepFreeze(list);
    this.entries.delete(key);
    this.entries.set(key, { inputs, list });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return list;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
