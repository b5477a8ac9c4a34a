/**
 * The history-store contract, run against every backend available (test/helpers/backends.ts):
 * embedded PGlite always, PostgreSQL when DATABASE_URL is set. Each test gets its own database.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../src/core/errors.js';
import type { Channel, HistoryLine, Identifier, OrderLine } from '../src/core/records.js';
import { OrderIdAllocator, planImport } from '../src/store/import-plan.js';
import type { Store } from '../src/store/store.js';
import type { SqlStore } from '../src/store/sql-store.js';
import { storeBackends, type OpenedStore } from './helpers/backends.js';
import { withBadLastLine } from './helpers/broken-plan.js';

const email = (value: string): Identifier => ({ kind: 'email', value });
const phone = (value: string): Identifier => ({ kind: 'phone', value });
const loyalty = (value: string): Identifier => ({ kind: 'loyalty', value });
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

function line(orderId: string, lineNo: number | undefined, identifiers: Identifier[], sku: string, o: Partial<OrderLine> = {}): OrderLine {
  return {
    orderId,
    channel: 'web' as Channel,
    storeId: null,
    time: T0,
    identifiers,
    sku,
    title: null,
    category: null,
    quantity: 1,
    unitPrice: 10,
    cancels: null,
    ...(lineNo === undefined ? {} : { lineNo }),
    ...o,
  };
}

async function allHistory(store: Store, options?: Parameters<Store['historyLines']>[0]): Promise<HistoryLine[][]> {
  const out: HistoryLine[][] = [];
  for await (const b of store.historyLines(options)) out.push(b);
  return out;
}

for (const backend of storeBackends()) {
  describe(`store contract: ${backend.name}`, () => {
    let opened: OpenedStore;
    let store: Store;
    beforeEach(async () => {
      opened = await backend.open();
      store = opened.store;
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    it('applies migrations at open, and again changes nothing', async () => {
      expect(store.backend).toBe(backend.name);
      expect(await store.migrate()).toEqual([]);
      expect(await store.totals()).toEqual({ customers: 0, products: 0, orders: 0, lines: 0, stores: 0 });
      await store.ping();
    });

    it('seed case: online order (email + loyalty) and store order (phone + same loyalty) are one customer', async () => {
      const r1 = await store.importLines([line('W1', 1, [email('e@x.com'), loyalty('L1')], 'A')]);
      const r2 = await store.importLines([
        line('S1', 1, [phone('447700900123'), loyalty('L1')], 'B', { channel: 'store', storeId: 'S-LON', time: T0 + DAY }),
      ]);
      expect(r1).toEqual({ imported: 1, duplicates: 0, merges: 0 });
      expect(r2).toEqual({ imported: 1, duplicates: 0, merges: 0 });
      const id = await store.findCustomer(email('e@x.com'));
      expect(id).not.toBeNull();
      expect(await store.findCustomer(phone('447700900123'))).toBe(id);
      expect(await store.findCustomer(loyalty('L1'))).toBe(id);
      const p = (await store.customerProfile(id!))!;
      expect(p.orders).toBe(2);
      expect(p.channels).toEqual({ web: 1, store: 1 });
      expect(p.identifiers).toHaveLength(3);
      expect(p.firstOrderAt).toBe(new Date(T0).toISOString());
      expect(p.lastOrderAt).toBe(new Date(T0 + DAY).toISOString());
      expect(p.revenue).toBe(20);
      expect(await store.totals()).toEqual({ customers: 1, products: 2, orders: 2, lines: 2, stores: 1 });
    });

    it('two-way merge: the older customer survives, the other id becomes an alias, the merge is logged', async () => {
      const a = await store.resolveIdentity([email('a@x')]);
      const b = await store.resolveIdentity([phone('111')]);
      await store.importLines([line('B1', 1, [phone('111')], 'X')]);
      expect(a).not.toBe(b);
      const r = await store.importLines([line('AB1', 1, [email('a@x'), phone('111')], 'Y')]);
      expect(r.merges).toBe(1);
      expect(await store.canonicalCustomerId(b)).toBe(a);
      expect(await store.canonicalCustomerId(a)).toBe(a);
      expect(await store.findCustomer(phone('111'))).toBe(a);
      expect((await store.customerProfile(b))!.customerId).toBe(a);
      expect((await store.customerProfile(a))!.orders).toBe(2);
      const log = await store.mergeLog(b);
      expect(log).toHaveLength(1);
      expect(log[0]).toMatchObject({ survivor: a, merged: b, reason: phone('111') });
      expect(Number.isNaN(Date.parse(log[0].at))).toBe(false);
      expect((await store.totals()).customers).toBe(1);
    });

    it('three-way merge from one record', async () => {
      const a = await store.resolveIdentity([email('a')]);
      const b = await store.resolveIdentity([email('b')]);
      const c = await store.resolveIdentity([email('c')]);
      const r = await store.importLines([line('O', 1, [email('c'), email('b'), email('a')], 'X')]);
      expect(r.merges).toBe(2);
      expect(await store.canonicalCustomerId(b)).toBe(a);
      expect(await store.canonicalCustomerId(c)).toBe(a);
      expect((await store.mergeLog(a)).map((m) => [m.merged, m.reason.value])).toEqual([
        [b, 'b'],
        [c, 'c'],
      ]);
      expect((await store.totals()).customers).toBe(1);
    });

    it('transitive chain across batches: aliases always point at the final survivor', async () => {
      const a = await store.resolveIdentity([email('a')]);
      const b = await store.resolveIdentity([email('b')]);
      const c = await store.resolveIdentity([email('c')]);
      expect(await store.resolveIdentity([email('b'), email('c')])).toBe(b); // c → b
      expect(await store.canonicalCustomerId(c)).toBe(b);
      expect(await store.resolveIdentity([email('a'), email('b')])).toBe(a); // b → a, so c → a
      expect(await store.canonicalCustomerId(c)).toBe(a);
      expect(await store.canonicalCustomerId(b)).toBe(a);
      expect(await store.mergeLog(c)).toHaveLength(2);
    });

    it('transitive chain within one batch: orders linked through a new identifier merge their customers', async () => {
      const a = await store.resolveIdentity([email('a')]);
      const b = await store.resolveIdentity([email('b')]);
      const r = await store.importLines([
        line('O1', 1, [email('a'), loyalty('NEW')], 'X'),
        line('O2', 1, [loyalty('NEW'), phone('9')], 'Y'),
        line('O3', 1, [phone('9'), email('b')], 'Z'),
        line('O4', 1, [email('unrelated')], 'Z'),
      ]);
      expect(r.merges).toBe(1);
      expect(await store.canonicalCustomerId(b)).toBe(a);
      for (const i of [loyalty('NEW'), phone('9'), email('b')]) expect(await store.findCustomer(i)).toBe(a);
      const other = await store.findCustomer(email('unrelated'));
      expect(other).not.toBe(a);
      expect((await store.customerProfile(a))!.orders).toBe(3);
      expect((await store.totals()).customers).toBe(2);
    });

    it('conflicting record: identifiers of A and B plus a new one → one customer holding all three', async () => {
      const a = await store.resolveIdentity([email('a')]);
      const b = await store.resolveIdentity([phone('2')]);
      const id = await store.resolveIdentity([phone('2'), loyalty('N'), email('a')]);
      expect(id).toBe(a);
      expect(await store.findCustomer(loyalty('N'))).toBe(a);
      expect(await store.canonicalCustomerId(b)).toBe(a);
      expect((await store.customerProfile(a))!.identifiers).toEqual([email('a'), loyalty('N'), phone('2')]);
      expect(await store.mergeLog(a)).toEqual([expect.objectContaining({ survivor: a, merged: b, reason: phone('2') })]);
    });

    it('consent moves with a merge and the latest record per purpose wins', async () => {
      const a = await store.resolveIdentity([email('a')]);
      const b = await store.resolveIdentity([email('b')]);
      await store.setConsent(a, 'personalisation', true, 'web', new Date(T0));
      await store.setConsent(a, 'email', true, 'web', new Date(T0));
      await store.setConsent(b, 'personalisation', false, 'till', new Date(T0 + DAY)); // later: wins
      await store.setConsent(b, 'sms', true, 'till', new Date(T0 + DAY));
      expect(await store.hasConsent(a, 'personalisation')).toBe(true);
      await store.resolveIdentity([email('a'), email('b')]);
      expect(await store.hasConsent(a, 'personalisation')).toBe(false);
      expect(await store.hasConsent(b, 'personalisation')).toBe(false); // alias resolves
      expect(await store.hasConsent(a, 'email')).toBe(true);
      expect(await store.hasConsent(a, 'sms')).toBe(true);
      expect(await store.hasConsent(a, 'push')).toBe(false); // nothing recorded: no consent
      const consent = (await store.customerProfile(a))!.consent;
      expect(consent.map((c) => [c.purpose, c.granted, c.basis, c.source])).toEqual([
        ['personalisation', false, 'recorded', 'till'],
        ['email', true, 'recorded', 'web'],
        ['sms', true, 'recorded', 'till'],
        ['push', false, 'default', undefined], // nothing recorded: the default (refused)
      ]);
      await expect(store.setConsent('999999', 'email', true, 'x')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('importConsent: many events at once, people found or created by identifiers, latest per purpose wins', async () => {
      const a = await store.resolveIdentity([email('a')]);
      const n = await store.importConsent([
        { identifiers: [email('a')], purpose: 'personalisation', granted: true, time: T0, source: 'web' },
        { identifiers: [email('a')], purpose: 'personalisation', granted: false, time: T0 + DAY, source: 'app' },
        { identifiers: [phone('5'), email('new')], purpose: 'email', granted: true, time: null, source: 'till' },
        { identifiers: [], purpose: 'sms', granted: true, time: T0, source: 'x' }, // nobody: skipped
      ]);
      expect(n).toBe(3);
      expect(await store.hasConsent(a, 'personalisation')).toBe(false);
      const b = await store.findCustomer(phone('5'));
      expect(b).not.toBeNull();
      expect(await store.findCustomer(email('new'))).toBe(b);
      expect(await store.hasConsent(b!, 'email')).toBe(true);
      expect((await store.totals()).customers).toBe(2);
    });

    it('customerAccess: survivor id and personalisation consent in one call, as canonicalCustomerId + hasConsent', async () => {
      const a = await store.resolveIdentity([email('a')]);
      const b = await store.resolveIdentity([email('b')]);
      const c = await store.resolveIdentity([email('c')]);
      expect(await store.customerAccess(a)).toEqual({ canonicalId: a, personalisation: false }); // nothing recorded
      await store.setConsent(a, 'personalisation', true, 'web', new Date(T0));
      await store.setConsent(a, 'email', false, 'web', new Date(T0 + 2 * DAY)); // another purpose: no effect
      await store.setConsent(c, 'personalisation', true, 'web', new Date(T0));
      await store.setConsent(c, 'personalisation', false, 'app', new Date(T0 + DAY)); // latest wins
      expect(await store.customerAccess(a)).toEqual({ canonicalId: a, personalisation: true });
      expect(await store.customerAccess(c)).toEqual({ canonicalId: c, personalisation: false });
      await store.resolveIdentity([email('a'), email('b')]); // b merged into a
      expect(await store.customerAccess(b)).toEqual({ canonicalId: a, personalisation: true });
      expect(await store.customerAccess('999999')).toBeNull();
      expect(await store.customerAccess('not-an-id')).toBeNull();
      await store.eraseCustomer(a);
      expect(await store.customerAccess(a)).toBeNull();
      expect(await store.customerAccess(b)).toBeNull();
    });

    it('importConsent is idempotent: identical events (customer, purpose, granted, time, source) are recorded once', async () => {
      const events = [
        { identifiers: [email('a')], purpose: 'personalisation' as const, granted: true, time: T0, source: 'web' },
        { identifiers: [email('a')], purpose: 'personalisation' as const, granted: false, time: T0 + DAY, source: 'app' },
        { identifiers: [email('a')], purpose: 'personalisation' as const, granted: false, time: T0 + DAY, source: 'app' }, // same file, twice
        { identifiers: [phone('5')], purpose: 'email' as const, granted: true, time: T0, source: 'till' },
      ];
      expect(await store.importConsent(events)).toBe(3);
      const a = (await store.findCustomer(email('a')))!;
      // a later withdrawal at another time or source is a new event
      expect(await store.importConsent([{ ...events[0], time: T0 + 2 * DAY }])).toBe(1);
      expect(await store.hasConsent(a, 'personalisation')).toBe(true);
      // importing the same file again changes nothing: the grant at T0 + 2d stays in force
      expect(await store.importConsent(events)).toBe(0);
      expect(await store.hasConsent(a, 'personalisation')).toBe(true);
      expect((await store.totals()).customers).toBe(2);
      // setConsent with an identical event is a no-op too
      await store.setConsent(a, 'sms', true, 'till', new Date(T0));
      await store.setConsent(a, 'sms', true, 'till', new Date(T0));
      // people merged with the same event recorded twice keep one
      const p = (await store.findCustomer(phone('5')))!;
      await store.importConsent([{ identifiers: [email('a')], purpose: 'email', granted: true, time: T0, source: 'till' }]);
      await store.resolveIdentity([email('a'), phone('5')]);
      const merged = (await store.customerProfile(p))!;
      expect(merged.consent.filter((c) => c.basis === 'recorded').map((c) => [c.purpose, c.granted, c.source])).toEqual([
        ['personalisation', true, 'web'],
        ['email', true, 'till'],
        ['sms', true, 'till'],
      ]);
      expect(await store.importConsent([{ identifiers: [phone('5')], purpose: 'email', granted: true, time: T0, source: 'till' }])).toBe(0);
      // an undated event is recorded once (as of -infinity: it never overrides a dated choice)
      const undated = { identifiers: [email('a')], purpose: 'push' as const, granted: true, time: null, source: 'app' };
      expect(await store.importConsent([undated])).toBe(1);
      expect(await store.importConsent([undated])).toBe(0);
      expect(await store.importConsent([{ ...undated, granted: false }])).toBe(1);
      expect(await store.hasConsent(a, 'push')).toBe(false);
    });

    it('import is idempotent by (order, line number), and by content hash when lines have no number', async () => {
      const batch = [
        line('O1', 1, [email('a')], 'X', { quantity: 2 }),
        line('O1', 2, [email('a')], 'Y'),
        line('O1', 3, [email('a')], 'Y'), // same content, another position: a line of its own
        line('G1', 1, [], 'X'),
      ];
      expect(await store.importLines(batch)).toEqual({ imported: 4, duplicates: 0, merges: 0 });
      const before = await store.totals();
      expect(await store.importLines(batch)).toEqual({ imported: 0, duplicates: 4, merges: 0 });
      expect(await store.totals()).toEqual(before);

      const unnumbered = [line('H1', undefined, [email('h')], 'X'), line('H1', undefined, [email('h')], 'X'), line('H1', undefined, [email('h')], 'Z')];
      expect((await store.importLines(unnumbered)).imported).toBe(3);
      expect(await store.importLines(unnumbered)).toEqual({ imported: 0, duplicates: 3, merges: 0 });
      expect((await store.totals()).lines).toBe(7);
    });

    it('an order split across batches keeps one order row', async () => {
      await store.importLines([line('O1', 1, [email('a')], 'X')]);
      const r = await store.importLines([line('O1', 2, [email('a')], 'Y'), line('O1', 1, [email('a')], 'X')]);
      expect(r).toEqual({ imported: 1, duplicates: 1, merges: 0 });
      expect(await store.totals()).toMatchObject({ orders: 1, lines: 2, customers: 1 });
    });

    it('planned batches: an order continued in the next batch keeps its reserved id; a batch written twice adds nothing', async () => {
      const ids = new OrderIdAllocator();
      ids.supply(await store.reserveOrderIds(3));
      const first = planImport([line('O1', 1, [email('a')], 'X'), line('O2', 1, [], 'Y')], ids);
      const second = planImport([line('O2', 2, [], 'Z'), line('O3', 1, [email('a')], 'X')], ids);
      expect(second.orderIds[0]).toBe(first.orderIds[1]); // O2 continues under the same id
      // (so the second batch's lines are not copied ahead of the first's commit: ImportPlan.freshIds)
      expect([first.freshIds, second.freshIds]).toEqual([true, false]);
      const written = store.importPlan(first);
      expect(await store.importPlan(second, { after: written })).toEqual({ imported: 2, duplicates: 0, merges: 0 });
      expect(await written).toEqual({ imported: 2, duplicates: 0, merges: 0 });
      // the same bytes again: the orders exist under these very ids, so the lines' COPY collides and is undone
      expect(await store.importPlan(second)).toEqual({ imported: 0, duplicates: 2, merges: 0 });
      expect(await store.totals()).toMatchObject({ orders: 3, lines: 4, customers: 1 });
      const [batch] = await allHistory(store);
      expect(batch.map((h) => [h.orderId, h.sku])).toEqual([['O1', 'X'], ['O2', 'Y'], ['O2', 'Z'], ['O3', 'X']]);
    });

    it('a batch whose lines fail leaves nothing of it (no order without lines); importing it again writes it whole', async () => {
      const lines = [
        [line('O1', 1, [email('a')], 'X'), line('O2', 1, [], 'Y')],
        [line('O2', 2, [], 'Z'), line('O3', 1, [email('b')], 'X', { quantity: 3 }), line('O3', 2, [email('b')], 'W')],
      ];
      const ids = new OrderIdAllocator();
      ids.supply(await store.reserveOrderIds(3));
      const [first, second] = lines.map((l) => planImport(l, ids));
      expect(await store.importPlan(first)).toEqual({ imported: 2, duplicates: 0, merges: 0 });
      // the second batch's COPY fails on its last row: its orders, customer and lines are all rolled back
      await expect(store.importPlan(withBadLastLine(second))).rejects.toThrow();
      expect(await store.totals()).toMatchObject({ orders: 2, lines: 2, customers: 1 });
      expect((await store.checkInvariants()).failures).toEqual([]);
      expect(await store.importLines(lines[1])).toEqual({ imported: 3, duplicates: 0, merges: 0 });
      expect(await store.importLines(lines.flat())).toEqual({ imported: 0, duplicates: 5, merges: 0 });
      expect(await store.totals()).toMatchObject({ orders: 3, lines: 5, customers: 2 });
      const [batch] = await allHistory(store);
      expect(batch.map((h) => [h.orderId, h.sku, h.quantity])).toEqual([['O1', 'X', 1], ['O2', 'Y', 1], ['O2', 'Z', 1], ['O3', 'X', 3], ['O3', 'W', 1]]);
    });

    it('orders are keyed by source and order id: the same id from two sources is two orders', async () => {
      const web = [line('1001', 1, [email('a')], 'X', { source: 'web' }), line('1001', 2, [email('a')], 'Y', { source: 'web' })];
      const till = [line('1001', 1, [phone('447700900123')], 'Z', { source: 'store', channel: 'store' }), line('1001', 2, [phone('447700900123')], 'W', { source: 'store', channel: 'store' })];
      expect(await store.importLines(web)).toEqual({ imported: 2, duplicates: 0, merges: 0 });
      expect(await store.importLines(till)).toEqual({ imported: 2, duplicates: 0, merges: 0 });
      expect(await store.importLines([...web, ...till])).toEqual({ imported: 0, duplicates: 4, merges: 0 });
      expect(await store.totals()).toMatchObject({ orders: 2, lines: 4, customers: 2 });
      const a = await store.findCustomer(email('a'));
      expect((await store.customerHistory(a!)).map((h) => h.sku)).toEqual(['X', 'Y']);
      // a line without a source takes its channel's: the web order again
      expect(await store.importLines([line('1001', 3, [email('a')], 'V')])).toEqual({ imported: 1, duplicates: 0, merges: 0 });
      expect((await store.totals()).orders).toBe(2);
      expect((await store.checkInvariants()).ok).toBe(true);
    });

    it('reserved order ids are distinct across calls', async () => {
      const a = await store.reserveOrderIds(5);
      const b = await store.reserveOrderIds(5);
      expect(new Set([...a, ...b]).size).toBe(10);
      expect(await store.reserveOrderIds(0)).toEqual([]);
    });

    it('deferred product updates reach the table at flushProductUpdates, with the same result as written per batch', async () => {
      const ids = new OrderIdAllocator();
      ids.supply(await store.reserveOrderIds(3));
      const batches = [
        planImport([line('O1', 1, [], 'A', { title: 'Old', category: 'Cups', unitPrice: 2, time: T0 })], ids),
        planImport([line('O2', 1, [], 'A', { title: 'New', category: null, unitPrice: 3, time: T0 + DAY })], ids),
        planImport([line('O0', 1, [], 'A', { title: 'Older', unitPrice: 1, time: T0 - DAY })], ids),
      ];
      for (const b of batches) await store.importPlan(b, { deferProductUpdates: true });
      // the first batch created the row; the later changes wait in memory
      expect(await store.products()).toEqual([{ sku: 'A', title: 'Old', category: 'Cups', price: 2, active: true }]);
      expect(await store.flushProductUpdates()).toBe(1);
      expect(await store.products()).toEqual([{ sku: 'A', title: 'New', category: 'Cups', price: 3, active: true }]);
      expect(await store.flushProductUpdates()).toBe(0);
    });

    it('finishImport writes the deferred product updates (beside the summaries, or before them when a category changes): summaries current and matching', async () => {
      const ids = new OrderIdAllocator();
      ids.supply(await store.reserveOrderIds(3));
      const db = (store as SqlStore).db;
      const run = { files: ['f.csv'], rows: 1, imported: 1, duplicates: 0, rejected: 0, skipped: 0, ok: true, startedAt: T0 };
      /** Customers whose stored summary is current (its rev and catalogue those of now). */
      const current = async () =>
        Number(
          (
            await db.query<{ n: string }>(
              `SELECT count(*)::text AS n FROM customer_summaries s JOIN customers c ON c.id = s.customer_id
                WHERE s.rev = c.rev AND s.catalogue = (SELECT rev FROM summary_catalogue)`,
            )
          ).rows[0].n,
        );
      await store.importPlan(planImport([line('O1', 1, [email('a')], 'A', { title: 'Old', category: 'Cups', time: T0 })], ids), { deferProductUpdates: true });
      // a new title, the same category: written beside the summaries
      await store.importPlan(planImport([line('O2', 1, [email('b')], 'A', { title: 'New', category: 'Cups', time: T0 + DAY })], ids), { deferProductUpdates: true });
      await store.finishImport(run);
      expect(await store.products()).toEqual([{ sku: 'A', title: 'New', category: 'Cups', price: 10, active: true }]);
      expect(await current()).toBe(2);
      expect(await store.flushProductUpdates()).toBe(0);
      // a new category: written before the summaries, which are then current and say so
      await store.importPlan(planImport([line('O3', 1, [email('a')], 'A', { title: 'New', category: 'Plates', time: T0 + 2 * DAY })], ids), { deferProductUpdates: true });
      await store.finishImport(run);
      expect(await store.products()).toEqual([{ sku: 'A', title: 'New', category: 'Plates', price: 10, active: true }]);
      expect(await current()).toBe(2);
      const cats = (await db.query<{ data: { categories: { category: string }[] } }>('SELECT data FROM customer_summaries ORDER BY customer_id')).rows;
      expect(cats.map((r) => r.data.categories.map((c) => c.category))).toEqual([['Plates'], ['Plates']]);
      expect((await store.checkInvariants()).failures).toEqual([]);
      expect((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM import_runs')).rows[0].n).toBe('2');
    });

    it('finishImport whose deferred product updates fail: the import fails with their error and records no run; the updates are written by the next flush', async () => {
      const ids = new OrderIdAllocator();
      ids.supply(await store.reserveOrderIds(2));
      const db = (store as SqlStore).db;
      const runs = async () => (await db.query<{ n: string }>('SELECT count(*)::text AS n FROM import_runs')).rows[0].n;
      const run = { files: ['f.csv'], rows: 1, imported: 1, duplicates: 0, rejected: 0, skipped: 0, ok: true, startedAt: T0 };
      await store.importPlan(planImport([line('O1', 1, [email('a')], 'A', { title: 'Old', category: 'Cups', time: T0 })], ids), { deferProductUpdates: true });
      await store.importPlan(planImport([line('O2', 1, [email('b')], 'A', { title: 'New', category: 'Cups', time: T0 + DAY })], ids), { deferProductUpdates: true });
      const before = await runs();
      // the write of the deferred rows fails (in the transaction of the summaries and the run record)
      const s = store as unknown as { writeProductRows(tx: unknown, rows: readonly unknown[]): Promise<unknown[]> };
      const write = s.writeProductRows;
      let failed: readonly unknown[] = [];
      s.writeProductRows = async (_tx, rows) => {
        failed = rows;
        throw new Error('product updates failed');
      };
      try {
        await expect(store.finishImport(run)).rejects.toThrow('product updates failed');
      } finally {
        s.writeProductRows = write;
      }
      expect(failed.length).toBe(1);
      expect(await runs()).toBe(before);
      expect(await store.products()).toEqual([{ sku: 'A', title: 'Old', category: 'Cups', price: 10, active: true }]);
      expect((await store.checkInvariants()).failures).toEqual([]);
      // a later import that sees the product again writes it (this process never recorded the failed rows as written)
      await store.importPlan(planImport([line('O2', 1, [email('b')], 'A', { title: 'New', category: 'Cups', time: T0 + DAY })], ids), { deferProductUpdates: true });
      await store.finishImport(run);
      expect(await store.products()).toEqual([{ sku: 'A', title: 'New', category: 'Cups', price: 10, active: true }]);
    });

    it('guests: lines without identifiers keep their order but no customer', async () => {
      await store.importLines([line('G1', 1, [], 'X'), line('G1', 2, [], 'Y')]);
      expect(await store.totals()).toMatchObject({ customers: 0, orders: 1, lines: 2, products: 2 });
      const [batch] = await allHistory(store);
      expect(batch.map((h) => h.customerId)).toEqual([null, null]);
    });

    it('returns and cancellations net out in customerSkus', async () => {
      await store.importLines([
        line('O1', 1, [email('a')], 'A', { quantity: 2 }),
        line('O1', 2, [email('a')], 'B', { quantity: 1 }),
        line('O1', 3, [email('a')], 'C', { quantity: 3 }),
        line('C1', 1, [email('a')], 'A', { quantity: -2, cancels: 'O1', time: T0 + DAY }),
        line('C1', 2, [email('a')], 'C', { quantity: -1, time: T0 + DAY }),
      ]);
      const id = (await store.findCustomer(email('a')))!;
      expect(await store.customerSkus(id)).toEqual(['B', 'C']);
      expect((await store.customerProfile(id))!.revenue).toBe(2 * 10 + 10 + 3 * 10 - 2 * 10 - 10);
      expect(await store.customerSkus('424242')).toEqual([]);
    });

    it('a customer by id: every id merged into them, their identifiers, their whole history (purchase events)', async () => {
      await store.importLines([
        line('O1', 1, [email('a@x')], 'A', { quantity: 2, unitPrice: 3 }),
        line('O1', 2, [email('a@x')], 'B'),
        line('P1', 1, [phone('4477')], 'C', { channel: 'store', storeId: 'S1', time: T0 + DAY }),
        line('G1', 1, [], 'A', { time: T0 + 2 * DAY }),
      ]);
      const a = (await store.findCustomer(email('a@x')))!;
      const p = (await store.findCustomer(phone('4477')))!;
      await store.importLines([line('R1', 1, [email('a@x'), phone('4477')], 'A', { quantity: -1, time: T0 + 3 * DAY })]);
      expect(await store.customerIds(p)).toEqual([a, p]);
      expect(await store.customerIds(a)).toEqual([a, p]);
      expect(await store.customerIdentifiers(p)).toEqual([email('a@x'), phone('4477')]);
      const h = await store.customerHistory(p);
      expect(h.map((l) => [l.customerId, l.orderId, l.channel, l.storeId, l.time, l.sku, l.quantity, l.unitPrice])).toEqual([
        [a, 'O1', 'web', null, T0, 'A', 2, 3],
        [a, 'O1', 'web', null, T0, 'B', 1, 10],
        [a, 'P1', 'store', 'S1', T0 + DAY, 'C', 1, 10],
        [a, 'R1', 'web', null, T0 + 3 * DAY, 'A', -1, 10],
      ]);
      for (const unknown of ['424242', 'not-an-id']) {
        expect(await store.customerIds(unknown)).toEqual([]);
        expect(await store.customerIdentifiers(unknown)).toEqual([]);
        expect(await store.customerHistory(unknown)).toEqual([]);
      }
      await store.eraseCustomer(a);
      expect(await store.customerIds(p)).toEqual([]);
      expect(await store.customerHistory(a)).toEqual([]);
    });

    it('products keep the latest non-null title, category and sale price', async () => {
      await store.importLines([
        line('O1', 1, [], 'A', { title: 'Old', category: 'Cups', unitPrice: 2, time: T0 }),
        line('O2', 1, [], 'A', { title: 'New', category: null, unitPrice: 3, time: T0 + DAY }),
        line('O3', 1, [], 'A', { title: null, quantity: -1, unitPrice: 99, time: T0 + 2 * DAY }), // a return's price is no price
      ]);
      await store.importLines([line('O0', 1, [], 'A', { title: 'Older', unitPrice: 1, time: T0 - DAY })]); // late but old
      expect(await store.products()).toEqual([{ sku: 'A', title: 'New', category: 'Cups', price: 3, active: true }]);
    });

    it('erase removes identifiers, consent, segment, aliases and merge log, and detaches orders to guest', async () => {
      await store.importLines([line('O1', 1, [email('a')], 'X'), line('O2', 1, [email('b')], 'Y')]);
      const a = (await store.findCustomer(email('a')))!;
      const b = (await store.findCustomer(email('b')))!;
      await store.resolveIdentity([email('a'), email('b')]);
      await store.setConsent(a, 'personalisation', true, 'web');
      await store.saveSegments([{ customerId: a, segment: 'vip' }]);
      await store.importLines([line('O3', 1, [email('other')], 'Z')]);

      expect(await store.eraseCustomer(b)).toBe(true); // by its merged-away id: erases the person
      expect(await store.findCustomer(email('a'))).toBeNull();
      expect(await store.findCustomer(email('b'))).toBeNull();
      expect(await store.canonicalCustomerId(a)).toBeNull();
      expect(await store.canonicalCustomerId(b)).toBeNull();
      expect(await store.customerProfile(a)).toBeNull();
      expect(await store.mergeLog(a)).toEqual([]);
      expect(await store.hasConsent(a, 'personalisation')).toBe(false);
      expect(await store.totals()).toMatchObject({ customers: 1, orders: 3, lines: 3 });
      const lines = (await allHistory(store)).flat();
      expect(lines.filter((h) => h.customerId === null).map((h) => h.orderId)).toEqual(['O1', 'O2']);
      expect(await store.eraseCustomer(a)).toBe(false);
      expect(await store.eraseCustomer('not-an-id')).toBe(false);
    });

    it('inventory: upserts by (store, sku); only quantities above zero are in stock', async () => {
      await store.setInventory([
        { storeId: 'S1', sku: 'A', quantity: 3 },
        { storeId: 'S1', sku: 'B', quantity: 0 },
        { storeId: 'S2', sku: 'A', quantity: 1 },
      ]);
      let inv = await store.inventory();
      expect([...inv.keys()]).toEqual(['S1', 'S2']);
      expect([...inv.get('S1')!]).toEqual(['A']);
      await store.setInventory([
        { storeId: 'S1', sku: 'A', quantity: 0 },
        { storeId: 'S1', sku: 'B', quantity: 5 },
      ]);
      inv = await store.inventory();
      expect([...inv.get('S1')!]).toEqual(['B']);
      expect([...inv.get('S2')!]).toEqual(['A']);
      expect((await store.totals()).stores).toBe(2);
    });

    it('historyLines: time order across orders, line order within one, in batches, with a time window', async () => {
      await store.importLines([
        line('late', 1, [email('a')], 'L1', { time: T0 + 3 * DAY }),
        line('early', 2, [], 'E2', { time: T0 }),
        line('early', 1, [], 'E1', { time: T0 }),
        line('mid', 1, [email('b')], 'M1', { time: T0 + DAY, channel: 'store', storeId: 'S9', quantity: 4, unitPrice: 1.25 }),
        line('mid', 3, [email('b')], 'M3', { time: T0 + DAY, channel: 'store', storeId: 'S9', quantity: 0.25 }), // by weight
      ]);
      const batches = await allHistory(store, { batchSize: 2 });
      expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
      expect(batches.flat().map((h) => h.sku)).toEqual(['E1', 'E2', 'M1', 'M3', 'L1']);
      const mid = batches.flat()[2];
      expect(mid).toEqual({
        customerId: await store.findCustomer(email('b')),
        orderId: 'mid',
        source: 'store',
        channel: 'store',
        storeId: 'S9',
        time: T0 + DAY,
        sku: 'M1',
        quantity: 4,
        unitPrice: 1.25,
      });
      expect(batches.flat()[3].quantity).toBe(0.25);
      const window = await allHistory(store, { from: new Date(T0 + DAY), to: new Date(T0 + 3 * DAY) });
      expect(window.flat().map((h) => h.sku)).toEqual(['M1', 'M3']);
      expect(await allHistory(store, { from: new Date(T0 + 10 * DAY) })).toEqual([]);
    });

    it('historyLines pages through many orders: every line once, in order, full batches but the last', async () => {
      const lines: OrderLine[] = [];
      for (let o = 0; o < 40; o++) {
        const n = 1 + (o % 4); // orders of 1 to 4 lines
        for (let k = 1; k <= n; k++) lines.push(line(`O${o}`, k, o % 3 ? [email(`c${o % 5}`)] : [], `S${o}-${k}`, { time: T0 + (o % 10) * DAY }));
      }
      await store.importLines(lines);
      const batches = await allHistory(store, { batchSize: 7 });
      const flat = batches.flat();
      expect(flat).toHaveLength(lines.length);
      expect(batches.slice(0, -1).every((b) => b.length === 7)).toBe(true);
      const expected = [...lines]
        .sort((a, b) => a.time - b.time || Number(a.orderId.slice(1)) - Number(b.orderId.slice(1)) || a.lineNo! - b.lineNo!)
        .map((l) => l.sku);
      expect(flat.map((h) => h.sku)).toEqual(expected);
    });

    it('segments: saved per customer, through aliases, kept across a merge', async () => {
      const a = await store.resolveIdentity([email('a')]);
      const b = await store.resolveIdentity([email('b')]);
      await store.saveSegments([
        { customerId: b, segment: 'vip' },
        { customerId: 'not-an-id', segment: 'new' },
        { customerId: '987654', segment: 'new' },
      ]);
      expect((await store.customerProfile(a))!.segment).toBeNull();
      await store.resolveIdentity([email('a'), email('b')]);
      expect((await store.customerProfile(a))!.segment).toBe('vip'); // the merged customer's segment moves over
      await store.saveSegments([{ customerId: b, segment: 'loyal' }]); // alias id → survivor
      expect((await store.customerProfile(a))!.segment).toBe('loyal');
    });

    it('ping fails with UnavailableError once the store is closed', async () => {
      await store.ping();
      if (backend.name === 'postgres') {
        await store.close();
        await expect(store.ping()).rejects.toBeInstanceOf(UnavailableError);
      }
    });

    it('resolveIdentity: stable for known identifiers, rejects an empty list; unknown ids are null', async () => {
      const a = await store.resolveIdentity([email('a')]);
      expect(await store.resolveIdentity([email('a')])).toBe(a);
      await expect(store.resolveIdentity([])).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(await store.canonicalCustomerId('12345')).toBeNull();
      expect(await store.canonicalCustomerId('abc')).toBeNull();
      expect(await store.customerProfile('12345')).toBeNull();
      expect(await store.findCustomer(email('nobody'))).toBeNull();
    });
  });
}
