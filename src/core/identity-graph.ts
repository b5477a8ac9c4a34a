/**
 * Identity resolution: the one set of rules deciding which records are one person, used by imports
 * and purchase events (src/store/resolve-identities.ts, over what the store already knows) and by
 * training straight from a file (src/train/history-input.ts, all in memory). Pure, no I/O.
 *
 * Records are processed one at a time, in the order they come (file order, line by line): the
 * answer is that of this sequence whatever the batches an import cuts it into. A record is its
 * identifiers (normalised, placeholders already dropped) and the order it belongs to:
 * - it belongs to everyone it touches: the owners of its identifiers and the owner of its order
 *   (lines of one order are one person's, however far apart they are and whatever identifiers each
 *   carries), who are merged into the oldest of them;
 * - **conflict policy**: a unique-per-person kind (`account`, `loyalty`: `UNIQUE_KINDS`) never has
 *   two values in one person. A merge that would give someone two accounts (or two loyalty cards)
 *   is refused; a new identifier that would is not attached. Either way the conflict is counted and
 *   reported (`conflicts`), and the record stays with the person it was anchored to (its order's
 *   owner, else the oldest person it touches);
 * - **cap**: one person holds at most `maxIdentifiers` identifiers; an identifier past it is not
 *   attached and a merge past it is refused (counted as `capped`): one shared value (a shop's
 *   phone typed at every till) cannot pull thousands of people together;
 * - a record with no identifiers whose order is unknown is a guest's.
 * Without conflicts or capped records, the people are the connected components of the records'
 * identifiers and orders, so they do not depend on the order of the records either; with them, the
 * first record (in file order) to claim a value keeps it.
 *
 * Who is oldest: existing customers by id (smallest first), then people created here, in order of
 * creation; a merge keeps the oldest.
 *
 * @example
 * const r = new IdentityResolver();
 * const a = r.resolve([{ kind: 'email', value: 'a@x.io' }], 'web:1001');
 * const b = r.resolve([{ kind: 'phone', value: '447700900123' }], 'web:1001'); // same order: same person
 * r.find(a) === r.find(b);
 */
import type { Identifier, IdentifierKind } from './records.js';
import { identifierKey } from './identity.js';
import { objectList } from './object-list.js';

/** Kinds of which one person holds one value at most: two values are two people. */
export const UNIQUE_KINDS: readonly IdentifierKind[] = ['account', 'loyalty'];
/** Default of MAX_IDENTIFIERS_PER_CUSTOMER. */
export const DEFAULT_MAX_IDENTIFIERS = 20;

export interface IdentityPolicy {
  /** Most identifiers one person collects (MAX_IDENTIFIERS_PER_CUSTOMER). */
  maxIdentifiers?: number;
}

export interface ResolverOptions extends IdentityPolicy {
  /** Keep `attached`, `merges` and `conflicts` (default true; training from a file only needs the counts). */
  log?: boolean;
}

/** A refused link, for the log. */
export interface IdentityConflict {
  /** 'unique': a second value of a unique kind; 'cap': past the identifier cap. */
  type: 'unique' | 'cap';
  /** The identifier not attached, or the one linking to the person not merged. */
  identifier: Identifier;
  /** The kind in conflict (type 'unique'). */
  kind?: IdentifierKind;
}

/** Compares customer ids (decimal bigint strings) numerically. */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

const UNIQUE = new Set<string>(UNIQUE_KINDS);

export class IdentityResolver {
  private readonly max: number;
  /** identifierKey → person. */
  private readonly owner = new Map<string, number>();
  /** order key → person (-1: a guest order, known). */
  private readonly orders = new Map<string, number>();
  private readonly parent: number[] = [];
  /** Per person: the customer id it stands for when it existed before (null: created here). */
  private readonly existing = objectList<string | null>();
  /** Per person (root): its unique-kind values, kind → value. */
  private readonly unique = objectList<Map<string, string>>();
  /** Per person (root): identifiers held. */
  private readonly count: number[] = [];
  /** Per person: first identifier key seen (ids of people without an account, in memory). */
  private readonly firstKey = objectList<string>();
  /** Identifiers attached here (not seeded), in order: key, identifier and the person at the time. */
  readonly attached = objectList<{ identifier: Identifier; person: number }>();
  /** Merges done here, in order: the older person and the one merged into it, with the linking identifier. */
  readonly merges = objectList<{ survivor: number; merged: number; reason: Identifier }>();
  /** Refused links, in order. */
  readonly conflicts = objectList<IdentityConflict>();
  /** Merges and refused links so far (kept with or without the log). */
  mergeCount = 0;
  conflictCount = 0;
  private readonly log: boolean;

  constructor(options: ResolverOptions = {}) {
    this.max = Math.max(1, Math.floor(options.maxIdentifiers ?? DEFAULT_MAX_IDENTIFIERS));
    this.log = options.log ?? true;
  }

  /** Number of people created or seeded. */
  get people(): number {
    return this.parent.length;
  }

  /** Distinct identifiers known. */
  get identifierCount(): number {
    return this.owner.size;
  }

  /**
   * Seeds a customer that exists already (in the store) with every identifier it holds. Seed
   * before resolving; any order of seeding (age is by id).
   */
  addExisting(customerId: string, identifiers: readonly Identifier[]): number {
    const p = this.newPerson(customerId);
    for (const id of identifiers) {
      this.owner.set(identifierKey(id), p);
      this.count[p]++;
      if (UNIQUE.has(id.kind)) this.unique[p].set(id.kind, id.value);
      if (this.firstKey[p] === '') this.firstKey[p] = identifierKey(id);
    }
    return p;
  }

  /** Seeds an order known already: its owner (a person from addExisting), or -1 for a guest order. */
  addOrder(orderKey: string, person: number): void {
    this.orders.set(orderKey, person);
  }

  /** The person a person was merged into (itself when it was not). */
  find(p: number): number {
    const parent = this.parent;
    while (parent[p] !== p) {
      parent[p] = parent[parent[p]];
      p = parent[p];
    }
    return p;
  }

  /** The customer id a person stands for, when it existed before (null: created here). */
  existingId(p: number): string | null {
    return this.existing[p];
  }

  /** The owner of an identifier now, or -1. */
  ownerOf(id: Identifier): number {
    const p = this.owner.get(identifierKey(id));
    return p === undefined ? -1 : this.find(p);
  }

  /** The owner of an order now: a person, -1 for a guest order, undefined when unknown. */
  orderOwner(orderKey: string): number | undefined {
    const p = this.orders.get(orderKey);
    return p === undefined || p < 0 ? p : this.find(p);
  }

  /**
   * A person's id for in-memory use (training from a file): their account value when they have
   * one (so Online Retail customers keep their CustomerID), else "kind:value" of their first identifier.
   */
  memoryId(p: number): string {
    const r = this.find(p);
    return this.unique[r].get('account') ?? this.firstKey[r];
  }

  /** Number of people now (merged ones not counted). */
  components(): number {
    let c = 0;
    for (let i = 0; i < this.parent.length; i++) if (this.parent[i] === i) c++;
    return c;
  }

  /**
   * Resolves one record: its identifiers (normalised) and the key of the order it belongs to (null:
   * none). Returns the person (root) it belongs to, or -1 for a guest.
   */
  resolve(identifiers: readonly Identifier[], orderKey: string | null = null): number {
    const orderOwner = orderKey === null ? undefined : this.orderOwner(orderKey);
    const anchor = orderOwner !== undefined && orderOwner >= 0 ? orderOwner : -1;
    // the record's identifiers no one holds yet, and the people holding the others: first those
    // holding one of its account / loyalty values (the record is theirs), then the rest oldest first
    const fresh: Identifier[] = [];
    const byUnique: { p: number; reason: Identifier }[] = [];
    const byOther: { p: number; reason: Identifier }[] = [];
    const seen = new Set<number>(anchor >= 0 ? [anchor] : []);
    for (const id of identifiers) {
      const o = this.owner.get(identifierKey(id));
      if (o === undefined) {
        if (!fresh.some((f) => f.kind === id.kind && f.value === id.value)) fresh.push(id);
        continue;
      }
      const r = this.find(o);
      if (seen.has(r)) continue;
      seen.add(r);
      (UNIQUE.has(id.kind) ? byUnique : byOther).push({ p: r, reason: id });
    }
    byOther.sort((a, b) => (this.older(a.p, b.p) ? -1 : 1));
    // who the record is: its order's owner (always: an order is one person's), its new account /
    // loyalty values where they do not contradict that, then everyone else it touches who fits
    const values = new Map<string, string>(anchor >= 0 ? this.unique[anchor] : []);
    let count = anchor >= 0 ? this.count[anchor] : 0;
    const keep: Identifier[] = [];
    for (const id of fresh) {
      if (UNIQUE.has(id.kind)) {
        const held = values.get(id.kind);
        if (held !== undefined && held !== id.value) {
          this.conflict({ type: 'unique', identifier: id, kind: id.kind });
          continue;
        }
        values.set(id.kind, id.value);
      }
      keep.push(id);
    }
    const accepted: { p: number; reason: Identifier }[] = [];
    for (const t of [...byUnique, ...byOther]) {
      const clash = this.clashWith(values, t.p);
      if (clash !== null) {
        this.conflict({ type: 'unique', identifier: t.reason, kind: clash });
        continue;
      }
      if (count + this.count[t.p] > this.max) {
        this.conflict({ type: 'cap', identifier: t.reason });
        continue;
      }
      for (const [k, v] of this.unique[t.p]) values.set(k, v);
      count += this.count[t.p];
      accepted.push(t);
    }
    let person = anchor;
    for (const t of accepted) person = person < 0 ? t.p : this.union(person, t.p, t.reason);
    for (const id of keep) {
      if (person < 0) person = this.newPerson(null);
      else if (this.count[person] >= this.max) {
        this.conflict({ type: 'cap', identifier: id });
        continue;
      }
      this.attach(person, id);
    }
    if (orderKey !== null && anchor < 0 && (person >= 0 || orderOwner === undefined)) this.orders.set(orderKey, person);
    return person;
  }

  private prevOrder: string | null = null;
  private prevIds: readonly Identifier[] | null = null;

  /**
   * Resolves one line of a file read in memory (training, evaluation): resolve() with the line's order,
   * skipped when the line repeats the previous one's order and identifiers (nothing new to learn).
   * Read the people with orderCustomerId once every line is in.
   */
  addLine(identifiers: readonly Identifier[], orderKey: string): void {
    if (orderKey === this.prevOrder && this.prevIds !== null && sameIds(this.prevIds, identifiers)) return;
    this.prevOrder = orderKey;
    this.prevIds = identifiers;
    this.resolve(identifiers, orderKey);
  }

  /** Who placed an order (memoryId), or null for a guest order or an unknown one. */
  orderCustomerId(orderKey: string): string | null {
    const p = this.orderOwner(orderKey);
    return p === undefined || p < 0 ? null : this.memoryId(p);
  }

  private newPerson(existing: string | null): number {
    const p = this.parent.length;
    this.parent.push(p);
    this.existing.push(existing);
    this.unique.push(new Map());
    this.count.push(0);
    this.firstKey.push('');
    return p;
  }

  private attach(p: number, id: Identifier): void {
    const key = identifierKey(id);
    this.owner.set(key, p);
    this.count[p]++;
    if (UNIQUE.has(id.kind)) this.unique[p].set(id.kind, id.value);
    if (this.firstKey[p] === '') this.firstKey[p] = key;
    if (this.log) this.attached.push({ identifier: id, person: p });
  }

  private conflict(c: IdentityConflict): void {
    this.conflictCount++;
    if (this.log) this.conflicts.push(c);
  }

  /** Whether a is older than b (existing by id, then created here in order). */
  private older(a: number, b: number): boolean {
    const x = this.existing[a];
    const y = this.existing[b];
    if (x !== null && y !== null) return compareIds(x, y) < 0;
    if (x !== null) return true;
    if (y !== null) return false;
    return a < b;
  }

  /** The unique kind on which a person holds another value than `values`, or null when they fit. */
  private clashWith(values: ReadonlyMap<string, string>, b: number): IdentifierKind | null {
    for (const [kind, value] of this.unique[b]) {
      const held = values.get(kind);
      if (held !== undefined && held !== value) return kind as IdentifierKind;
    }
    return null;
  }

  /** Merges two roots; the older survives (and takes the other's unique values). Returns the survivor. */
  private union(a: number, b: number, reason: Identifier): number {
    const [s, m] = this.older(a, b) ? [a, b] : [b, a];
    this.parent[m] = s;
    this.count[s] += this.count[m];
    for (const [k, v] of this.unique[m]) this.unique[s].set(k, v);
    if (this.firstKey[s] === '') this.firstKey[s] = this.firstKey[m];
    this.mergeCount++;
    if (this.log) this.merges.push({ survivor: s, merged: m, reason });
    return s;
  }
}

function sameIds(a: readonly Identifier[], b: readonly Identifier[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].kind !== b[i].kind || a[i].value !== b[i].value) return false;
  return true;
}
