/**
 * Serve what you evaluate: a bundle trained with a served model, written to disk and read back, answers
 * GET /v1/customers/{id}/recommendations (RecommendationService.personal, default and
 * excludePurchased=false) with exactly the lists the evaluator scores for the same customers
 * (ServedRecommender over the state training fitted), for every kind of component: ALS, EASE,
 * item-kNN, TIFU-KNN, trend, own items first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBundle } from '../src/bundle/read-bundle.js';
import { writeBundle } from '../src/bundle/write-bundle.js';
import { decodeCustomer, encodeCustomer } from '../src/cache/codec.js';
import { decodeItemSide, encodeItemSide } from '../src/cache/item-side.js';
import { staticModelSource } from '../src/cache/model-source.js';
import type { HistoryLine } from '../src/core/records.js';
import { mulberry32 } from '../src/core/random.js';
import { ownedOrder, type ServedSpec } from '../src/core/served-model.js';
import { listSpec, ServedRecommender } from '../src/models/served.js';
import { CustomerAccessCache } from '../src/serve/customer-access.js';
import { InventorySnapshot } from '../src/serve/inventory-snapshot.js';
import { RecommendationService } from '../src/serve/recommendation-service.js';
import { refreshCustomer } from '../src/train/customer-refresh.js';
import { DatasetBuilder } from '../src/train/dataset.js';
import { trainBundle } from '../src/train/train-bundle.js';
import { resolveTrainConfig } from '../src/train/train-config.js';
import { DEFAULT_WEIGHTING } from '../src/train/weighting.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

/** 80 customers in 4 taste groups over 60 items, 120 days of orders, frequent repeats. */
function history(): HistoryLine[] {
  const rnd = mulberry32(7);
  const lines: HistoryLine[] = [];
  let o = 0;
  for (let c = 0; c < 80; c++) {
    const group = c % 4;
    const favourites = Array.from({ length: 4 }, () => group * 15 + Math.floor(rnd() * 15));
    const orders = 2 + Math.floor(rnd() * 6);
    for (let b = 0; b < orders; b++) {
      const time = T0 + Math.floor(rnd() * 120) * DAY + c * 1000;
      const orderId = `o${o++}`;
      const n = 1 + Math.floor(rnd() * 4);
      for (let l = 0; l < n; l++) {
        const item = rnd() < 0.5 ? favourites[Math.floor(rnd() * 4)] : group * 15 + Math.floor(rnd() * 15);
        const sku = `SKU-${item % 60 < 10 ? '0' : ''}${item % 60}`;
        lines.push({ orderId, customerId: `C${100 + c}`, sku, time, quantity: 1 + Math.floor(rnd() * 3), unitPrice: 2, storeId: null, channel: 'web' } as HistoryLine);
      }
    }
  }
  return lines;
}

const specs: Record<string, ServedSpec> = {
  'ALS + trend; own items then item-kNN + trend': {
    discovery: listSpec('als+0.5·trend7', { learned: 'als', learnedWeight: 1, trendHalfLifeDays: 7, trendWeight: 0.5 }),
    all: listSpec('repeat>item_knn+1·trend14', { learned: 'item_knn', learnedWeight: 1, trendHalfLifeDays: 14, trendWeight: 1, ownedFirst: true }),
    buyAgain: 'repeat',
  },
  'EASE + popularity; TIFU-KNN + trend': {
    discovery: listSpec('ease+0.25·popularity', { learned: 'ease', learnedWeight: 1, trendHalfLifeDays: 0, trendWeight: 0.25 }),
    all: listSpec('tifu_knn[α=0.7]+0.1·trend3', { tifuWeight: 1, tifuAlpha: 0.7, trendHalfLifeDays: 3, trendWeight: 0.1 }),
    buyAgain: 'served',
  },
  'EASE + ALS + trend (two learned models); own items then item-kNN + EASE': {
    discovery: listSpec('ease+1·als+0.5·trend3', { learned: 'ease', learnedWeight: 1, learned2: 'als', learned2Weight: 1, trendHalfLifeDays: 3, trendWeight: 0.5 }),
    all: listSpec('repeat>item_knn+0.5·ease', { learned: 'item_knn', learnedWeight: 1, learned2: 'ease', learned2Weight: 0.5, ownedFirst: true }),
    buyAgain: 'repeat',
  },
  'own items fading against ALS + trend (all); item-kNN (discovery)': {
    discovery: listSpec('item_knn', { learned: 'item_knn', learnedWeight: 1 }),
    all: listSpec('own+als+0.5·trend7', { learned: 'als', learnedWeight: 1, trendHalfLifeDays: 7, trendWeight: 0.5, ownWeight: 0.5, ownHalfLifeDays: 10 }),
    buyAgain: 'repeat',
  },
};

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('served model parity (service = evaluator)', () => {
  for (const [title, spec] of Object.entries(specs)) {
    it(title, async () => {
      const b = new DatasetBuilder();
      b.add(history());
      const data = b.finish({ ...DEFAULT_WEIGHTING });
      const config = await resolveTrainConfig({}, undefined, []);
      config.models.als = { ...config.models.als, factors: 8, iterations: 4, threads: 1 };
      config.models.tifu_knn = { ...config.models.tifu_knn, neighbours: 10, keep: 30 };
      // short neighbour lists: truncated, so not symmetric (scoring through the transpose differs)
      config.models.item_knn = { ...config.models.item_knn, neighbours: 4 };
      const trained = await trainBundle(data, { version: 'parity', source: 'test', config, served: { spec } });
      const dir = await mkdtemp(join(tmpdir(), 'omnirec-parity-'));
      dirs.push(dir);
      await writeBundle(dir, trained.bundle);
      const bundle = await readBundle(dir, 'parity');
      expect(bundle.served?.spec).toEqual(spec);

      // the cache's encodings keep every table and the TIFU vectors
      const side = decodeItemSide({ ...encodeItemSide(bundle, 'parity') });
      expect(side.served?.spec).toEqual(spec);
      expect(Object.keys(side.served!.trends).sort()).toEqual(Object.keys(bundle.served!.trends).sort());
      for (const r of bundle.customers.slice(0, 5)) {
        const back = decodeCustomer(r.customerId, encodeCustomer(r));
        expect(back.tifu ? Array.from(back.tifu.nbrItems) : null).toEqual(r.tifu ? Array.from(r.tifu.nbrItems) : null);
      }

      const source = staticModelSource(bundle);
      const service = new RecommendationService({
        source,
        store: { customerSkus: async () => [] },
        access: new CustomerAccessCache({ canonicalCustomerId: async (id) => id, hasConsent: async () => true }),
        inventory: new InventorySnapshot(async () => new Map()),
        chain: ['personal', 'neighbours', 'segment', 'popular'],
        listCacheSize: 0,
      });
      const evaluator = ServedRecommender.fromState('served', spec, trained.served);
      const rows = Int32Array.from({ length: data.customers.length }, (_, c) => c);
      const k = 20;
      const discovery = await evaluator.recommend(rows, k, { exclude: data.counts });
      const all = await evaluator.recommend(rows, k);
      const skus = (res: typeof all, c: number) => Array.from(res.ids.subarray(c * k, c * k + k)).filter((i) => i >= 0).map((i) => data.items[i]);
      let compared = 0;
      for (const c of rows) {
        const id = data.customers[c];
        const d = await service.personal(id, { limit: k });
        const a = await service.personal(id, { limit: k, excludePurchased: false });
        expect(d.model.source).toBe('factors');
        expect(d.items.map((x) => x.sku)).toEqual(skus(discovery, c));
        expect(a.items.map((x) => x.sku)).toEqual(skus(all, c));
        // buy again: the validation-chosen ranking of the evaluator's buy-again protocol
        const again = await service.buyAgain(id, { limit: 100 });
        const person = trained.served.person(c);
        expect(again.items.map((x) => x.sku)).toEqual(ownedOrder(trained.served.tables, spec, person, spec.buyAgain as 'repeat' | 'served').map((q) => data.items[person.items[q]]));
        compared++;
      }
      expect(compared).toBe(80);

      // the personal list's neighbours fallback ranks as the evaluated item-kNN (every item of the history, its scoring lists)
      const knn = trained.served.models.item_knn;
      if (knn) {
        const fallback = new RecommendationService({
          source,
          store: { customerSkus: async () => [] },
          access: new CustomerAccessCache({ canonicalCustomerId: async (id) => id, hasConsent: async () => true }),
          inventory: new InventorySnapshot(async () => new Map()),
          chain: ['neighbours', 'popular'],
          listCacheSize: 0,
        });
        const ev = await knn.recommend(rows, k, { exclude: data.counts });
        for (const c of rows) {
          const got = await fallback.personal(data.customers[c], { limit: k });
          const listed = got.items.filter((x) => x.reason.type === 'because_you_bought').map((x) => x.sku);
          const positive = Array.from(ev.ids.subarray(c * k, c * k + k)).filter((i, r) => i >= 0 && ev.scores[c * k + r] > 0).map((i) => data.items[i]);
          expect(listed).toEqual(positive);
        }
      }

      // a purchase event rebuilds the record from the history: the same TIFU own weights as training, neighbours kept
      if (spec.all.tifuWeight) {
        const lines = history();
        for (const r of bundle.customers.slice(0, 10)) {
          const mine = lines.filter((l) => l.customerId === r.customerId);
          const again = refreshCustomer(source.current()!, r.customerId, mine, r.segment, r).record;
          expect(Array.from(again.items)).toEqual(Array.from(r.items));
          Array.from(again.tifu!.own).forEach((w, q) => expect(w).toBeCloseTo(r.tifu!.own[q], 6));
          expect(again.tifu!.nbrItems).toEqual(r.tifu!.nbrItems);
        }
      }
    }, 60_000);
  }
});
