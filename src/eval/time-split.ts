/**
 * The time split and the two evaluation protocols, exactly as /work/shared/tools/reference_eval.py
 * defines them:
 * - protocol rows: lines with a customer, an order id not starting with "C", quantity > 0
 *   (non-product codes are already out of the history);
 * - train = rows before the cutoff, test = rows at or after it;
 * - customers and items are those of the train rows (sorted ids); the train matrix X is binary,
 *   the counts matrix holds the number of purchase lines per customer-item;
 * - truth "all" = test items of known customers that are known items (repeats count);
 *   truth "discovery" = the same minus what the customer bought before the cutoff;
 * - test customers = customers with a non-empty "all" truth; discovery scores those whose
 *   discovery truth is non-empty, with already-bought items filtered out of the ranking.
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { HistoryLine } from '../core/records.js';
import { type Dataset, DatasetBuilder } from '../train/dataset.js';
import { DEFAULT_WEIGHTING, type WeightingOptions } from '../train/weighting.js';

const DAY_MS = 86_400_000;

export interface EvalSplit {
  /** Epoch ms; train is strictly before it. */
  cutoff: number;
  /** The cutoff as YYYY-MM-DD (UTC), as the reference prints it. */
  cutoffLabel: string;
  /** Protocol training data: binary weights (X), line counts, baskets of train-period orders (guests included). */
  reference: Dataset;
  /** The same customers and items, weighted by src/train/weighting.ts over every train-period line (returns net out); built on first use. */
  readonly weighted: Dataset;
  weightingOptions: WeightingOptions;
  /** Test customer (row of the training data) → items bought at or after the cutoff. */
  truthAll: Map<number, Set<number>>;
  /** Test customer → items bought after the cutoff that they had not bought before it. */
  truthNew: Map<number, Set<number>>;
  /** Customers with a non-empty "all" truth, ascending. */
  allUsers: Int32Array;
  /** Customers with a non-empty "discovery" truth, ascending. */
  discoveryUsers: Int32Array;
  counts: {
    trainLines: number;
    testLines: number;
    users: number;
    items: number;
    trainPairs: number;
    testUsersAll: number;
    testUsersDiscovery: number;
  };
}

/** Whether a history line is a protocol row (a known customer's purchase, not a cancellation). */
export const isProtocolRow = (l: HistoryLine): boolean =>
  l.customerId !== null && l.quantity > 0 && !(l.orderId.charCodeAt(0) === 67 || l.orderId.charCodeAt(0) === 99);

/** `YYYY-MM-DD` → UTC midnight epoch ms; InvalidArgumentError when malformed. */
export function parseCutoff(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  const t = m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : NaN;
  if (!m || !Number.isFinite(t) || new Date(t).getUTCDate() !== +m[3]) {
    throw new InvalidArgumentError(`cutoff must be a date YYYY-MM-DD (got "${s}")`, { cutoff: s });
  }
  return t;
}

/**
 * The cutoff: the given date, or the last protocol row's time minus `holdoutDays` days
 * (the reference subtracts from the last timestamp, not from its date).
 */
export function resolveCutoff(lines: readonly HistoryLine[], opts: { cutoff?: string; holdoutDays?: number }): number {
  if (opts.cutoff) return parseCutoff(opts.cutoff);
  const days = opts.holdoutDays ?? 30;
  if (!(days > 0)) throw new InvalidArgumentError(`holdout days must be > 0 (got ${days})`);
  let last = -Infinity;
  for (const l of lines) if (isProtocolRow(l) && l.time > last) last = l.time;
  if (!Number.isFinite(last)) throw new InvalidArgumentError('no purchases by known customers to split');
  return last - days * DAY_MS;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Splits history lines at the cutoff into protocol training data and test truth. */
export function timeSplit(lines: readonly HistoryLine[], cutoff: number, weighting: WeightingOptions = DEFAULT_WEIGHTING): EvalSplit {
  const users = new Set<string>();
  const items = new Set<string>();
  let trainLines = 0;
  let testLines = 0;
  for (const l of lines) {
    if (!isProtocolRow(l)) continue;
    if (l.time < cutoff) {
      trainLines++;
      users.add(l.customerId!);
      items.add(l.sku);
    } else testLines++;
  }
  if (users.size === 0) throw new InvalidArgumentError(`no purchases by known customers before the cutoff ${new Date(cutoff).toISOString()}`);
  const userList = [...users].sort(byCodeUnit);
  const itemList = [...items].sort(byCodeUnit);

  // the reference's X and counts: protocol rows only; guests' purchases feed baskets
  const ref = new DatasetBuilder({ items: itemList, customers: userList, before: cutoff });
  const protocol: HistoryLine[] = [];
  for (const l of lines) {
    if (l.time >= cutoff || !(l.quantity > 0)) continue;
    if (isProtocolRow(l) || l.customerId === null) protocol.push(l);
  }
  ref.add(protocol);
  const reference = ref.finish({ scheme: 'binary', epsilon: 1, quantityWeight: 0, halfLifeDays: 0, now: cutoff });

  let weightedData: Dataset | null = null;
  // the lines, until the weighted data is built: the split does not hold them after that (a caller that lets
  // them go, e.g. training once the served model's components are fitted, frees them)
  let source: readonly HistoryLine[] | null = lines;
  const weighted = (): Dataset => {
    if (!weightedData) {
      const wb = new DatasetBuilder({ items: itemList, customers: userList, before: cutoff });
      wb.add(source!);
      weightedData = wb.finish({ ...weighting, now: weighting.now ?? cutoff });
      source = null;
    }
    return weightedData;
  };

  const ui = new Map(userList.map((u, i) => [u, i]));
  const ii = new Map(itemList.map((s, i) => [s, i]));
  const truthAll = new Map<number, Set<number>>();
  for (const l of lines) {
    if (l.time < cutoff || !isProtocolRow(l)) continue;
    const u = ui.get(l.customerId!);
    const i = ii.get(l.sku);
    if (u === undefined || i === undefined) continue;
    let t = truthAll.get(u);
    if (!t) truthAll.set(u, (t = new Set()));
    t.add(i);
  }
  const X = reference.weights;
  const truthNew = new Map<number, Set<number>>();
  for (const [u, t] of truthAll) {
    const bought = new Set<number>();
    for (let p = X.indptr[u]; p < X.indptr[u + 1]; p++) bought.add(X.indices[p]);
    const nt = new Set<number>();
    for (const i of t) if (!bought.has(i)) nt.add(i);
    if (nt.size) truthNew.set(u, nt);
  }
  const allUsers = Int32Array.from(truthAll.keys()).sort();
  const discoveryUsers = Int32Array.from(truthNew.keys()).sort();
  return {
    cutoff,
    cutoffLabel: new Date(cutoff).toISOString().slice(0, 10),
    reference,
    get weighted() {
      return weighted();
    },
    weightingOptions: { ...weighting, now: weighting.now ?? cutoff },
    truthAll,
    truthNew,
    allUsers,
    discoveryUsers,
    counts: {
      trainLines,
      testLines,
      users: userList.length,
      items: itemList.length,
      trainPairs: X.indices.length,
      testUsersAll: allUsers.length,
      testUsersDiscovery: discoveryUsers.length,
    },
  };
}
