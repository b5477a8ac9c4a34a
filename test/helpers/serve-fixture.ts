/**
 * A served tiny world for API tests: a real history store (the backend given), customers created
 * through importLines (so ids are the store's unified ids, one of them merged away), consent,
 * inventory, and the tiny bundle (test/helpers/tiny-bundle.ts) in a static model source.
 *
 * Customers: tea (email tea@example.com, consent, merged with loyalty card L-777 whose id is `merged`),
 * mug (consent), novec (consent), nocons (no personalisation consent).
 * Stock: S1 → TEA-1 ×5, MUG-1 ×2, SOAP-1 ×0; S2 → TEA-2 ×1.
 */
import type { ModelSource } from '../../src/cache/model-source.js';
import { staticModelSource } from '../../src/cache/model-source.js';
import type { OrderLine } from '../../src/core/records.js';
import { type ApiKeys, parseApiKeys } from '../../src/api/api-keys.js';
import { type App, type AppDeps, createApp } from '../../src/api/create-app.js';
import { createLogger } from '../../src/api/logger.js';
import type { ModelAdmin } from '../../src/api/model-admin.js';
import { parseFallbackChain } from '../../src/serve/fallback-chain.js';
import { InventorySnapshot } from '../../src/serve/inventory-snapshot.js';
import type { Store } from '../../src/store/store.js';
import { TINY_CATEGORIES, TINY_SKUS, tinyBundle } from './tiny-bundle.js';

export const NOW = Date.UTC(2026, 10, 1, 12);
export const KEYS = { storefront: 'sf-key-0001', associate: 'as-key-0001', admin: 'ad-key-0001', events: 'ev-key-0001' };
export const API_KEYS = `${KEYS.storefront}:storefront,${KEYS.associate}:associate,${KEYS.admin}:admin,${KEYS.events}:events`;

export interface Ids {
  tea: string;
  mug: string;
  novec: string;
  nocons: string;
  merged: string;
}

let n = 0;
function line(email: string | null, sku: string, extra: Partial<OrderLine> = {}): OrderLine {
  n++;
  const i = TINY_SKUS.indexOf(sku);
  return {
    orderId: `o-${n}`,
    channel: 'web',
    storeId: null,
    time: NOW - 50 * 86_400_000 + n * 60_000,
    identifiers: email ? [{ kind: 'email', value: email }] : [],
    sku,
    title: sku.toLowerCase(),
    category: TINY_CATEGORIES[i] ?? null,
    quantity: 1,
    unitPrice: 2.5,
    cancels: null,
    lineNo: 1,
    ...extra,
  };
}

/** Fills a fresh store with the tiny world; returns the customers' unified ids. */
export async function seedStore(store: Store): Promise<Ids> {
  await store.importLines([
    line('tea@example.com', 'TEA-1'),
    line('mug@example.com', 'MUG-1'),
    line('novec@example.com', 'SOAP-1'),
    line('nocons@example.com', 'TEA-2'),
    line(null, 'TEA-3', { channel: 'store', storeId: 'S1' }),
    line(null, 'MUG-2', { channel: 'store', storeId: 'S2' }),
    line(null, 'MUG-3'),
    line(null, 'SOAP-2'),
  ]);
  await store.importLines([line(null, 'TEA-1', { channel: 'store', storeId: 'S1', identifiers: [{ kind: 'loyalty', value: 'L-777' }] })]);
  const find = async (kind: 'email' | 'loyalty', value: string) => (await store.findCustomer({ kind, value }))!;
  const merged = await find('loyalty', 'L-777');
  const tea = await find('email', 'tea@example.com');
  // one order carrying both identifiers merges the loyalty customer into tea (the older id survives)
  await store.importLines([
    line(null, 'TEA-1', { channel: 'store', storeId: 'S1', identifiers: [{ kind: 'email', value: 'tea@example.com' }, { kind: 'loyalty', value: 'L-777' }] }),
  ]);
  const ids: Ids = { tea, mug: await find('email', 'mug@example.com'), novec: await find('email', 'novec@example.com'), nocons: await find('email', 'nocons@example.com'), merged };
  for (const c of [ids.tea, ids.mug, ids.novec]) await store.setConsent(c, 'personalisation', true, 'test');
  await store.setConsent(ids.nocons, 'personalisation', false, 'test');
  await store.setInventory([
    { storeId: 'S1', sku: 'TEA-1', quantity: 5 },
    { storeId: 'S1', sku: 'MUG-1', quantity: 2 },
    { storeId: 'S1', sku: 'SOAP-1', quantity: 0 },
    { storeId: 'S2', sku: 'TEA-2', quantity: 1 },
  ]);
  return ids;
}

export interface ServedWorld extends App {
  ids: Ids;
  source: ModelSource;
  inventory: InventorySnapshot;
  logs: Record<string, unknown>[];
}

export async function serveTinyWorld(
  store: Store,
  options: {
    ids?: Ids;
    source?: ModelSource;
    chain?: string;
    apiKeys?: ApiKeys | null;
    admin?: ModelAdmin;
    /** REQUEST_DEADLINE_MS and LIST_WAIT_MS of the app (its defaults otherwise). */
    deadlines?: Pick<AppDeps, 'requestDeadlineMs' | 'listWaitMs'>;
    /** Next best offer's dependencies (decision core, bus, configuration). */
    offers?: AppDeps['offers'];
    /** Any other dependency of the app. */
    deps?: Partial<AppDeps>;
  } = {},
): Promise<ServedWorld> {
  const ids = options.ids ?? (await seedStore(store));
  const source = options.source ?? staticModelSource(tinyBundle(ids, NOW));
  const inventory = new InventorySnapshot(() => store.inventory());
  await inventory.refresh();
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger('info', (l) => logs.push(JSON.parse(l) as Record<string, unknown>));
  const app = createApp({
    store,
    source,
    inventory,
    logger,
    apiKeys: options.apiKeys === undefined ? parseApiKeys(API_KEYS) : options.apiKeys,
    chain: parseFallbackChain(options.chain ?? 'personal,neighbours,segment,popular'),
    admin: options.admin,
    offers: options.offers,
    defaultMetrics: false,
    now: () => NOW,
    ...options.deadlines,
    ...options.deps,
  });
  return { ...app, ids, source, inventory, logs };
}
