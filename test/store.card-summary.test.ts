/**
 * The clienteling card's per-customer summaries (src/store/customer-summaries.ts): after every kind
 * of write that changes what a card adds up (a purchase, a merge, a guest order attached, a
 * product's category, an erasure), the card read through a stored summary equals the card computed
 * from the lines, and check:store verifies that stored summaries match the lines (and catches one
 * that does not). Against every backend available.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, Identifier, OrderLine } from '../src/core/records.js';
import { mostNotCurrent, summarySql } from '../src/store/customer-summaries.js';
import type { SqlStore } from '../src/store/sql-store.js';
import type { CustomerCardData } from '../src/store/store.js';
import { type OpenedStore, storeBackends } from './helpers/backends.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);
const ann: Identifier = { kind: 'email', value: 'ann@example.com' };
const bob: Identifier = { kind: 'loyalty', value: 'L-7' };

function line(orderId: string, lineNo: number, day: number, channel: Channel, storeId: string | null, identifiers: Identifier[], sku: string, quantity: number, unitPrice: number, category?: string): OrderLine {
  const cat = category ?? sku.split('-')[0].toLowerCase();
  return { orderId, lineNo, channel, storeId, time: T0 + day * DAY, identifiers, sku, title: `${cat} ${sku}`, category: cat, quantity, unitPrice, cancels: null };
}

for (const backend of storeBackends()) {
  describe(`store: card summaries (${backend.name})`, () => {
    let opened: OpenedStore;
    let store: SqlStore;
    const summaries = async () =>
      (await store.db.query<{ id: string }>('SELECT customer_id::text AS id FROM customer_summaries ORDER BY customer_id')).rows.map((r) => r.id);
    /** The card as the lines say it (every summary dropped first, so it is computed from them). */
    const fromLines = async (id: string): Promise<CustomerCardData | null> => {
      await store.db.query('DELETE FROM customer_summaries');
      return store.customerCard(id, { categories: 20 });
    };
    /** The card twice: once computing the summary, once reading it; both must equal the lines' card. */
    async function expectCurrent(id: string): Promise<CustomerCardData> {
      const first = await store.customerCard(id, { categories: 20 });
      const second = await store.customerCard(id, { categories: 20 });
      expect(second).toEqual(first);
      expect(await fromLines(id)).toEqual(first);
      await store.customerCard(id, { categories: 20 });
      expect((await store.checkInvariants()).failures).toEqual([]);
      return first!;
    }

    beforeAll(async () => {
      opened = await backend.open();
      store = opened.store as SqlStore;
      await store.importLines([
        line('W1', 1, 0, 'web', null, [ann], 'TEA-1', 2, 3),
        line('W1', 2, 0, 'web', null, [ann], 'MUG-1', 1, 8),
        line('S1', 1, 10, 'store', 'S1', [bob], 'TEA-2', 1, 4),
        line('S2', 1, 20, 'store', 'S2', [bob], 'SOAP-1', 2, 2),
        line('G1', 1, 5, 'store', 'S1', [], 'MUG-2', 1, 9),
      ]);
    });
    afterAll(async () => {
      await opened?.cleanup();
    });

    it('a card stores its summary; the next reads it; a purchase makes it recomputed', async () => {
      const a = (await store.findCustomer(ann))!;
      const before = await expectCurrent(a);
      expect(before).toMatchObject({ orders: 1, spend: 14 });
      expect(await summaries()).toEqual([a]);
      await store.importLines([line('A1', 1, 30, 'app', null, [ann], 'TEA-1', 1, 3), line('A1', 2, 30, 'app', null, [ann], 'MUG-1', -1, 8)]);
      const after = await expectCurrent(a);
      expect(after).toMatchObject({ orders: 2, spend: 9, lastOrderAt: T0 + 30 * DAY });
      expect(after.channels.app).toEqual({ orders: 1, spend: -5 });
      expect(after.recentPurchases.map((p) => p.sku)).toEqual(['TEA-1', 'TEA-1', 'MUG-1']);
    });

    it('a merge adds the merged customer\'s orders to the survivor\'s card; the merged summary goes', async () => {
      const a = (await store.findCustomer(ann))!;
      const b = (await store.findCustomer(bob))!;
      await expectCurrent(b);
      expect(await summaries()).toContain(b);
      // both summaries current, then identifiers linking the two, with no order of their own
      await store.refreshCardSummaries();
      const survivor = await store.resolveIdentity([ann, bob]);
      expect([a, b]).toContain(survivor);
      const merged = survivor === a ? b : a;
      expect(await summaries()).not.toContain(merged);
      const card = await expectCurrent(merged);
      expect(card.customerId).toBe(survivor);
      expect(card).toMatchObject({ orders: 4, favouriteStore: { storeId: 'S2', name: null, orders: 1 } });
    });

    it('a guest order attached to a customer by a later line of it counts on their card', async () => {
      const id = (await store.findCustomer(ann))!;
      const before = await expectCurrent(id);
      // the guest order's line again (no new line), now with their email
      await store.importLines([line('G1', 1, 5, 'store', 'S1', [ann], 'MUG-2', 1, 9)]);
      const after = await expectCurrent(id);
      expect(after.orders).toBe(before.orders + 1);
      expect(after.spend).toBe(before.spend + 9);
      // and a new line of it
      await store.importLines([line('G1', 2, 5, 'store', 'S1', [ann], 'MUG-3', 1, 1)]);
      expect((await expectCurrent(id)).spend).toBe(before.spend + 10);
    });

    it("a product's category changing changes the favourite categories", async () => {
      const id = (await store.findCustomer(ann))!;
      const before = await expectCurrent(id);
      expect(before.favouriteCategories.map((c) => c.category)).toContain('soap');
      // a later line of SOAP-1 (another customer) with another category: the catalogue moves on
      await store.importLines([line('W9', 1, 60, 'web', null, [{ kind: 'email', value: 'zed@example.com' }], 'SOAP-1', 1, 2, 'bath')]);
      const after = await expectCurrent(id);
      expect(after.favouriteCategories.map((c) => c.category)).toContain('bath');
      expect(after.favouriteCategories.map((c) => c.category)).not.toContain('soap');
    });

    it('refreshCardSummaries computes every missing one; check:store catches a summary that does not match the lines', async () => {
      await store.db.query('DELETE FROM customer_summaries');
      const customers = (await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers')).rows[0].n;
      expect(await store.refreshCardSummaries()).toBe(customers);
      expect(await store.refreshCardSummaries()).toBe(0);
      expect((await store.checkInvariants()).ok).toBe(true);
      const id = (await store.findCustomer(ann))!;
      const right = await store.customerCard(id);
      await store.db.query(`UPDATE customer_summaries SET data = jsonb_set(data, '{orders}', '99') WHERE customer_id = $1`, [id]);
      const check = await store.checkInvariants();
      expect(check.failures).toEqual([{ name: 'customer summaries that do not match the lines', count: 1, sample: [id] }]);
      expect((await store.customerCard(id))!.orders).toBe(99);
      // a summary behind its customer's rev is not served: the card is computed from the lines again
      await store.db.query('UPDATE customers SET rev = rev + 1 WHERE id = $1', [id]);
      expect(await store.customerCard(id)).toEqual(right);
      expect((await store.checkInvariants()).ok).toBe(true);
    });

    it('summaries taken over every line equal those taken from the targets\' lines; most customers without one choose them', async () => {
      // a guest order (its lines summed, then left out), a customer without orders, a return
      await store.importLines([line('G2', 1, 70, 'store', 'S1', [], 'TEA-3', 2, 5), line('G2', 2, 70, 'store', 'S1', [], 'MUG-1', -1, 8)]);
      await store.resolveIdentity([{ kind: 'email', value: 'nobody@example.com' }]);
      const rows = async (targets: string, everyLine: boolean) =>
        (
          await store.db.query<{ id: string; rev: string; catalogue: string; data: string }>(
            `WITH ${summarySql(targets, everyLine)} SELECT id::text AS id, rev::text AS rev, catalogue::text AS catalogue, data::text AS data FROM computed ORDER BY id`,
          )
        ).rows;
      const all = await rows('SELECT c.id, c.rev FROM customers c', false);
      const customers = (await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers')).rows[0].n;
      expect(all.length).toBe(customers);
      expect(all.some((r) => JSON.parse(r.data).categories.length > 0 && JSON.parse(r.data).spend !== 0)).toBe(true);
      expect(all.some((r) => JSON.parse(r.data).orders === 0)).toBe(true);
      expect(await rows('SELECT c.id, c.rev FROM customers c', true)).toEqual(all);
      const one = `SELECT c.id, c.rev FROM customers c WHERE c.id = ${Number(all[0].id)}`;
      expect(await rows(one, true)).toEqual([all[0]]);
      expect(await rows(one, false)).toEqual([all[0]]);
      // the choice: every line once half of the customers or more have no current summary
      await store.refreshCardSummaries();
      expect(await mostNotCurrent(store.db)).toBe(false);
      await store.db.query('DELETE FROM customer_summaries WHERE customer_id = $1', [all[0].id]);
      expect(await mostNotCurrent(store.db)).toBe(2 >= customers);
      await store.db.query('DELETE FROM customer_summaries');
      expect(await mostNotCurrent(store.db)).toBe(true);
      expect(await store.refreshCardSummaries()).toBe(customers);
      expect((await store.db.query<{ id: string; data: string }>('SELECT customer_id::text AS id, data::text AS data FROM customer_summaries ORDER BY customer_id')).rows).toEqual(
        all.map(({ id, data }) => ({ id, data })),
      );
      expect((await store.checkInvariants()).ok).toBe(true);
    });

    it('an erasure takes the summary with it', async () => {
      const id = (await store.findCustomer(ann))!;
      await expectCurrent(id);
      expect(await store.eraseCustomer(id)).toBe(true);
      expect(await summaries()).not.toContain(id);
      expect(await store.customerCard(id)).toBeNull();
      expect((await store.checkInvariants()).ok).toBe(true);
    });
  });
}
