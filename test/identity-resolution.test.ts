/**
 * One identity resolution for imports, events and training from a file (src/core/identity-graph.ts):
 * the same file imported at batch sizes 1, 7 and 20,000, and with its rows shuffled, groups orders and
 * identifiers into the same customers (with the same products and card summaries), and training straight from the file
 * groups orders the same way.
 * Then the conflict policy (two accounts never merge; counted), placeholders and unparseable identifiers
 * (dropped, counted, the row kept), the identifier cap and the forms of one phone number, on every store backend.
 */
import { mulberry32 } from '../src/core/random.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from '../src/ingest/import-file.js';
import { checkStore } from '../src/store/check-store.js';
import { readHistoryFile } from '../src/ingest/read-history-file.js';
import { pgliteClient } from '../src/store/pglite-client.js';
import { SqlStore } from '../src/store/sql-store.js';
import type { Store } from '../src/store/store.js';
import type { IdentifierKind, OrderLine } from '../src/core/records.js';
import { storeBackends } from './helpers/backends.js';
import { productRows, summaryContents } from './helpers/store-rows.js';

const rng = mulberry32;
const HEADER = 'order_id,line_no,channel,time,account,email,phone,loyalty,device,sku,quantity,unit_price';


interface Person {
  account?: string;
  email?: string;
  phone?: string;
  loyalty?: string;
  device?: string;
}
const KINDS = ['account', 'email', 'phone', 'loyalty', 'device'] as const;

/**
 * Rows of orders whose lines carry different subsets of their buyer's identifiers (sometimes none),
 * with guest orders between them. With `conflicts`, some people share a phone or a device with
 * someone holding another account, and some lines carry a second account or placeholders.
 */
function rows(seed: number, conflicts: boolean): string[] {
  const r = rng(seed);
  const people: Person[] = [];
  for (let i = 0; i < 40; i++) {
    const p: Person = {};
    if (r() < 0.5) p.account = `AC${i}`;
    if (r() < 0.7) p.email = `p${i}@shop.example`;
    if (r() < 0.5) p.phone = `07700 9${String(10000 + i).slice(1)}`;
    if (r() < 0.4) p.loyalty = `L${i}`;
    if (r() < 0.3) p.device = `dev-${i}`;
    if (Object.keys(p).length === 0) p.email = `p${i}@shop.example`;
    people.push(p);
  }
  if (conflicts) {
    // accounts sharing a household phone, loyalty cards sharing a device
    people[1] = { ...people[1], account: 'AC1', phone: '07700 900777' };
    people[2] = { ...people[2], account: 'AC2', phone: '+44 (0)7700 900777' };
    people[3] = { ...people[3], loyalty: 'L3', device: 'shared-tablet' };
    people[4] = { ...people[4], loyalty: 'L4', device: 'shared-tablet' };
  }
  const out: string[] = [];
  let o = 0;
  const line = (order: string, no: number, time: string, ids: Partial<Record<(typeof KINDS)[number], string>>, sku: string) =>
    `${order},${no},web,${time},${KINDS.map((k) => ids[k] ?? '').join(',')},${sku},1,2.5`;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < people.length; i++) {
      const shared = conflicts && i >= 1 && i <= 4; // the people sharing a value: in every round, every identifier
      if (r() < 0.3 && !shared) continue;
      const p = people[i];
      const order = `W${++o}`;
      const time = new Date(Date.UTC(2024, 0, 1 + o)).toISOString();
      const n = 1 + Math.floor(r() * 3);
      for (let l = 1; l <= n; l++) {
        // each line a random part of the buyer's identifiers (possibly none)
        const ids: Partial<Record<(typeof KINDS)[number], string>> = {};
        for (const k of KINDS) if (p[k] !== undefined && (shared || r() < 0.45)) ids[k] = p[k];
        if (conflicts && l === 2 && i % 13 === 5) ids.account = `AC-other-${i}`; // a second account in one order
        if (conflicts && l === 1 && i % 11 === 3) ids.email = 'none@none.com';
        if (conflicts && l === 1 && i % 11 === 4) ids.phone = 'N/A';
        out.push(line(order, l, time, ids, `S${(i * 7 + l) % 23}`));
      }
      if (r() < 0.2) out.push(line(`G${o}`, 1, time, {}, `S${o % 23}`)); // a guest order
    }
  }
  return out;
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const r = rng(seed);
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** A partition as a canonical string: groups sorted, members sorted. */
const canonical = (groups: Iterable<Iterable<string>>): string[] =>
  [...groups].map((g) => [...g].sort().join(' ')).sort();

/** Orders grouped by customer (guest orders left out), and identifiers grouped by customer. */
async function partitions(store: Store): Promise<{ orders: string[]; identifiers: string[]; guests: string[] }> {
  const db = (store as SqlStore).db;
  const o = await db.query<{ s: string; c: string | null }>('SELECT source_id AS s, customer_id::text AS c FROM orders');
  const byCustomer = new Map<string, string[]>();
  const guests: string[] = [];
  for (const { s, c } of o.rows) {
    if (c === null) guests.push(s);
    else byCustomer.set(c, [...(byCustomer.get(c) ?? []), s]);
  }
  const i = await db.query<{ k: string; c: string }>("SELECT kind || ':' || value AS k, customer_id::text AS c FROM customer_identifiers");
  const ids = new Map<string, string[]>();
  for (const { k, c } of i.rows) ids.set(c, [...(ids.get(c) ?? []), k]);
  return { orders: canonical(byCustomer.values()), identifiers: canonical(ids.values()), guests: guests.sort() };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'omnirec-identity-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const backend of storeBackends()) {
  describe(`one identity resolution (${backend.name})`, () => {
    async function importAt(file: string, batchSize: number) {
      const { store, cleanup } = await backend.open();
      try {
        const summary = await importFiles(store, [file], { batchSize, worker: false });
        expect((await checkStore((store as SqlStore).db)).failures).toEqual([]);
        return { summary, ...(await partitions(store)), products: await productRows(store), summaries: await summaryContents(store) };
      } finally {
        await cleanup();
      }
    }

    it('the same grouping at batch sizes 1, 7 and 20,000, with rows shuffled, and when training from the file', async () => {
      const data = rows(7, false);
      const files: string[] = [];
      for (const [name, r] of [['clean', data], ['shuffled-a', shuffled(data, 1)], ['shuffled-b', shuffled(data, 2)]] as const) {
        const f = join(dir, `${backend.name}-${name}.csv`);
        await writeFile(f, [HEADER, ...r].join('\n') + '\n');
        files.push(f);
      }
      const reference = await importAt(files[0], 20_000);
      expect(reference.summary.imported).toBe(data.length);
      // lines of one order carry different identifiers, so the grouping is not just "rows sharing a value"
      expect(reference.orders.length).toBeGreaterThan(20);
      expect(reference.orders.length).toBeLessThanOrEqual(40);
      expect(reference.orders.filter((g) => g.includes(' ')).length).toBeGreaterThan(10); // customers with several orders
      for (const [file, size] of [[files[0], 1], [files[0], 7], [files[1], 20_000], [files[2], 7]] as const) {
        const got = await importAt(file, size);
        expect(got.orders, `${file} at ${size}`).toEqual(reference.orders);
        expect(got.identifiers, `${file} at ${size}`).toEqual(reference.identifiers);
        expect(got.guests).toEqual(reference.guests);
        // and the same catalogue and card summaries (test/import-products-order-free.test.ts: changing products)
        expect(got.products, `${file} at ${size}`).toEqual(reference.products);
        expect(got.summaries, `${file} at ${size}`).toEqual(reference.summaries);
      }
      // training straight from the file: orders grouped by the same people
      for (const f of files) {
        const h = await readHistoryFile(f);
        const byCustomer = new Map<string, Set<string>>();
        for (const l of h.lines) if (l.customerId !== null) byCustomer.set(l.customerId, (byCustomer.get(l.customerId) ?? new Set()).add(l.orderId));
        expect(canonical(byCustomer.values())).toEqual(reference.orders);
      }
    }, 240_000);

    it('with conflicts, placeholders and bad identifiers: the same grouping at every batch size and from the file; counted', async () => {
      const data = rows(11, true);
      const f = join(dir, `${backend.name}-conflicts.csv`);
      await writeFile(f, [HEADER, ...data].join('\n') + '\n');
      const reference = await importAt(f, 20_000);
      expect(reference.summary.imported).toBe(data.length); // no row lost to a bad identifier
      expect(reference.summary.conflicts).toBeGreaterThan(0);
      expect(reference.summary.droppedIdentifiers.placeholder_identifier).toBeGreaterThan(0);
      for (const size of [1, 7]) {
        const got = await importAt(f, size);
        expect(got.orders, `batch size ${size}`).toEqual(reference.orders);
        expect(got.identifiers, `batch size ${size}`).toEqual(reference.identifiers);
        expect(got.summary.conflicts).toBeGreaterThan(0);
      }
      // no customer holds two accounts or two loyalty cards; no placeholder was kept
      for (const group of reference.identifiers) {
        const ids = group.split(' ');
        expect(ids.filter((x) => x.startsWith('account:')).length, group).toBeLessThanOrEqual(1);
        expect(ids.filter((x) => x.startsWith('loyalty:')).length, group).toBeLessThanOrEqual(1);
        expect(group).not.toContain('none@none.com');
      }
      // the two accounts sharing a phone (in two spellings) stay two customers
      const holding = (id: string) => reference.identifiers.find((g) => g.split(' ').includes(id));
      expect(holding('account:AC1')).toBeDefined();
      expect(holding('account:AC1')).not.toBe(holding('account:AC2'));
      const h = await readHistoryFile(f);
      const byCustomer = new Map<string, Set<string>>();
      for (const l of h.lines) if (l.customerId !== null) byCustomer.set(l.customerId, (byCustomer.get(l.customerId) ?? new Set()).add(l.orderId));
      expect(canonical(byCustomer.values())).toEqual(reference.orders);
    }, 240_000);

    it('purchase events posted at once (written together, several to a transaction) resolve as one by one; each told its own counts', async () => {
      // every order of the conflict file as one event, plus re-posts of some of them; the same calls one
      // after another in one store and all at once in another
      const byOrder = new Map<string, OrderLine[]>();
      for (const row of rows(11, true)) {
        const [order, no, channel, time, account, email, phone, loyalty, device, sku, quantity, price] = row.split(',');
        const ids = Object.entries({ account, email, phone, loyalty, device })
          .filter(([, v]) => v !== '' && !['none@none.com', 'N/A'].includes(v))
          .map(([kind, value]) => ({ kind: kind as IdentifierKind, value: kind === 'phone' ? value.replace(/\D/g, '').replace(/^0/, '44') : value }));
        const line: OrderLine = { orderId: order, source: 'event', channel: channel as 'web', storeId: null, time: Date.parse(time), identifiers: ids, sku, title: null, category: null, quantity: Number(quantity), unitPrice: Number(price), cancels: null, lineNo: Number(no) };
        byOrder.set(order, [...(byOrder.get(order) ?? []), line]);
      }
      const events = [...byOrder.values()];
      const calls = [...events, ...events.filter((_, i) => i % 9 === 0)];
      const oneByOne = await backend.open();
      const atOnce = await backend.open();
      try {
        const sequential = [];
        for (const c of calls) sequential.push(await oneByOne.store.importLines(c));
        const together = await Promise.all(calls.map((c) => atOnce.store.importLines(c)));
        expect(together).toEqual(sequential);
        expect(sequential.some((r) => r.merges > 0)).toBe(true);
        expect(sequential.some((r) => (r.conflicts ?? 0) > 0)).toBe(true);
        expect(sequential.some((r) => r.duplicates > 0)).toBe(true);
        const [a, b] = [await partitions(oneByOne.store), await partitions(atOnce.store)];
        expect(b.orders).toEqual(a.orders);
        expect(b.identifiers).toEqual(a.identifiers);
        expect((await checkStore((atOnce.store as SqlStore).db)).failures).toEqual([]);
        // and they did share transactions: rows one transaction inserted share its xmin
        const orders = await (atOnce.store as SqlStore).db.query<{ n: number; tx: number }>('SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS tx FROM orders');
        expect(orders.rows[0].n).toBe(events.length);
        expect(orders.rows[0].tx).toBeLessThan(events.length / 4);
      } finally {
        await oneByOne.cleanup();
        await atOnce.cleanup();
      }
    }, 240_000);

    it('of events written together, one the store refuses fails alone', async () => {
      const { store, cleanup } = await backend.open();
      try {
        const line = (orderId: string, quantity: number): OrderLine[] => [
          { orderId, source: 'event', channel: 'web', storeId: null, time: Date.UTC(2024, 0, 2), identifiers: [{ kind: 'email', value: `${orderId}@x.io` }], sku: 'A', title: null, category: null, quantity, unitPrice: 1, cancels: null, lineNo: 1 },
        ];
        // numeric(14,3): a quantity of 10^12 overflows the column
        const results = await Promise.allSettled([line('E0', 1), line('E1', 1), line('E2', 1e12), line('E3', 2)].map((c) => store.importLines(c)));
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
        expect((results[3] as PromiseFulfilledResult<{ imported: number }>).value.imported).toBe(1);
        expect(await store.findCustomer({ kind: 'email', value: 'E2@x.io' })).toBeNull();
        expect((await store.totals()).orders).toBe(3);
      } finally {
        await cleanup();
      }
    });

    it('an order whose lines carry different identifiers is one customer even when its lines come in separate events', async () => {
      const { store, cleanup } = await backend.open();
      try {
        const base = { orderId: 'O1', channel: 'web' as const, storeId: null, time: Date.UTC(2024, 0, 2), title: null, category: null, quantity: 1, unitPrice: 1, cancels: null };
        await store.importLines([{ ...base, lineNo: 1, identifiers: [], sku: 'A' }]); // a guest line first
        await store.importLines([{ ...base, lineNo: 2, identifiers: [{ kind: 'email', value: 'a@x.io' }], sku: 'B' }]);
        await store.importLines([{ ...base, lineNo: 3, identifiers: [{ kind: 'phone', value: '447700900123' }], sku: 'C' }]);
        const c = await store.findCustomer({ kind: 'email', value: 'a@x.io' });
        expect(c).not.toBeNull();
        expect(await store.findCustomer({ kind: 'phone', value: '447700900123' })).toBe(c);
        expect((await store.customerHistory(c!)).map((l) => l.sku)).toEqual(['A', 'B', 'C']);
        expect((await store.totals()).customers).toBe(1);
      } finally {
        await cleanup();
      }
    });
  });
}

describe('identity rules in the store', () => {
  it('a customer collects at most MAX_IDENTIFIERS_PER_CUSTOMER identifiers; the rest are not attached (counted)', async () => {
    const store = new SqlStore(await pgliteClient({}), { maxIdentifiers: 3 });
    await store.migrate();
    try {
      const base = { orderId: 'O1', channel: 'web' as const, storeId: null, time: Date.UTC(2024, 0, 2), title: null, category: null, quantity: 1, unitPrice: 1, cancels: null, sku: 'A' };
      const devices = ['d1', 'd2', 'd3', 'd4', 'd5'].map((value) => ({ kind: 'device' as const, value }));
      const r = await store.importLines([{ ...base, lineNo: 1, identifiers: devices }]);
      expect(r.conflicts).toBe(2);
      const c = (await store.findCustomer(devices[0]))!;
      expect((await store.customerIdentifiers(c)).map((i) => i.value)).toEqual(['d1', 'd2', 'd3']);
      expect(await store.findCustomer(devices[4])).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('national and international forms of one number are one customer; an unparseable phone is dropped, not the row', async () => {
    const store = new SqlStore(await pgliteClient({}));
    await store.migrate();
    try {
      const csv = join(dir, 'phones.csv');
      await writeFile(
        csv,
        [
          'order_id,time,phone,email,sku,quantity',
          'P1,2024-01-02T00:00:00Z,0044 (0)7700 900123,,A,1',
          'P2,2024-01-03T00:00:00Z,+44 (0)7700 900123,,B,1',
          'P3,2024-01-04T00:00:00Z,07700 900123,,C,1',
          'P4,2024-01-05T00:00:00Z,N/A,b@x.io,D,1',
          'P5,2024-01-06T00:00:00Z,call me,c@x.io,E,1',
        ].join('\n') + '\n',
      );
      const s = await importFiles(store, [csv], { defaultCountryCode: '44' });
      expect(s.imported).toBe(5);
      expect(s.rejected).toEqual({});
      expect(s.droppedIdentifiers).toEqual({ placeholder_identifier: 1, invalid_identifier: 1 });
      const c = (await store.findCustomer({ kind: 'phone', value: '447700900123' }))!;
      expect((await store.customerHistory(c)).map((l) => l.orderId)).toEqual(['P1', 'P2', 'P3']);
      expect(await store.findCustomer({ kind: 'email', value: 'b@x.io' })).not.toBeNull();
      expect((await store.totals()).customers).toBe(3);
    } finally {
      await store.close();
    }
  });
});
