/**
 * The synthetic omnichannel data set: orders (canonical CSV), store inventory, consent, and a
 * summary.json of counts. Deterministic by seed (same seed → identical bytes), streaming
 * (customers are generated one at a time from their own derived seed; nothing per line is kept).
 *
 * Structure a recommender can learn (see docs/data-formats.md, "Generated data"):
 * - customers with sparse Dirichlet taste mixtures over categories; Zipf item popularity within a category;
 * - consumables repurchased at a per-customer interval; baskets of complements bought together;
 * - channels web/app/store; stores with their own assortment and out-of-stock items;
 * - people shopping in several channels under different identifiers: linked by a shared loyalty card,
 *   only by email, only by phone, or never linked; guests; returns (negative lines with `cancels`); consent.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import type { Channel } from '../core/records.js';
import { CANONICAL_COLUMNS, CONSENT_COLUMNS, INVENTORY_COLUMNS } from '../ingest/detect-format.js';
import { buildCatalogue, COMPLEMENTS, type Catalogue } from './catalogue.js';
import { deriveSeed, Rng } from './rng.js';
import { TextWriter } from './text-writer.js';

export interface GenerateOptions {
  out: string;
  customers?: number;
  products?: number;
  stores?: number;
  /** Target number of order lines (the result is close, not exact). */
  lines?: number;
  days?: number;
  seed?: number;
  gzip?: boolean;
  /** First day, YYYY-MM-DD (UTC). */
  start?: string;
  /** Share of orders placed by guests. */
  guestShare?: number;
  /**
   * The kind of retailer: `mixed` (default: some consumables repurchased on a rhythm, the rest bought once),
   * `grocery` (nearly every product a consumable on a 1–4 week rhythm, customers who repeat most of their
   * basket), `fashion` (no consumables, repeats rare; each product sells in a season of 1.5–4.5 months,
   * so demand drifts and recency matters).
   */
  shape?: DatasetShape;
  onProgress?: (linesWritten: number, targetLines: number) => void;
}

export const DATASET_SHAPES = ['mixed', 'grocery', 'fashion'] as const;
export type DatasetShape = (typeof DATASET_SHAPES)[number];

export type LinkMode = 'single' | 'loyalty' | 'email' | 'phone' | 'none';

export interface GenerateSummary {
  seed: number;
  start: string;
  days: number;
  people: number;
  /** People with at least one order. */
  buyers: number;
  products: number;
  categories: number;
  stores: number;
  orders: number;
  lines: number;
  returnOrders: number;
  returnLines: number;
  guestOrders: number;
  guestLines: number;
  /** Lines that repurchase a consumable the person bought before. */
  repeatLines: number;
  /** Buyers who ordered in more than one channel, by how their identities link. */
  multiChannelBuyers: Record<Exclude<LinkMode, 'single'>, number>;
  /** Distinct customers a perfect identity resolution finds in orders (unlinked people count once per channel). */
  expectedUnifiedCustomers: number;
  consentRows: number;
  personalisationRefused: number;
  inventoryRows: number;
  outOfStockRows: number;
  files: Record<string, string>;
}

const DAY = 86_400_000;
const GUEST_CUM = [0.9];
/** Consumables a person keeps rebuying at once (their routine). */
const MAX_ROUTINE = 5;
const FIRST = ['Ann', 'Ben', 'Cara', 'Dev', 'Ela', 'Finn', 'Gia', 'Hugo', 'Ines', 'Jay', 'Kai', 'Lena', 'Milo', 'Nora', 'Omar', 'Pia'];
const LAST = ['Smith', 'Jones', 'Patel', 'Brown', 'Khan', 'Evans', 'Wilson', 'Taylor', 'Ahmed', 'Walsh', 'Clarke', 'Moore'];
const CONSENT_SOURCES: Record<Channel, string> = { web: 'web-account', app: 'app-settings', store: 'till' };

const esc = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const iso = (t: number): string => new Date(t).toISOString().slice(0, 19) + 'Z';
const pad = (n: number, w: number): string => String(n).padStart(w, '0');

interface Person {
  channels: Channel[];
  /** cumulative channel preference */
  channelCum: number[];
  mode: LinkMode;
  ids: Record<Channel, { account?: string; email?: string; phone?: string; loyalty?: string; device?: string }>;
  emailRaw: string;
  phoneNational: string;
  homeStores: number[];
  tasteCats: number[];
  tasteCum: number[];
  repeatProb: number;
  intervalFactor: number;
}

function makePerson(i: number, rng: Rng, cat: Catalogue): Person {
  const u = rng.next();
  let channels: Channel[];
  if (u < 0.5) {
    const v = rng.next();
    channels = [v < 0.5 ? 'web' : v < 0.7 ? 'app' : 'store'];
  } else {
    const v = rng.next();
    channels = v < 0.4 ? ['web', 'store'] : v < 0.6 ? ['web', 'app'] : v < 0.8 ? ['app', 'store'] : ['web', 'app', 'store'];
  }
  let mode: LinkMode = 'single';
  if (channels.length > 1) {
    const v = rng.next();
    mode = v < 0.4 ? 'loyalty' : v < 0.6 ? 'email' : v < 0.8 ? 'phone' : 'none';
  }
  const channelCum: number[] = [];
  let acc = 0;
  for (let k = 0; k < channels.length; k++) channelCum.push((acc += 0.3 + rng.next()));
  const first = FIRST[rng.int(FIRST.length)];
  const last = LAST[rng.int(LAST.length)];
  const emailRaw = `${first}.${last}${i + 1}@example.com`;
  const email = emailRaw.toLowerCase();
  const phoneNational = `07${pad(i + 1, 9)}`;
  const account = `AC${pad(i + 1, 8)}`;
  const loyalty = `LC${pad(i + 1, 9)}`;
  const device = `dev-${(deriveSeed(i, 7) >>> 0).toString(16).padStart(8, '0')}${pad(i + 1, 7)}`;
  const storeUsesLoyalty = mode === 'single' && rng.chance(0.4);
  const ids: Person['ids'] = {
    web: { account, email },
    app: { device, loyalty },
    store: storeUsesLoyalty ? { loyalty } : { phone: phoneNational },
  };
  if (mode === 'loyalty') {
    ids.web.loyalty = loyalty;
    ids.store = rng.chance(0.5) ? { loyalty, phone: phoneNational } : { loyalty };
  } else if (mode === 'email') {
    ids.app = { device, email };
    ids.store = { email };
  } else if (mode === 'phone') {
    ids.web.phone = phoneNational;
    ids.app = { device, phone: phoneNational };
    ids.store = { phone: phoneNational };
  } else if (mode === 'none') {
    ids.store = { phone: phoneNational };
  }
  const nStores = cat.stores.length;
  const homeStores = nStores === 0 ? [] : rng.chance(0.2) && nStores > 1 ? [rng.int(nStores), rng.int(nStores)] : [rng.int(nStores)];
  // sparse Dirichlet(1) taste over 1–4 favourite categories, 10% exploration over all
  const k = 1 + Math.min(3, rng.poisson(1));
  const tasteCats: number[] = [];
  const w: number[] = [];
  for (let j = 0; j < k; j++) {
    tasteCats.push(rng.pickCumulative(cat.categoryCum));
    w.push(rng.exp());
  }
  const sum = w.reduce((a, b) => a + b, 0);
  const tasteCum: number[] = [];
  acc = 0;
  for (const x of w) tasteCum.push((acc += (0.9 * x) / sum));
  return { channels, channelCum, mode, ids, emailRaw, phoneNational, homeStores, tasteCats, tasteCum, repeatProb: 0.4 + 0.4 * rng.next(), intervalFactor: Math.exp(0.3 * rng.normal()) };
}

function phoneVariant(national: string, rng: Rng): string {
  const v = rng.int(3);
  if (v === 0) return national;
  if (v === 1) return `${national.slice(0, 5)} ${national.slice(5)}`;
  return `+44 ${national.slice(1, 5)} ${national.slice(5)}`;
}

/** A category from the taste (or anywhere, 10%), then an item by Zipf within it. */
function pickItem(rng: Rng, cat: Catalogue, tasteCats: number[], tasteCum: number[]): number {
  const x = rng.next();
  let c: number;
  if (x >= tasteCum[tasteCum.length - 1]) c = rng.pickCumulative(cat.categoryCum);
  else {
    let j = 0;
    while (tasteCum[j] <= x) j++;
    c = tasteCats[j];
  }
  return cat.catProducts[rng.pickCumulative(cat.catCum, cat.catStart[c], cat.catStart[c + 1])];
}

export async function generateDataset(options: GenerateOptions): Promise<GenerateSummary> {
  const people = options.customers ?? 2_000;
  const nProducts = options.products ?? 500;
  const nStores = options.stores ?? 8;
  const targetLines = options.lines ?? 60_000;
  const days = options.days ?? 365;
  const seed = (options.seed ?? 42) >>> 0;
  const guestShare = options.guestShare ?? 0.1;
  const startDay = options.start ?? '2024-01-01';
  const start = Date.parse(`${startDay}T00:00:00Z`);
  if (!Number.isFinite(start)) throw new InvalidArgumentError(`bad start date "${startDay}" (expected YYYY-MM-DD)`);
  for (const [k, v, min] of [['customers', people, 1], ['products', nProducts, 2], ['stores', nStores, 1], ['lines', targetLines, 1], ['days', days, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError(`${k} must be a whole number ≥ ${min} (got ${v})`);
  }
  const end = start + days * DAY;
  await mkdir(options.out, { recursive: true });
  const gz = options.gzip ? '.gz' : '';
  const files = { orders: `orders.csv${gz}`, inventory: `inventory.csv${gz}`, consent: `consent.csv${gz}`, summary: 'summary.json' };
  const cat = buildCatalogue(seed, nProducts, nStores);
  const shape = options.shape ?? 'mixed';
  if (!(DATASET_SHAPES as readonly string[]).includes(shape)) throw new InvalidArgumentError(`shape must be one of ${DATASET_SHAPES.join(', ')} (got "${shape}")`);
  // shapes reshape the catalogue with their own random stream, so the mixed shape stays as it was
  const shapeRng = new Rng(deriveSeed(seed, 0, 7));
  let inSeason: ((p: number, t: number) => boolean) | null = null;
  if (shape === 'grocery') {
    for (let p = 0; p < nProducts; p++) {
      const v = shapeRng.next();
      if (v < 0.85) cat.intervalDays[p] = Math.max(3, 14 * Math.exp(0.5 * shapeRng.normal()));
    }
  } else if (shape === 'fashion') {
    cat.intervalDays.fill(0);
    const launch = new Float64Array(nProducts);
    const life = new Float64Array(nProducts);
    for (let p = 0; p < nProducts; p++) {
      launch[p] = start - 60 * DAY + shapeRng.int(days + 60) * DAY;
      life[p] = (45 + shapeRng.int(90)) * DAY;
    }
    inSeason = (p, t) => t >= launch[p] && t < launch[p] + life[p];
  }

  // inventory
  const inv = new TextWriter(join(options.out, files.inventory), options.gzip);
  await inv.write(INVENTORY_COLUMNS.join(',') + '\n');
  let inventoryRows = 0;
  let outOfStockRows = 0;
  for (let s = 0; s < nStores; s++) {
    for (let p = 0; p < nProducts; p++) {
      const q = cat.stock[s * nProducts + p];
      if (q < 0) continue;
      inventoryRows++;
      if (q === 0) outOfStockRows++;
      if (inv.add(`${cat.stores[s]},${cat.skus[p]},${q}\n`)) await inv.flush();
    }
  }
  await inv.close();

  const ordersW = new TextWriter(join(options.out, files.orders), options.gzip);
  const consentW = new TextWriter(join(options.out, files.consent), options.gzip);
  await ordersW.write(CANONICAL_COLUMNS.join(',') + '\n');
  await consentW.write(CONSENT_COLUMNS.join(',') + '\n');

  // calibration: ~3.5 lines per order (anchor, complements, extras, repeats, returns)
  const LINES_PER_ORDER = 3.5;
  const personOrders = (targetLines * (1 - guestShare)) / LINES_PER_ORDER;
  const meanOrders = personOrders / people;
  const s = {
    orders: 0, lines: 0, returnOrders: 0, returnLines: 0, guestOrders: 0, guestLines: 0, repeatLines: 0,
    buyers: 0, expectedUnified: 0, consentRows: 0, refused: 0,
  };
  const multi = { loyalty: 0, email: 0, phone: 0, none: 0 };
  const seqWidth = Math.max(7, String(Math.ceil(targetLines)).length);
  let seq = 0;
  const PREFIX: Record<Channel, string> = { web: 'W', app: 'A', store: 'T' };

  // reusable per-order buffers
  const basket: number[] = [];
  const qty: number[] = [];
  const isRepeat: boolean[] = [];
  const due = new Map<number, number>(); // product → next due time (consumables bought)

  // per-product CSV fragments, built once
  const productCols = cat.skus.map((sku, p) => `${sku},${esc(cat.titles[p])},${esc(cat.categories[cat.category[p]].name)}`);
  const priceCols = Array.from(cat.price, (x) => x.toFixed(2));
  /** Appends an order's lines; true when the writer's buffer is full (await ordersW.flush()). */
  const writeOrder = (
    orderId: string, channel: Channel, storeId: string, time: number, idCols: string, items: number[], q: number[], cancels: string,
  ): boolean => {
    let out = '';
    const head = `${orderId},`;
    const mid = `,${channel},${storeId},${iso(time)},${idCols},`;
    for (let j = 0; j < items.length; j++) {
      const p = items[j];
      out += `${head}${j + 1}${mid}${productCols[p]},${q[j]},${priceCols[p]},${cancels}\n`;
    }
    return ordersW.add(out);
  };
  const idColumns = (ids: Person['ids'][Channel], rng: Rng, channel: Channel, p: Person): string => {
    const email = ids.email === undefined ? '' : channel === 'store' && rng.chance(0.5) ? ` ${p.emailRaw} ` : channel === 'web' ? ids.email : p.emailRaw;
    const phone = ids.phone === undefined ? '' : phoneVariant(p.phoneNational, rng);
    return `${ids.account ?? ''},${esc(email)},${esc(phone)},${ids.loyalty ?? ''},${ids.device ?? ''},`;
  };

  const carried = (store: number, p: number): boolean => cat.stock[store * nProducts + p] >= 0;

  const addToBasket = (rng: Rng, store: number, p: number): boolean => {
    if (basket.includes(p) || (store >= 0 && !carried(store, p))) return false;
    basket.push(p);
    const consumable = cat.intervalDays[p] > 0;
    qty.push(consumable ? (rng.chance(0.3) ? 2 + rng.int(2) : 1) : rng.chance(0.08) ? 2 : 1);
    isRepeat.push(false);
    return true;
  };
  let orderTime = start;
  /** pickItem, in season for the fashion shape (a few draws, then whatever came). */
  const pick = (rng: Rng, tasteCats: number[], tasteCum: number[]): number => {
    let p = pickItem(rng, cat, tasteCats, tasteCum);
    for (let t = 0; inSeason && t < 8 && !inSeason(p, orderTime); t++) p = pickItem(rng, cat, tasteCats, tasteCum);
    return p;
  };
  const fillBasket = (rng: Rng, tasteCats: number[], tasteCum: number[], store: number): void => {
    let anchor = -1;
    for (let t = 0; t < 4 && anchor < 0; t++) {
      const p = pick(rng, tasteCats, tasteCum);
      if (addToBasket(rng, store, p)) anchor = p;
    }
    if (anchor >= 0) for (let c = 0; c < COMPLEMENTS; c++) if (rng.chance(0.35)) addToBasket(rng, store, cat.complements[anchor * COMPLEMENTS + c]);
    while (rng.chance(0.45)) addToBasket(rng, store, pick(rng, tasteCats, tasteCum));
  };

  for (let i = 0; i < people; i++) {
    const rng = new Rng(deriveSeed(seed, i, 1));
    const p = makePerson(i, rng, cat);
    if (shape === 'grocery') p.repeatProb = 1 - (1 - p.repeatProb) * 0.3;
    const lambda = meanOrders * (rng.gamma(1.2) / 1.2);
    const n = rng.poisson(lambda);
    if (n === 0) continue;
    const times: number[] = [];
    for (let k = 0; k < n; k++) times.push(start + rng.int(days) * DAY);
    times.sort((a, b) => a - b);
    due.clear();
    const used = new Set<Channel>();
    let firstChannel: Channel | null = null;
    for (const day of times) {
      const ch = p.channels[rng.pickCumulative(p.channelCum)];
      const store = ch === 'store' ? p.homeStores[rng.int(p.homeStores.length)] : -1;
      const time = ch === 'store' ? day + Math.floor((8 + rng.next() * 13) * 3_600_000) : day + rng.int(DAY / 1000) * 1000;
      basket.length = 0;
      qty.length = 0;
      isRepeat.length = 0;
      orderTime = time;
      // consumables due again
      for (const [item, at] of due) {
        if (at > time) continue;
        if (rng.chance(p.repeatProb)) {
          if (store < 0 || carried(store, item)) {
            basket.push(item);
            qty.push(1 + (rng.chance(0.25) ? 1 : 0));
            isRepeat.push(true);
          }
          due.set(item, time + cat.intervalDays[item] * p.intervalFactor * (0.8 + 0.4 * rng.next()) * DAY);
        } else if (rng.chance(0.6)) due.delete(item);
        else due.set(item, time + cat.intervalDays[item] * p.intervalFactor * DAY * 0.5);
      }
      fillBasket(rng, p.tasteCats, p.tasteCum, store);
      if (basket.length === 0) continue;
      used.add(ch);
      firstChannel ??= ch;
      for (let j = 0; j < basket.length; j++) {
        const item = basket[j];
        if (cat.intervalDays[item] > 0 && !due.has(item) && due.size < MAX_ROUTINE) due.set(item, time + cat.intervalDays[item] * p.intervalFactor * DAY);
        if (isRepeat[j]) s.repeatLines++;
      }
      const orderId = `${PREFIX[ch]}${pad(++seq, seqWidth)}`;
      const storeId = store >= 0 ? cat.stores[store] : '';
      const ids = idColumns(p.ids[ch], rng, ch, p);
      if (writeOrder(orderId, ch, storeId, time, ids, basket, qty, '')) await ordersW.flush();
      s.orders++;
      s.lines += basket.length;
      // returns: a share of non-consumable lines come back within 30 days
      const back: number[] = [];
      const backQ: number[] = [];
      for (let j = 0; j < basket.length; j++) {
        if (rng.chance(cat.intervalDays[basket[j]] > 0 ? 0.01 : 0.04)) {
          back.push(basket[j]);
          backQ.push(-qty[j]);
        }
      }
      if (back.length) {
        const rt = Math.min(end - 1000, time + (1 + rng.int(30)) * DAY);
        if (writeOrder(`${orderId}-R`, ch, storeId, rt, ids, back, backQ, orderId)) await ordersW.flush();
        s.returnOrders++;
        s.returnLines += back.length;
        s.lines += back.length;
      }
    }
    if (firstChannel === null) continue;
    s.buyers++;
    if (used.size > 1) multi[p.mode as Exclude<LinkMode, 'single'>]++;
    s.expectedUnified += p.mode === 'none' ? used.size : 1;
    // consent, given under the identity of the first channel used
    const ids = p.ids[firstChannel];
    const idCols = `${ids.account ?? ''},${ids.email ?? ''},${ids.phone ?? ''},${ids.loyalty ?? ''},${ids.device ?? ''},`;
    const source = CONSENT_SOURCES[firstChannel];
    const at = iso(times[0]);
    const granted = rng.chance(0.85);
    if (!granted) s.refused++;
    let rows = `${idCols},personalisation,${granted},${at},${source}\n`;
    s.consentRows++;
    for (const [purpose, pr] of [['email', 0.6], ['sms', 0.3], ['push', firstChannel === 'app' ? 0.7 : 0]] as const) {
      if (pr > 0 && rng.chance(0.7)) {
        rows += `${idCols},${purpose},${rng.chance(pr)},${at},${source}\n`;
        s.consentRows++;
      }
    }
    if (consentW.add(rows)) await consentW.flush();
    if (i % 256 === 0) options.onProgress?.(s.lines, targetLines);
  }

  // guests: one order each, no identifiers
  const guestOrders = Math.round((s.orders * guestShare) / (1 - guestShare));
  for (let g = 0; g < guestOrders; g++) {
    const rng = new Rng(deriveSeed(seed, g, 2));
    const ch: Channel = rng.chance(0.55) ? 'web' : 'store';
    const store = ch === 'store' ? rng.int(nStores) : -1;
    const cats = [rng.pickCumulative(cat.categoryCum)];
    const day = start + rng.int(days) * DAY;
    const time = ch === 'store' ? day + Math.floor((8 + rng.next() * 13) * 3_600_000) : day + rng.int(DAY / 1000) * 1000;
    basket.length = 0;
    qty.length = 0;
    isRepeat.length = 0;
    fillBasket(rng, cats, GUEST_CUM, store);
    if (basket.length === 0) continue;
    const orderId = `G${pad(++seq, seqWidth)}`;
    if (writeOrder(orderId, ch, store >= 0 ? cat.stores[store] : '', time, ',,,,,', basket, qty, '')) await ordersW.flush();
    s.orders++;
    s.guestOrders++;
    s.guestLines += basket.length;
    s.lines += basket.length;
    if (g % 1024 === 0) options.onProgress?.(s.lines, targetLines);
  }
  await ordersW.close();
  await consentW.close();
  options.onProgress?.(s.lines, targetLines);

  const summary: GenerateSummary = {
    seed,
    start: startDay,
    days,
    people,
    buyers: s.buyers,
    products: nProducts,
    categories: cat.categories.length,
    stores: nStores,
    orders: s.orders + s.returnOrders,
    lines: s.lines,
    returnOrders: s.returnOrders,
    returnLines: s.returnLines,
    guestOrders: s.guestOrders,
    guestLines: s.guestLines,
    repeatLines: s.repeatLines,
    multiChannelBuyers: multi,
    expectedUnifiedCustomers: s.expectedUnified,
    consentRows: s.consentRows,
    personalisationRefused: s.refused,
    inventoryRows,
    outOfStockRows,
    files,
  };
  await writeFile(join(options.out, files.summary), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
