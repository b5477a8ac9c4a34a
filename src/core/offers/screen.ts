/**
 * The first two stages of a decision (eligible → suitable) as codes, fast for a fixed offer set, and what a decision
 * made of every offer (`considered`) kept compact until someone reads it.
 *
 * Each offer's outcome is one code of `WHY` (0: suitable). `screenCodes` gives exactly the codes that
 * `ineligibility` / `unsuitability` (decide.ts) give as text: the checks in the same order. For an offer set made
 * immutable by `prepareOffers` (deep-frozen, as the service holds it) the checks that depend only on the offer and the
 * context (window, channel, store, segment) are made once per (channel, store, segment) and kept until the clock
 * crosses an offer's window bound; each decision then checks only what depends on the subject (order counts, spend,
 * days since the last purchase, stock, consent, contacts, acceptances). Other arrays are checked offer by offer.
 *
 * `ConsideredTrace` is what `decide` knows of every offer when it has chosen: the codes, the suitable ones' scores
 * and conflicts, what was shown. `consideredOf` turns it into `Decision.considered` (read lazily), and
 * `encodeConsidered` / `decodeConsidered` into the decision log's compact form and back (src/store/sql-offers.ts).
 */
import type { ChoiceInputs } from './choice.js';
import { type ContactState, OFFER_CHANNELS, type Decision, type DecisionContext, type DecisionSubject, type Offer } from './types.js';

const DAY_MS = 86_400_000;

/** Why an offer was dropped, by code (index). Codes below FIRST_UNSUITABLE are ineligibility, the others unsuitability. */
export const WHY: readonly string[] = Object.freeze([
  '',
  'bad_window',
  'not_started',
  'ended',
  ...OFFER_CHANNELS.map((c) => `channel:${c}`),
  'store',
  'segment',
  'min_orders',
  'max_orders',
  'min_spend',
  'min_days_since_last_purchase',
  'new_customers_only',
  'out_of_stock',
  'no_consent:email',
  'no_consent:sms',
  'no_consent:push',
  'non_personalised',
  'contact_cap',
  'declined_recently',
  'acceptance_cap',
]);
const code = (why: string): number => {
  const c = WHY.indexOf(why);
  if (c < 0) throw new Error(`unknown screening outcome ${why}`);
  return c;
};
const BAD_WINDOW = code('bad_window');
const NOT_STARTED = code('not_started');
const ENDED = code('ended');
const CHANNEL = code(`channel:${OFFER_CHANNELS[0]}`); // + index of the channel
const STORE = code('store');
const SEGMENT = code('segment');
const MIN_ORDERS = code('min_orders');
const MAX_ORDERS = code('max_orders');
const MIN_SPEND = code('min_spend');
const MIN_DAYS = code('min_days_since_last_purchase');
const NEW_ONLY = code('new_customers_only');
const OUT_OF_STOCK = code('out_of_stock');
export const FIRST_UNSUITABLE = code('no_consent:email');
const NON_PERSONALISED = code('non_personalised');
const CONTACT_CAP = code('contact_cap');
const DECLINED = code('declined_recently');
const ACCEPTANCE_CAP = code('acceptance_cap');
const CONSENT_CODE: Record<string, number> = { email: code('no_consent:email'), sms: code('no_consent:sms'), push: code('no_consent:push') };

const parseTime = (iso: string | null | undefined): number | null => (iso == null || iso === '' ? null : Date.parse(iso));
const isSet = (x: number | null | undefined): x is number => x != null && Number.isFinite(x);

/** An offer's parsed window, cached per offer object (re-parsed when either bound's text changes). */
interface Window {
  startsAt: string | null | undefined;
  endsAt: string | null | undefined;
  start: number | null;
  end: number | null;
}
const windows = new WeakMap<Offer, Window>();
export function windowOf(offer: Offer): Window {
  let w = windows.get(offer);
  if (!w || w.startsAt !== offer.startsAt || w.endsAt !== offer.endsAt) {
    w = { startsAt: offer.startsAt, endsAt: offer.endsAt, start: parseTime(offer.startsAt), end: parseTime(offer.endsAt) };
    windows.set(offer, w);
  }
  return w;
}

/** The checks that depend on the offer and the context only: window, channel, store, segment (0: passed). */
function staticCode(offer: Offer, personalised: boolean, segment: string | null, ctx: Pick<DecisionContext, 'now' | 'channel' | 'store'>): number {
  const { start, end } = windowOf(offer);
  if (Number.isNaN(start) || Number.isNaN(end)) return BAD_WINDOW;
  if (start !== null && ctx.now < start) return NOT_STARTED;
  if (end !== null && ctx.now >= end) return ENDED;
  if (offer.channels.length > 0 && !offer.channels.includes(ctx.channel)) return CHANNEL + OFFER_CHANNELS.indexOf(ctx.channel);
  if (offer.stores.length > 0 && (ctx.channel !== 'store' || ctx.store === null || !offer.stores.includes(ctx.store))) return STORE;
  const segs = offer.eligibility?.segments;
  // A segment restriction is checked here only for personalised subjects; without personalisation it makes the offer unsuitable.
  if (personalised && segs && segs.length > 0 && (segment === null || !segs.includes(segment as never))) return SEGMENT;
  return 0;
}

/** Order counts, spend, days since the last purchase, new customers only (0: passed). */
function subjectCode(offer: Offer, subject: DecisionSubject): number {
  const e = offer.eligibility ?? {};
  if (isSet(e.minOrders) && subject.orders < e.minOrders) return MIN_ORDERS;
  if (isSet(e.maxOrders) && subject.orders > e.maxOrders) return MAX_ORDERS;
  if (isSet(e.minSpend) && subject.spend < e.minSpend) return MIN_SPEND;
  if (isSet(e.minDaysSinceLastPurchase) && (subject.daysSinceLastPurchase === null || subject.daysSinceLastPurchase < e.minDaysSinceLastPurchase)) {
    return MIN_DAYS;
  }
  if (e.newCustomersOnly && subject.orders > 1) return NEW_ONLY;
  return 0;
}

const hasTargets = (offer: Offer): boolean => offer.targets.skus.length > 0 || offer.targets.categories.length > 0;

/** The code of the channel's consent purpose when the subject has not granted it, else 0; -1: a purpose WHY has no code for. */
function consentCode(subject: DecisionSubject, ctx: DecisionContext): number {
  const purpose = ctx.channelConsent[ctx.channel];
  if (!purpose || subject.consent[purpose] === true) return 0;
  return CONSENT_CODE[purpose] ?? -1;
}

/**
 * Until when the codes screened at `now` hold, as far as time goes (ScreenCodes' validity): the clock reaching an
 * offer window's bound, an impression's time or its end of window, or a decline's end of suppression changes them.
 * Times computed by adding a window to a time are taken 1 ms early (a rounding of the sum can only make it end sooner).
 */
export interface ScreenValidity {
  from: number;
  until: number;
}

/** Contact cap, decline suppression, acceptance cap (0: passed). */
function contactCode(offer: Offer, subject: DecisionSubject, ctx: DecisionContext, v?: ScreenValidity): number {
  const c = offer.contact ?? {};
  const capped = isSet(c.maxImpressions);
  const suppress = isSet(c.suppressDaysAfterDecline);
  if (capped || suppress) {
    const state = subject.customerId === null ? undefined : ctx.contacts(offer.id);
    if (v !== undefined && state) contactChanges(c, state, ctx.now, v);
    if (capped && state) {
      const since = isSet(c.perDays) ? ctx.now - c.perDays * DAY_MS : -Infinity;
      let n = 0;
      for (const t of state.impressions) if (t > since && t <= ctx.now) n++;
      if (n >= c.maxImpressions!) return CONTACT_CAP;
    } else if (capped && c.maxImpressions! <= 0) return CONTACT_CAP;
    if (suppress && state?.lastDeclineAt != null && ctx.now - state.lastDeclineAt < c.suppressDaysAfterDecline! * DAY_MS) return DECLINED;
  }
  if (isSet(c.maxAcceptances) && ctx.acceptances(offer.id) >= c.maxAcceptances) return ACCEPTANCE_CAP;
  return 0;
}

/** The first time after `now` at which this contact state can answer contactCode otherwise: `v.until` lowered to it. */
function contactChanges(c: Offer['contact'], state: ContactState, now: number, v: ScreenValidity): void {
  let until = v.until;
  const window = isSet(c.perDays) ? c.perDays * DAY_MS : null;
  for (const t of state.impressions) {
    if (t > now && t < until) until = t; // counted once the clock reaches it
    if (window !== null) {
      const end = t + window - 1; // no longer counted once the clock passes t + window
      if (end > now && end < until) until = end;
    }
  }
  if (state.lastDeclineAt != null && isSet(c.suppressDaysAfterDecline)) {
    const end = state.lastDeclineAt + c.suppressDaysAfterDecline * DAY_MS - 1;
    if (end > now && end < until) until = end;
  }
  // a time that is not a number cannot be placed: nothing is kept
  if (!state.impressions.every((t) => typeof t === 'number' && !Number.isNaN(t)) || (state.lastDeclineAt != null && Number.isNaN(state.lastDeclineAt))) until = now;
  v.until = until;
}

/** The code of one offer, checked from scratch (what `ineligibility` then `unsuitability` say, as a code). */
export function offerCode(offer: Offer, subject: DecisionSubject, ctx: DecisionContext): number {
  return (
    staticCode(offer, subject.personalised, subject.segment, ctx) ||
    subjectCode(offer, subject) ||
    (hasTargets(offer) && !ctx.inStock(offer) ? OUT_OF_STOCK : 0) ||
    unsuitableCode(offer, subject, ctx, consentCode(subject, ctx))
  );
}

function unsuitableCode(offer: Offer, subject: DecisionSubject, ctx: DecisionContext, consent: number): number {
  if (consent < 0) throw new Error(`no screening code for the consent purpose of channel ${ctx.channel}`);
  if (consent) return consent;
  const segs = offer.eligibility?.segments;
  if (!subject.personalised && segs && segs.length > 0) return NON_PERSONALISED;
  return contactCode(offer, subject, ctx);
}

// ---------- prepared (immutable) offer sets ----------

/** The static checks of a prepared set for one (channel, store, segment), valid while `now` is in [from, until). */
interface Bucket {
  from: number;
  until: number;
  /** Per offer: its static code (0: passed). */
  codes: Uint8Array;
  /** The offers that passed, ascending. */
  passed: Int32Array;
}

export interface PreparedOffers {
  readonly offers: readonly Offer[];
  readonly ids: readonly string[];
  /** Window bounds of every offer, ascending (the clock crossing one changes static codes). */
  readonly bounds: Float64Array;
  /** Per offer: 1 when it has order/spend/days/new-customer conditions. */
  readonly conditional: Uint8Array;
  readonly targeted: Uint8Array;
  /** Per offer: 1 when it is restricted to segments (unsuitable without personalisation). */
  readonly restricted: Uint8Array;
  /** Per offer: 1 when it has a contact rule (impression cap, decline suppression, acceptance cap). */
  readonly contactRules: Uint8Array;
  readonly buckets: Map<string, Bucket>;
}

const prepared = new WeakMap<readonly Offer[], PreparedOffers>();

function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object' && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x as object)) deepFreeze(v);
  }
  return x;
}

/**
 * Makes an offer list immutable (deep-frozen: the list, the offers and everything in them) and prepares its static
 * checks: `decide` on that very array then screens through per-context buckets. Returns the same array.
 */
export function prepareOffers<T extends readonly Offer[]>(offers: T): T {
  if (prepared.has(offers)) return offers;
  deepFreeze(offers);
  const bounds: number[] = [];
  for (const o of offers) {
    const { start, end } = windowOf(o);
    if (start !== null && !Number.isNaN(start)) bounds.push(start);
    if (end !== null && !Number.isNaN(end)) bounds.push(end);
  }
  prepared.set(offers, {
    offers,
    ids: Object.freeze(offers.map((o) => o.id)),
    bounds: Float64Array.from(bounds).sort(),
    conditional: Uint8Array.from(offers, (o) => {
      const e = o.eligibility ?? {};
      return isSet(e.minOrders) || isSet(e.maxOrders) || isSet(e.minSpend) || isSet(e.minDaysSinceLastPurchase) || e.newCustomersOnly ? 1 : 0;
    }),
    targeted: Uint8Array.from(offers, (o) => (hasTargets(o) ? 1 : 0)),
    restricted: Uint8Array.from(offers, (o) => ((o.eligibility?.segments?.length ?? 0) > 0 ? 1 : 0)),
    contactRules: Uint8Array.from(offers, (o) => {
      const c = o.contact ?? {};
      return isSet(c.maxImpressions) || isSet(c.suppressDaysAfterDecline) || isSet(c.maxAcceptances) ? 1 : 0;
    }),
    buckets: new Map(),
  });
  return offers;
}

/** The prepared form of this array, when `prepareOffers` made it (and so nothing in it can have changed). */
export function preparedOf(offers: readonly Offer[]): PreparedOffers | undefined {
  return prepared.get(offers);
}

const MAX_BUCKETS = 512;

function bucketOf(p: PreparedOffers, subject: DecisionSubject, ctx: DecisionContext): Bucket {
  const seg = subject.personalised ? (subject.segment ?? '\u0001') : '\u0002';
  const key = `${ctx.channel}\u0000${ctx.store ?? '\u0003'}\u0000${seg}`;
  const now = ctx.now;
  let b = p.buckets.get(key);
  if (b && now >= b.from && now < b.until) return b;
  // the bounds around now: static codes change only when the clock crosses one
  let from = -Infinity;
  let until = Infinity;
  for (let i = 0; i < p.bounds.length; i++) {
    const t = p.bounds[i];
    if (t <= now) from = t;
    else {
      until = t;
      break;
    }
  }
  const n = p.offers.length;
  const codes = new Uint8Array(n);
  const passed: number[] = [];
  const c = { now, channel: ctx.channel, store: ctx.store };
  for (let i = 0; i < n; i++) {
    codes[i] = staticCode(p.offers[i], subject.personalised, subject.segment, c);
    if (codes[i] === 0) passed.push(i);
  }
  b = { from, until, codes, passed: Int32Array.from(passed) };
  if (p.buckets.size >= MAX_BUCKETS) p.buckets.clear();
  p.buckets.set(key, b);
  return b;
}

export interface ScreenCodes {
  /** Per offer: its code (0: suitable). */
  codes: Uint8Array;
  /** Indices of the suitable offers, ascending. */
  index: number[];
  suitable: Offer[];
}

/**
 * Every offer's code for this subject and context (see the module comment). `validity` (prepared sets only): set to
 * the times between which the codes hold for this subject and context as far as the clock goes (ScreenValidity).
 */
export function screenCodes(offers: readonly Offer[], subject: DecisionSubject, ctx: DecisionContext, validity?: ScreenValidity): ScreenCodes {
  const p = prepared.get(offers);
  const consent = consentCode(subject, ctx);
  const index: number[] = [];
  const suitable: Offer[] = [];
  if (p === undefined) {
    const codes = new Uint8Array(offers.length);
    for (let i = 0; i < offers.length; i++) {
      const offer = offers[i];
      const c =
        staticCode(offer, subject.personalised, subject.segment, ctx) ||
        subjectCode(offer, subject) ||
        (hasTargets(offer) && !ctx.inStock(offer) ? OUT_OF_STOCK : 0) ||
        unsuitableCode(offer, subject, ctx, consent);
      codes[i] = c;
      if (c === 0) {
        index.push(i);
        suitable.push(offer);
      }
    }
    return { codes, index, suitable };
  }
  const b = bucketOf(p, subject, ctx);
  const v = validity;
  if (v !== undefined) {
    v.from = b.from;
    v.until = b.until;
  }
  const codes = b.codes.slice();
  const passed = b.passed;
  const personalised = subject.personalised;
  for (let k = 0; k < passed.length; k++) {
    const i = passed[k];
    const offer = p.offers[i];
    // unsuitableCode with the offer's flags read from the prepared set (the same checks in the same order)
    const c =
      (p.conditional[i] === 1 ? subjectCode(offer, subject) : 0) ||
      (p.targeted[i] === 1 && !ctx.inStock(offer) ? OUT_OF_STOCK : 0) ||
      (consent !== 0 ? unsuitableCode(offer, subject, ctx, consent) : 0) ||
      (!personalised && p.restricted[i] === 1 ? NON_PERSONALISED : 0) ||
      (p.contactRules[i] === 1 ? contactCode(offer, subject, ctx, v) : 0);
    if (c !== 0) codes[i] = c;
    else {
      index.push(i);
      suitable.push(offer);
    }
  }
  return { codes, index, suitable };
}

/** Per prepared set: the indices of its offers with an acceptance cap. */
const cappedOffers = new WeakMap<readonly Offer[], Int32Array>();

/**
 * Whether the acceptance caps screened into `codes` (screenCodes of the prepared set `offers`) screen the same with
 * `ctx.acceptances` now: each capped offer whose screening reached that check (suitable, or stopped by the cap) is
 * still under its cap, or still at it. The other checks do not read the acceptances (decide re-checks a kept
 * screening with this when the response counts changed). False for a set `prepareOffers` did not make.
 */
export function acceptanceCapsHold(offers: readonly Offer[], codes: Uint8Array, ctx: Pick<DecisionContext, 'acceptances'>): boolean {
  if (prepared.get(offers) === undefined) return false;
  let capped = cappedOffers.get(offers);
  if (capped === undefined) {
    const at: number[] = [];
    for (let i = 0; i < offers.length; i++) if (isSet(offers[i].contact?.maxAcceptances)) at.push(i);
    cappedOffers.set(offers, (capped = Int32Array.from(at)));
  }
  for (let k = 0; k < capped.length; k++) {
    const i = capped[k];
    const c = codes[i];
    if (c !== 0 && c !== ACCEPTANCE_CAP) continue;
    const now = ctx.acceptances(offers[i].id) >= offers[i].contact!.maxAcceptances! ? ACCEPTANCE_CAP : 0;
    if (now !== c) return false;
  }
  return true;
}

// ---------- what became of every offer ----------

/** Everything `Decision.considered` is made from (kept as it was when the decision was made). */
export interface ConsideredTrace {
  /** The offers' ids, in the order decided on. */
  ids: readonly string[];
  /** Per offer: its screening code (0: suitable). */
  codes: Uint8Array;
  /** Per suitable offer (in order): its score, and the suitable offers sharing a target with it. */
  scores: Float64Array;
  conflicts: readonly (readonly number[])[];
  /** The suitable offers shown (indices among the suitable ones), best first. */
  shown: readonly number[];
  holdout: boolean;
  /** What the probability of each shown offer is computed from (./choice.ts; absent when nothing was shown). */
  choice?: ChoiceInputs;
  /** With `choice`: the conflicts of every offer of the set (`ids`), as `conflicts` is of the suitable ones. */
  setConflicts?: readonly (readonly number[])[];
  /** With `choice`: value × weight of every offer of the set. */
  setValueWeights?: Float64Array;
}

const round = (x: number): string => (Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3));

type Considered = Decision['considered'][number];

/** What became of the suitable offer `s` (not shown): outranked by a shown one on its target, a holdout draw, or its score. */
function rankedLower(t: ConsideredTrace, s: number): { why: 'target'; blocker: number } | { why: 'holdout' } | { why: 'score'; score: number } {
  const cs = t.conflicts[s];
  for (const j of t.shown) if (cs.includes(j)) return { why: 'target', blocker: j };
  return t.holdout ? { why: 'holdout' } : { why: 'score', score: t.scores[s] };
}

/** `Decision.considered` from its trace. */
export function consideredOf(t: ConsideredTrace): Decision['considered'] {
  const n = t.ids.length;
  const out: Considered[] = new Array(n);
  const suitableIds: string[] = [];
  for (let i = 0; i < n; i++) if (t.codes[i] === 0) suitableIds.push(t.ids[i]);
  for (let i = 0, si = 0; i < n; i++) {
    const offerId = t.ids[i];
    const c = t.codes[i];
    if (c !== 0) {
      out[i] = { offerId, outcome: c < FIRST_UNSUITABLE ? 'ineligible' : 'unsuitable', why: WHY[c] };
      continue;
    }
    const s = si++;
    if (t.shown.includes(s)) {
      out[i] = { offerId, outcome: 'shown' };
      continue;
    }
    const r = rankedLower(t, s);
    out[i] = {
      offerId,
      outcome: 'ranked_lower',
      why: r.why === 'target' ? `same_target_as:${suitableIds[r.blocker]}` : r.why === 'holdout' ? 'holdout_draw' : `score ${round(r.score)} below the shown`,
    };
  }
  return out;
}

/**
 * The decision log's form of `considered` (JSON): the offer set by a key (its ids are stored once, see
 * src/store/sql-offers.ts), one character per offer indexing `table` (distinct "outcome" or "outcome:why" entries;
 * "ranked_lower:score" takes the next of `scores`, "ranked_lower:same_target_as" the id of the shown offer at the next
 * of `blockers`), and the scores as little-endian float64 in base64 (exact).
 */
export interface EncodedConsidered {
  v: 2;
  set: string;
  codes: string;
  table: string[];
  scores?: string;
  blockers?: number[];
}

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** The table entry of each screening code ("outcome:why"), and of the three ways a suitable offer ends. */
const ENTRY = WHY.map((w, c) => (c === 0 ? 'shown' : `${c < FIRST_UNSUITABLE ? 'ineligible' : 'unsuitable'}:${w}`));
const SHOWN = 0;
const RANKED_TARGET = WHY.length;
const RANKED_HOLDOUT = WHY.length + 1;
const RANKED_SCORE = WHY.length + 2;
const ENTRIES = [...ENTRY, 'ranked_lower:same_target_as', 'ranked_lower:holdout_draw', 'ranked_lower:score'];
const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

/** The compact form of a trace whose offer set is stored under `set`. */
let encodeChars = Buffer.alloc(256);
let encodeScores = new Float64Array(256);
let encodePositions = new Int32Array(256);
const encodeSlots = new Int8Array(ENTRIES.length);

/** What one pass over a trace gives (encodeTrace): the codes' characters, the table, the scores kept, the blockers. */
interface TraceCodes {
  n: number;
  table: number[];
  nScores: number;
  blockers: number[] | null;
}

/** The pass of encodeConsidered: fills encodeChars[0, n) and encodeScores[0, nScores) (scratch, read before the next call). */
function encodeTrace(t: ConsideredTrace): TraceCodes {
  const n = t.ids.length;
  // entries of `table`, by index into ENTRIES
  const table: number[] = [];
  // slot in `table` of each entry (-1: not used yet); fewer entries than ALPHABET characters (checked below)
  const slot = encodeSlots.fill(-1);
  // scratch (read within this call only): the codes' characters, the scores kept, each suitable offer's position
  const m = t.scores.length;
  if (encodeChars.length < n) encodeChars = Buffer.alloc(Math.max(n, 2 * encodeChars.length));
  if (encodeScores.length < m) {
    encodeScores = new Float64Array(Math.max(m, 2 * encodeScores.length));
    encodePositions = new Int32Array(encodeScores.length);
  }
  const chars = encodeChars;
  const scores = encodeScores;
  let nScores = 0;
  let blockers: number[] | null = null;
  const position = encodePositions.fill(-1, 0, m);
  for (let k = 0; k < t.shown.length; k++) position[t.shown[k]] = k;
  // each suitable offer's blocker (blockerAt), found from the shown offers through the offers listing each (one
  // inverse per conflicts list, which decide shares between decisions): a few entries instead of every offer's list
  const blockerOf = blockersOf(t, m, position);
  for (let i = 0, si = 0; i < n; i++) {
    const c = t.codes[i];
    let e: number;
    if (c !== 0) e = c;
    else {
      const s = si++;
      if (position[s] >= 0) e = SHOWN;
      else {
        // rankedLower, without an object per offer
        const blocker = blockerOf === null ? blockerAt(t, s, position) : blockerOf[s];
        if (blocker >= 0) {
          e = RANKED_TARGET;
          (blockers ??= []).push(position[blocker]);
        } else if (t.holdout) e = RANKED_HOLDOUT;
        else {
          e = RANKED_SCORE;
          scores[nScores++] = t.scores[s];
        }
      }
    }
    if (slot[e] < 0) {
      slot[e] = table.length;
      table.push(e);
    }
    chars[i] = ALPHABET_CODES[slot[e]];
  }
  if (blockerOf !== null) for (let k = 0; k < t.shown.length; k++) for (const s of listersOf(t.conflicts)![t.shown[k]] ?? []) blockerOf[s] = -1;
  return { n, table, nScores, blockers };
}

/** Per conflicts list: for each suitable offer j, the offers s whose list holds j (each s once, in increasing order). */
const listers = new WeakMap<readonly (readonly number[])[], readonly (readonly number[])[]>();
function listersOf(conflicts: readonly (readonly number[])[]): readonly (readonly number[])[] | undefined {
  return listers.get(conflicts);
}
let encodeBlockers = new Int32Array(256).fill(-1);

/**
 * blockerAt of every suitable offer (scratch, -1: none; the caller resets the entries set), or null when the trace's
 * lists do not fit (then blockerAt per offer). The shown offers in position order: the first to be listed by s is
 * the one of least position among s's conflicts, as blockerAt finds it.
 */
function blockersOf(t: ConsideredTrace, m: number, position: Int32Array): Int32Array | null {
  const conflicts = t.conflicts;
  if (conflicts.length !== m) return null;
  let inverse = listers.get(conflicts);
  if (inverse === undefined) {
    const lists: number[][] = Array.from({ length: m }, () => []);
    for (let s = 0; s < m; s++) {
      const cs = conflicts[s];
      for (let q = 0; q < cs.length; q++) {
        const j = cs[q];
        // an index out of range has no position (blockerAt never picks it)
        if (!(j >= 0 && j < m) || !Number.isInteger(j)) continue;
        const l = lists[j];
        if (l[l.length - 1] !== s) l.push(s);
      }
    }
    inverse = lists;
    listers.set(conflicts, inverse);
  }
  if (encodeBlockers.length < m) encodeBlockers = new Int32Array(Math.max(m, 2 * encodeBlockers.length)).fill(-1);
  const blockerOf = encodeBlockers;
  for (let k = 0; k < t.shown.length; k++) {
    const j = t.shown[k];
    if (position[j] !== k) continue;
    const l = inverse[j];
    if (l === undefined) continue;
    for (let q = 0; q < l.length; q++) if (blockerOf[l[q]] < 0) blockerOf[l[q]] = j;
  }
  return blockerOf;
}

export function encodeConsidered(t: ConsideredTrace, set: string): EncodedConsidered {
  const { n, table, nScores, blockers } = encodeTrace(t);
  const out: EncodedConsidered = { v: 2, set, codes: encodeChars.toString('latin1', 0, n), table: table.map((e) => ENTRIES[e]) };
  if (nScores) out.scores = Buffer.from(encodeScores.buffer, encodeScores.byteOffset, nScores * 8).toString('base64');
  if (blockers) out.blockers = blockers;
  return out;
}

/** Each entry of ENTRIES as JSON text (ASCII, no backslash: checked below). */
const ENTRIES_JSON = ENTRIES.map((e) => JSON.stringify(e));
const jsonNumber = (x: number): string => (Number.isFinite(x) ? String(x) : 'null');

/**
 * `JSON.stringify(encodeConsidered(t, set))` in parts, for the decision log's row to be written as bytes on the request
 * path (no object, no walk over long strings, no string of the whole): `head` (ASCII), the codes' characters (bytes,
 * ASCII; scratch, valid until the next call), `mid` (ASCII), the scores kept as little-endian float64 bytes to be
 * written in base64 as `,"scores":"…"` (scratch, or null), and `tail` (ASCII). Concatenated they are exactly that text
 * (test/decision-log-row.test.ts).
 */
export function consideredParts(t: ConsideredTrace, set: string): { head: string; codes: Uint8Array; mid: string; scores: Uint8Array | null; tail: string } {
  const { n, table, nScores, blockers } = encodeTrace(t);
  let mid = '","table":[';
  for (let k = 0; k < table.length; k++) mid += k === 0 ? ENTRIES_JSON[table[k]] : `,${ENTRIES_JSON[table[k]]}`;
  mid += ']';
  let tail = '';
  if (blockers) {
    tail = ',"blockers":[';
    for (let k = 0; k < blockers.length; k++) tail += k === 0 ? jsonNumber(blockers[k]) : `,${jsonNumber(blockers[k])}`;
    tail += ']';
  }
  return {
    head: `{"v":2,"set":${JSON.stringify(set)},"codes":"`,
    codes: encodeChars.subarray(0, n),
    mid,
    scores: nScores ? new Uint8Array(encodeScores.buffer, encodeScores.byteOffset, nScores * 8) : null,
    tail: tail + '}',
  };
}

if (ENTRIES_JSON.some((e) => /[^\x20-\x5b\x5d-\x7e]/.test(e))) throw new Error('screen.ts: a considered entry is not plain ASCII');

/**
 * The first shown offer (in shown order) sharing a target with the suitable offer `s`, or -1 (as rankedLower finds
 * it), from the shown offers' positions (`position[j]`: j's place among the shown, −1 if not shown): the one of least
 * position among s's conflicts.
 */
function blockerAt(t: ConsideredTrace, s: number, position: Int32Array): number {
  const cs = t.conflicts[s];
  let best = -1;
  for (let q = 0; q < cs.length; q++) {
    const k = position[cs[q]];
    if (k >= 0 && (best < 0 || k < position[best])) best = cs[q];
  }
  return best;
}

if (ENTRIES.length > ALPHABET.length) throw new Error('screen.ts: more considered entries than characters to encode them');

/** `considered` from its encoded form, the offer set's ids and the ids shown (best first). */
export function decodeConsidered(e: EncodedConsidered, ids: readonly string[], shownIds: readonly string[]): Decision['considered'] {
  const bytes = e.scores ? Buffer.from(e.scores, 'base64') : null;
  const scores = bytes ? new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) : new Float64Array(0);
  let nextScore = 0;
  let nextBlocker = 0;
  const out: Considered[] = [];
  for (let i = 0; i < e.codes.length; i++) {
    const entry = e.table[ALPHABET.indexOf(e.codes[i])];
    const offerId = ids[i] ?? `#${i}`;
    const colon = entry.indexOf(':');
    const outcome = (colon < 0 ? entry : entry.slice(0, colon)) as Considered['outcome'];
    const why = colon < 0 ? undefined : entry.slice(colon + 1);
    if (why === undefined) out.push({ offerId, outcome });
    else if (outcome === 'ranked_lower' && why === 'score') out.push({ offerId, outcome, why: `score ${round(scores[nextScore++])} below the shown` });
    else if (outcome === 'ranked_lower' && why === 'same_target_as') out.push({ offerId, outcome, why: `same_target_as:${shownIds[e.blockers![nextBlocker++]]}` });
    else out.push({ offerId, outcome, why });
  }
  return out;
}

/** The indices (in the offer set) of the offers a decision found suitable (shown or ranked lower), from its encoded considered. */
export function suitableIndexOf(e: EncodedConsidered): number[] {
  const suitable = e.table.map((entry) => entry === 'shown' || entry.startsWith('ranked_lower:'));
  const out: number[] = [];
  for (let i = 0; i < e.codes.length; i++) if (suitable[ALPHABET.indexOf(e.codes[i])]) out.push(i);
  return out;
}

/** The eligibility stage's code of one offer (0: eligible). */
export function eligibilityCode(offer: Offer, subject: DecisionSubject, ctx: DecisionContext): number {
  return staticCode(offer, subject.personalised, subject.segment, ctx) || subjectCode(offer, subject) || (hasTargets(offer) && !ctx.inStock(offer) ? OUT_OF_STOCK : 0);
}

/** The suitability stage's code of one eligible offer (0: suitable). */
export function suitabilityCode(offer: Offer, subject: DecisionSubject, ctx: DecisionContext): number {
  return unsuitableCode(offer, subject, ctx, consentCode(subject, ctx));
}
