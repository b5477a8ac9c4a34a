/**
 * In-memory identity resolution: union-find over normalised identifiers (path halving;
 * the earliest-seen root survives a union), for training straight from a file without a database. Same semantics
 * as the store's SQL merging: a record carrying identifiers of two people makes them one,
 * transitively.
 *
 * Unified ids are deterministic for a given sequence of records: a person's id is their
 * earliest-seen account id if they have one (so UCI customers keep their CustomerID),
 * otherwise "kind:value" of their earliest-seen identifier.
 *
 * @example
 * const g = new IdentityGraph();
 * g.add([{ kind: 'email', value: 'a@x.io' }, { kind: 'loyalty', value: 'L1' }]);
 * g.add([{ kind: 'phone', value: '447700900123' }, { kind: 'loyalty', value: 'L1' }]);
 * g.customerId([{ kind: 'phone', value: '447700900123' }]) === 'email:a@x.io';
 */
import type { Identifier } from './records.js';
import { identifierKey } from './identity.js';

export class IdentityGraph {
  private readonly index = new Map<string, number>();
  private readonly keys: string[] = [];
  private parent = new Int32Array(1024);
  /** Earliest-seen account node of each root (-1: none). */
  private account = new Int32Array(1024);
  private merges = 0;

  /** Number of distinct identifiers seen. */
  get identifierCount(): number {
    return this.keys.length;
  }

  /** Number of merges: a record joining k people already known counts k − 1. */
  get mergeCount(): number {
    return this.merges;
  }

  /** Adds a record's identifiers, merging everyone they touch; returns the record's node (-1 when none). */
  add(identifiers: readonly Identifier[]): number {
    // people this record touches that existed before it: joining k of them is k − 1 merges
    let known: number[] | null = null;
    for (const id of identifiers) {
      const n = this.index.get(identifierKey(id));
      if (n === undefined) continue;
      const r = this.find(n);
      if (known === null) known = [r];
      else if (!known.includes(r)) known.push(r);
    }
    if (known !== null) this.merges += known.length - 1;
    let root = -1;
    for (const id of identifiers) {
      const n = this.node(id);
      root = root < 0 ? this.find(n) : this.union(root, n);
    }
    return root;
  }

  /** Whether two identifiers belong to the same person. */
  same(a: Identifier, b: Identifier): boolean {
    const x = this.index.get(identifierKey(a));
    const y = this.index.get(identifierKey(b));
    return x !== undefined && y !== undefined && this.find(x) === this.find(y);
  }

  /** The unified id of whoever holds these identifiers (first known one decides), or null when none is known. */
  customerId(identifiers: readonly Identifier[]): string | null {
    for (const id of identifiers) {
      const n = this.index.get(identifierKey(id));
      if (n !== undefined) return this.idOfNode(n);
    }
    return null;
  }

  /** The unified id of a node returned by add(). */
  idOfNode(node: number): string {
    const r = this.find(node);
    const acc = this.account[r];
    if (acc >= 0) return this.keys[acc].slice('account:'.length);
    return this.keys[r];
  }

  /** Number of distinct people. */
  components(): number {
    let c = 0;
    for (let i = 0; i < this.keys.length; i++) if (this.find(i) === i) c++;
    return c;
  }

  private node(id: Identifier): number {
    const key = identifierKey(id);
    let n = this.index.get(key);
    if (n !== undefined) return n;
    n = this.keys.length;
    if (n >= this.parent.length) this.grow();
    this.keys.push(key);
    this.index.set(key, n);
    this.parent[n] = n;
    this.account[n] = id.kind === 'account' ? n : -1;
    return n;
  }

  private find(n: number): number {
    const p = this.parent;
    while (p[n] !== n) {
      p[n] = p[p[n]];
      n = p[n];
    }
    return n;
  }

  /** Union; the root keeps the lower node number (earlier-seen) as its representative. */
  private union(a: number, b: number): number {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return ra;
    // The earlier-seen root survives so ids do not depend on union order.
    if (rb < ra) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    const xa = this.account[ra];
    const xb = this.account[rb];
    if (xa < 0 || (xb >= 0 && xb < xa)) this.account[ra] = xb;
    return ra;
  }

  private grow(): void {
    const cap = this.parent.length * 2;
    const p = new Int32Array(cap);
    p.set(this.parent);
    const a = new Int32Array(cap);
    a.set(this.account);
    this.parent = p;
    this.account = a;
  }
}
