/**
 * The offer tables of the history store (migration 007_offers.sql), in SQL over any SqlClient:
 * offers, the decision log, offer events with the counters derived from them (contacts per
 * customer × offer, counts per offer, response counts per offer × segment × channel, impressions also summed by
 * their exposure: migration 011). SqlStore
 * delegates its offer methods here (see store.ts for the contract of each).
 */
import { createHash } from 'node:crypto';
import type { ConsentPurpose, Segment } from '../core/records.js';
import { normaliseOffer } from '../core/offers/normalise-offer.js';
import type { ContactState, Offer } from '../core/offers/types.js';
import { absentCustomers, ERASURE_LOCK } from './erasure-list.js';
import type { SqlClient } from './sql-client.js';
import { choiceParts, choiceProbabilities, decodeChoice, type EncodedChoice, encodeChoice, suitableConflicts } from '../core/offers/choice.js';
import { type ConsideredTrace, consideredParts, decodeConsidered, type EncodedConsidered, encodeConsidered, suitableIndexOf } from '../core/offers/screen.js';
import type { DecisionLogEntry, DecisionToLog, LoggedDecisions, OfferCounts, PreparedDecision, OfferEventInput, OfferEventOutcome, OfferResponseCell, OfferSubjectFacts } from './store.js';

const DAY = 86_400_000;
/** Impressions older than this are dropped from the counters (no contact window is longer). */
export const CONTACT_HORIZON_MS = 365 * DAY;
/** At most this many impression times are kept per customer × offer. */
export const MAX_IMPRESSIONS_KEPT = 256;
const CUSTOMER_ID = /^[1-9][0-9]{0,17}$/;
const EPOCH_MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::float8`;

export async function listOffers(db: SqlClient): Promise<Offer[]> {
  const r = await db.query<{ doc: Offer }>('SELECT doc FROM offers ORDER BY id');
  return r.rows.map((x) => normaliseOffer(typeof x.doc === 'string' ? (JSON.parse(x.doc) as Offer) : x.doc));
}

export async function getOffer(db: SqlClient, id: string): Promise<Offer | null> {
  const r = await db.query<{ doc: Offer }>('SELECT doc FROM offers WHERE id = $1', [id]);
  const doc = r.rows[0]?.doc;
  return doc === undefined ? null : normaliseOffer(typeof doc === 'string' ? (JSON.parse(doc) as Offer) : doc);
}

export async function putOffers(db: SqlClient, offers: readonly Offer[]): Promise<{ created: number; updated: number }> {
  if (offers.length === 0) return { created: 0, updated: 0 };
  // the last of several with one id wins (a file that lists an offer twice)
  const byId = new Map(offers.map((o) => [o.id, normaliseOffer(o)]));
  const rows = [...byId.values()];
  const r = await db.query<{ created: boolean }>(
    `INSERT INTO offers (id, doc, starts_at, ends_at)
       SELECT i, d::jsonb, s::timestamptz, e::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(i, d, s, e)
     ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, starts_at = excluded.starts_at, ends_at = excluded.ends_at, updated_at = clock_timestamp()
     RETURNING (xmax = 0) AS created`,
    [rows.map((o) => o.id), rows.map((o) => JSON.stringify(o)), rows.map((o) => o.startsAt), rows.map((o) => o.endsAt)],
  );
  const created = r.rows.filter((x) => x.created).length;
  return { created, updated: rows.length - created };
}

export async function deleteOffer(db: SqlClient, id: string): Promise<boolean> {
  const r = await db.query('DELETE FROM offers WHERE id = $1', [id]);
  return r.rowCount > 0;
}

/**
 * Offer sets by their key: the first 16 hex digits of the SHA-256 of their ids (a set logged without what choices
 * are computed from), or of their ids, conflicts and values × weights; computed once per set as decide traced it.
 */
const setKeys = new WeakMap<readonly string[], { ids?: string; full?: { conflicts: unknown; vw: unknown; key: string } }>();

function setKey(ids: readonly string[], conflicts: readonly (readonly number[])[] | null, vw: Float64Array | null): string {
  // both keys of a set are kept: decisions without a choice (nothing shown) and with one alternate, and each
  // recomputation hashes the whole set
  let known = setKeys.get(ids);
  if (!known) setKeys.set(ids, (known = {}));
  if (conflicts === null && known.ids !== undefined) return known.ids;
  if (conflicts !== null && known.full && known.full.conflicts === conflicts && known.full.vw === vw) return known.full.key;
  const key = createHash('sha256')
    .update(JSON.stringify(conflicts === null ? ids : [ids, conflicts, Array.from(vw ?? [])]))
    .digest('hex')
    .slice(0, 16);
  if (conflicts === null) known.ids = key;
  else known.full = { conflicts, vw, key };
  return key;
}

interface SetToStore {
  ids: readonly string[];
  conflicts: readonly (readonly number[])[] | null;
  vw: Float64Array | null;
}

/** `considered` as stored: traced ones encoded over their offer set (its key and contents returned), written-out ones as they are. */
function consideredDoc(e: DecisionToLog): { doc: unknown; set: (SetToStore & { key: string }) | null } {
  const c = e.considered;
  if (Array.isArray(c)) return { doc: c, set: null };
  const t = c as ConsideredTrace;
  const choice = t.choice && t.setConflicts && t.setValueWeights;
  const conflicts = choice ? t.setConflicts! : null;
  const vw = choice ? t.setValueWeights! : null;
  const key = setKey(t.ids, conflicts, vw);
  return { doc: encodeConsidered(t, key), set: { key, ids: t.ids, conflicts, vw } };
}

/** What the shown offers' probabilities are computed from (traced decisions that carry it), as stored; else null. */
function choiceDoc(e: DecisionToLog): unknown {
  const c = e.considered;
  if (Array.isArray(c)) return null;
  const t = c as ConsideredTrace;
  return t.choice && t.setConflicts && t.setValueWeights ? encodeChoice(t.choice) : null;
}

/**
 * A decision encoded for the log (PreparedDecision, store.ts): its id, time and customer, everything else as one
 * JSON text (`doc` of offer_decision_log, migration 012: context "x", considered "k", shown "s", policy "pn"/"pv",
 * holdout "h", choice "ch"), and the offer set its `considered` names. Made once per decision (e.g. as it is
 * queued: the decision's trace can be collected at once instead of waiting in the queue), written by
 * `logDecisions` without further work per decision but a line of COPY.
 */
export function prepareDecision(e: DecisionToLog): PreparedDecision {
  const c = e.considered;
  // a traced decision (the service's): its line written as bytes piece by piece, the same bytes as the line of
  // `preparedText` (test/decision-log-row.test.ts compares them): no object per part, no JSON.stringify walking the
  // long strings, no string of the whole line (each a copy of ~3 KB per decision)
  if (!Array.isArray(c) && typeof e.holdout === 'boolean' && typeof e.policy?.name === 'string' && typeof e.policy.version === 'string') {
    const context = JSON.stringify(e.context) as string | undefined;
    const shown = JSON.stringify(e.shown) as string | undefined;
    if (context !== undefined && shown !== undefined) return preparedTrace(e, c as ConsideredTrace, context, shown);
  }
  const { doc, set } = consideredDoc(e);
  return preparedLine(e, preparedText(e, doc), set);
}

const QUOTE = 0x22;
const CLOSE = 0x7d;
const NEWLINE = 0x0a;

function preparedTrace(e: DecisionToLog, t: ConsideredTrace, context: string, shown: string): PreparedDecision {
  const choice = t.choice && t.setConflicts && t.setValueWeights;
  const conflicts = choice ? t.setConflicts! : null;
  const vw = choice ? t.setValueWeights! : null;
  const key = setKey(t.ids, conflicts, vw);
  // COPY's escaping applies to the text character by character: each piece escaped on its own is the whole escaped
  // (the parts made here of base64, digits, hex and screen.ts's plain entries have no backslash)
  const head = `${copyText(e.decisionId)}\t${isoMicros(e.time)}\t${e.customerId === null ? '\\N' : copyText(e.customerId)}\t{"x":${copyJson(context)},"k":`;
  const k = consideredParts(t, key);
  const scores = k.scores ? Buffer.from(k.scores.buffer, k.scores.byteOffset, k.scores.byteLength).toString('base64') : '';
  const mid = `,"s":${copyJson(shown)},"pn":${copyJson(JSON.stringify(e.policy.name))},"pv":${copyJson(JSON.stringify(e.policy.version))},"h":${e.holdout},"ch":`;
  const ch = choice ? choiceParts(t.choice!) : null;
  const chHead = ch ? copyJson(ch.head) : 'null';
  const kept = ch ? copyJson(ch.kept) : '';
  // UTF-8 takes at most 3 bytes per UTF-16 unit
  const most = 3 * (head.length + k.head.length + k.mid.length + k.tail.length + mid.length + chHead.length + kept.length) + k.codes.length + scores.length + 32;
  const buf = lineRoom(most);
  let at = roomAt;
  at += buf.write(head, at);
  at += buf.write(k.head, at);
  buf.set(k.codes, at);
  at += k.codes.length;
  at += buf.write(k.mid, at);
  if (k.scores) {
    at += buf.write(',"scores":"', at, 'latin1');
    at += buf.write(scores, at, 'latin1');
    buf[at++] = QUOTE;
  }
  at += buf.write(k.tail, at);
  at += buf.write(mid, at);
  at += buf.write(chHead, at);
  if (ch) {
    if (kept.length) at += buf.write(kept, at);
    buf[at++] = CLOSE;
  }
  buf[at++] = CLOSE;
  buf[at++] = NEWLINE;
  return { prepared: true, decisionId: e.decisionId, customerId: e.customerId, line: lineDone(buf, at), set: { key, ids: t.ids, conflicts, vw } };
}

/** The doc of a decision's row as JSON.stringify writes it (what prepareDecision's direct path must equal). */
export function preparedText(e: DecisionToLog, considered: unknown = consideredDoc(e).doc): string {
  return JSON.stringify({
    x: e.context,
    k: considered,
    s: e.shown,
    pn: e.policy.name,
    pv: e.policy.version,
    h: e.holdout,
    ch: choiceDoc(e),
  });
}

function preparedLine(e: DecisionToLog, text: string, set: PreparedDecision['set']): PreparedDecision {
  const line = `${copyText(e.decisionId)}\t${isoMicros(e.time)}\t${e.customerId === null ? '\\N' : copyText(e.customerId)}\t${copyJson(text)}\n`;
  return { prepared: true, decisionId: e.decisionId, customerId: e.customerId, line: lineBytes(line), set };
}

/**
 * A line's UTF-8 bytes, written into a shared chunk (a Buffer of each line's own is an allocation outside the heap per
 * decision, taken and freed at the rate of decisions). A chunk's parts are never written twice: a full chunk is left to
 * the lines holding its parts (written out within the log's interval).
 */
const LINE_CHUNK = 256 * 1024;
let lineChunk = Buffer.allocUnsafe(0);
let lineAt = 0;
/** Where the line being written starts in the buffer lineRoom gave. */
let roomAt = 0;
/** A buffer with room for `most` bytes at roomAt: the chunk, or for a line longer than an eighth of a chunk its own. */
function lineRoom(most: number): Buffer {
  if (most > LINE_CHUNK / 8) {
    roomAt = 0;
    return Buffer.allocUnsafe(most);
  }
  if (lineAt + most > lineChunk.length) {
    lineChunk = Buffer.allocUnsafe(LINE_CHUNK);
    lineAt = 0;
  }
  roomAt = lineAt;
  return lineChunk;
}
/** The line written into `buf` (from lineRoom) from roomAt to `end`; the chunk's place moves past it. */
function lineDone(buf: Buffer, end: number): Buffer {
  if (buf === lineChunk) lineAt = end;
  return buf.subarray(roomAt, end);
}
function lineBytes(line: string): Buffer {
  const buf = lineRoom(3 * line.length);
  return lineDone(buf, roomAt + buf.write(line, roomAt));
}

/** The fields of a prepared decision's line (COPY's text format undone): id, time (ISO 8601), customer, doc. */
export function preparedRow(p: PreparedDecision): { id: string; at: string; customerId: string | null; doc: string } {
  const text = Buffer.from(p.line.buffer, p.line.byteOffset, p.line.byteLength).toString('utf8');
  const [id, at, customer, doc] = text.slice(0, -1).split('\t').map(unCopyText);
  return { id: id!, at: at!, customerId: customer, doc: doc! };
}

function unCopyText(s: string): string | null {
  if (s === '\\N') return null;
  if (!s.includes('\\')) return s;
  return s.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

const isPrepared = (e: DecisionToLog | PreparedDecision): e is PreparedDecision => (e as PreparedDecision).prepared === true;

/** COPY's text format: backslash, tab, newline and carriage return escaped (JSON text has only backslashes of these). */
const COPY_SPECIAL = /[\\\t\n\r]/;
function copyText(s: string): string {
  if (!COPY_SPECIAL.test(s)) return s;
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/**
 * copyText of a JSON text: JSON.stringify writes tab, newline and carriage return escaped (a backslash and a letter),
 * so a backslash is the only character of the four it can hold; a text without one is as it is (no regular expression
 * over the whole text).
 */
function copyJson(s: string): string {
  return s.indexOf('\\') < 0 ? s : copyText(s);
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');
/** Epoch ms (fractions kept to the microsecond, as timestamptz keeps them) as an ISO 8601 time in UTC. */
export function isoMicros(ms: number): string {
  const whole = Math.floor(ms);
  const iso = isoMillis(whole); // …T12:34:56.789Z
  const us = Math.round((ms - whole) * 1000);
  return us === 0 ? iso : `${iso.slice(0, -1)}${pad(us, 3)}Z`;
}

/** The second last formatted (its ISO text up to the milliseconds' dot): decisions come many to a second. */
let isoSecond = NaN;
let isoPrefix = '';
const MS_DIGITS = Array.from({ length: 1000 }, (_, i) => pad(i, 3));
/** `new Date(ms).toISOString()` for an integer ms, the date part made once per second (years 1970–9999). */
function isoMillis(ms: number): string {
  if (!(ms >= 0 && ms < 253402300800000)) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    isoSecond = second;
  }
  return `${isoPrefix}${MS_DIGITS[ms - second * 1000]}Z`;
}

/** The offer sets known to be stored, per database client (a set is written once; a batch names one, mostly). */
const storedSets = new WeakMap<SqlClient, Set<string>>();

/**
 * Writes decisions to the log: their offer sets first when not known to be stored (idempotent), then the rows in one
 * COPY (text format): no statement to plan, no JSON parsed by the server. Idempotent by decision id: a COPY that
 * meets an id already logged (a batch retried after an uncertain failure) fails whole, and the batch is then
 * written by INSERT … ON CONFLICT (id) DO NOTHING, each decision once.
 *
 * Erasure: the rows are written in one transaction holding ERASURE_LOCK shared (src/store/erasure-list.ts), and only
 * those of guests and of customers still present: a decision queued before an erasure and written after it (the
 * writer's interval), or made by an instance that still held the customer's facts, leaves no row under the erased
 * id. An erasure in progress is waited for; one that starts meanwhile waits for this write and then deletes its rows.
 * The rows left out are counted (`erased`).
 */
export async function logDecisions(db: SqlClient, entries: readonly (DecisionToLog | PreparedDecision)[]): Promise<LoggedDecisions> {
  if (entries.length === 0) return { written: 0, erased: 0 };
  const rows = entries.map((e) => (isPrepared(e) ? e : prepareDecision(e)));
  let known = storedSets.get(db);
  if (!known) storedSets.set(db, (known = new Set()));
  const sets = new Map<string, SetToStore>();
  for (const r of rows) if (r.set && !known.has(r.set.key) && !sets.has(r.set.key)) sets.set(r.set.key, r.set);
  if (sets.size) {
    await db.query(
      `INSERT INTO offer_decision_sets (id, offer_ids, conflicts, value_weights)
         SELECT si, so::jsonb, sc::jsonb, sv::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(si, so, sc, sv)
       ON CONFLICT (id) DO NOTHING`,
      [
        [...sets.keys()],
        [...sets.values()].map((x) => JSON.stringify(x.ids)),
        [...sets.values()].map((x) => (x.conflicts === null ? null : JSON.stringify(x.conflicts))),
        [...sets.values()].map((x) => (x.vw === null ? null : JSON.stringify(Array.from(x.vw)))),
      ],
    );
    for (const k of sets.keys()) known.add(k);
    if (known.size > 10_000) known.clear();
  }
  const write = (insert: boolean) =>
    db.transaction(async (tx) => {
      const kept = await presentRows(db, tx, rows, (r) => r.customerId);
      if (kept.length && !insert) await tx.copyFrom('COPY offer_decision_log (id, at, customer_id, doc) FROM STDIN', Buffer.concat(kept.map((r) => r.line)));
      else if (kept.length) {
        const fields = kept.map(preparedRow);
        await tx.query(
          `INSERT INTO offer_decision_log (id, at, customer_id, doc)
             SELECT i, t::timestamptz, c, d FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u(i, t, c, d)
           ON CONFLICT (id) DO NOTHING`,
          [fields.map((r) => r.id), fields.map((r) => r.at), fields.map((r) => r.customerId), fields.map((r) => r.doc)],
        );
      }
      return { written: kept.length, erased: rows.length - kept.length };
    }, { sharedLock: ERASURE_LOCK });
  try {
    return await write(false);
  } catch (err) {
    if ((err as { code?: string })?.code !== '23505') throw err;
    return write(true);
  }
}

/**
 * Those of `rows` whose customer (`customerOf`; null: a guest) is still present, in order (absentCustomers: one
 * statement for the batch's distinct customers). Inside a transaction holding ERASURE_LOCK shared.
 */
async function presentRows<T>(db: SqlClient, tx: Executor, rows: readonly T[], customerOf: (r: T) => string | null): Promise<T[]> {
  const ids = new Set<string>();
  for (const r of rows) {
    const c = customerOf(r);
    if (c !== null) ids.add(c);
  }
  if (ids.size === 0) return rows.slice();
  const gone = await absentCustomers(tx, db, [...ids]);
  if (gone.size === 0) return rows.slice();
  return rows.filter((r) => {
    const c = customerOf(r);
    return c === null || !gone.has(c);
  });
}

/**
 * The probability of each shown offer (in position order) from the logged choice inputs, the decision's suitable
 * offers and its set's conflicts (./choice.ts, the same function `decide` uses); NaN each when they cannot be read.
 * `memos`: exact uniform probabilities per set × suitable subset, shared by the decisions read together.
 */
interface StoredSet {
  ids: string[];
  conflicts: number[][] | null;
  vw: number[] | null;
}

function loggedProbabilities(
  choice: EncodedChoice,
  considered: EncodedConsidered,
  set: StoredSet | undefined,
  memos: Map<string, Map<number, number | null>>,
): number[] {
  try {
    const n = considered.codes.length;
    if (!set || !set.conflicts || !set.vw || set.conflicts.length !== n || set.vw.length !== n) throw new Error('offer set without what choices are computed from');
    const index = suitableIndexOf(considered);
    const inputs = decodeChoice(choice, suitableConflicts(set.conflicts, index, n), index.map((i) => set.vw![i]));
    const key = `${considered.set}|${index.join(',')}|${inputs.uniformExactBudget}`;
    const memo = (): Map<number, number | null> => {
      let m = memos.get(key);
      if (!m) {
        if (memos.size >= 4096) memos.clear();
        memos.set(key, (m = new Map()));
      }
      return m;
    };
    return choiceProbabilities(inputs, memo);
  } catch {
    return choice.shown.map(() => Number.NaN);
  }
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export async function decisionLog(db: SqlClient, options: { from?: Date; to?: Date; customerId?: string; limit?: number } = {}): Promise<DecisionLogEntry[]> {
  if (options.customerId !== undefined && !CUSTOMER_ID.test(options.customerId)) return [];
  const where: string[] = [];
  const params: unknown[] = [];
  if (options.from) where.push(`at >= to_timestamp($${params.push(options.from.getTime())}::float8 / 1000.0)`);
  if (options.to) where.push(`at < to_timestamp($${params.push(options.to.getTime())}::float8 / 1000.0)`);
  if (options.customerId !== undefined) where.push(`customer_id = $${params.push(options.customerId)}::bigint`);
  const r = await db.query<{ id: string; at: number; customer_id: string | null; doc: string }>(
    `SELECT id, ${EPOCH_MS('at')} AS at, customer_id::text AS customer_id, doc
       FROM offer_decision_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY at, id LIMIT $${params.push(options.limit ?? 1_000_000)}`,
    params,
  );
  const rows = r.rows.map((x) => {
    const d = JSON.parse(x.doc) as { x: Record<string, unknown>; k: unknown; s: DecisionToLog['shown']; pn: string; pv: string; h: boolean; ch: EncodedChoice | null };
    return {
      id: x.id,
      at: x.at,
      customer_id: x.customer_id,
      context: d.x,
      considered: d.k as DecisionLogEntry['considered'] | EncodedConsidered,
      shown: d.s,
      policy_name: d.pn,
      policy_version: d.pv,
      holdout: d.h,
      choice: d.ch ?? null,
    };
  });
  // compact `considered` names its offer set: read each set once
  const keys = [...new Set(rows.flatMap((x) => (Array.isArray(x.considered) ? [] : [x.considered.set])))];
  const sets = new Map<string, StoredSet>();
  if (keys.length) {
    const s = await db.query<{ id: string; offer_ids: unknown; conflicts: unknown; value_weights: unknown }>(
      'SELECT id, offer_ids, conflicts, value_weights FROM offer_decision_sets WHERE id = ANY($1::text[])',
      [keys],
    );
    for (const x of s.rows) {
      sets.set(x.id, {
        ids: json<string[]>(x.offer_ids),
        conflicts: x.conflicts == null ? null : json<number[][]>(x.conflicts),
        vw: x.value_weights == null ? null : json<number[]>(x.value_weights),
      });
    }
  }
  const memos = new Map<string, Map<number, number | null>>();
  return rows.map((x) => {
    const byPosition = [...x.shown].sort((a, b) => a.position - b.position);
    // probabilities not written out are computed from the logged choice inputs (src/core/offers/choice.ts)
    let computed: number[] | null = null;
    const probability = (s: DecisionToLog['shown'][number]): number => {
      if (typeof s.probability === 'number') return s.probability;
      if (x.choice === null || Array.isArray(x.considered)) return Number.NaN;
      computed ??= loggedProbabilities(x.choice, x.considered, sets.get(x.considered.set), memos);
      return computed[byPosition.indexOf(s)] ?? Number.NaN;
    };
    return {
      decisionId: x.id,
      time: x.at,
      customerId: x.customer_id,
      context: json(x.context),
      considered: Array.isArray(x.considered)
        ? x.considered
        : decodeConsidered(x.considered, sets.get(x.considered.set)?.ids ?? [], byPosition.map((o) => o.offerId)),
      shown: x.shown.map((s) => ({ ...s, probability: probability(s) })),
      policy: { name: x.policy_name, version: x.policy_version },
      holdout: x.holdout,
    };
  });
}

/**
 * Records a batch of events in one transaction with a synchronous commit: the events new by id, then
 * their effect on the counters, table after table and each in key order, so concurrent batches never
 * deadlock. (One statement with data-modifying CTEs would save round trips, but PostgreSQL runs its
 * parts in no set order: two such batches deadlocked under load, see BENCHMARKS.md.) An id already
 * stored is a duplicate when its content is the same, a conflict otherwise; ids repeated within the
 * batch are compared with their first occurrence.
 */
export async function recordOfferEvents(db: SqlClient, events: readonly OfferEventInput[]): Promise<OfferEventOutcome[]> {
  if (events.length === 0) return [];
  const first = new Map<string, OfferEventInput>();
  for (const e of events) if (!first.has(e.eventId)) first.set(e.eventId, e);
  const all = [...first.values()];
  return db.transaction(async (tx) => {
    // (ERASURE_LOCK shared, src/store/erasure-list.ts): the events of customers erased are not stored, nor their
    // contact counters and counts; an erasure in progress is waited for, one that starts meanwhile waits for this one
    const unique = await presentRows(db, tx, all, (e) => e.customerId);
    const erased = unique.length < all.length ? new Set(all.map((e) => e.eventId)) : null;
    for (const e of erased ? unique : []) erased!.delete(e.eventId);
    const ins = await tx.query<{ event_id: string }>(
      `INSERT INTO offer_events (event_id, decision_id, offer_id, customer_id, channel, type, at, segment, content, exposure)
         SELECT e, d, o, c, ch, ty, to_timestamp(t / 1000.0), s, x, g
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::float8[], $8::text[], $9::text[], $10::float8[])
                AS u(e, d, o, c, ch, ty, t, s, x, g)
       ON CONFLICT (event_id) DO NOTHING
       RETURNING event_id`,
      [
        unique.map((e) => e.eventId),
        unique.map((e) => e.decisionId),
        unique.map((e) => e.offerId),
        unique.map((e) => e.customerId),
        unique.map((e) => e.channel),
        unique.map((e) => e.type),
        unique.map((e) => e.time),
        unique.map((e) => e.segment),
        unique.map((e) => e.content),
        unique.map((e) => (e.type === 'impression' ? exposureOf(e) : null)),
      ],
    );
    const inserted = new Set(ins.rows.map((x) => x.event_id));
    const old = unique.filter((e) => !inserted.has(e.eventId));
    const stored = new Map<string, string>();
    if (old.length) {
      const r = await tx.query<{ event_id: string; content: string }>('SELECT event_id, content FROM offer_events WHERE event_id = ANY($1::text[])', [old.map((e) => e.eventId)]);
      for (const x of r.rows) stored.set(x.event_id, x.content);
    }
    const fresh = unique.filter((e) => inserted.has(e.eventId));
    await applyToCounters(tx, fresh);
    const seen = new Set<string>();
    return events.map((e): OfferEventOutcome => {
      if (erased?.has(e.eventId)) return 'erased';
      const firstOfId = !seen.has(e.eventId);
      seen.add(e.eventId);
      if (firstOfId && inserted.has(e.eventId)) return 'recorded';
      const content = inserted.has(e.eventId) ? first.get(e.eventId)!.content : stored.get(e.eventId);
      return content === e.content ? 'duplicate' : 'conflict';
    });
  }, { durable: true, sharedLock: ERASURE_LOCK });
}

/** What an impression adds to `exposure` (a missing or unusable one counts as 1). */
const exposureOf = (e: OfferEventInput): number => (e.exposure !== undefined && Number.isFinite(e.exposure) && e.exposure >= 0 ? e.exposure : 1);

type Executor = Parameters<Parameters<SqlClient['transaction']>[0]>[0];

/** The counters' share of newly recorded events, aggregated per key and written in key order. */
async function applyToCounters(tx: Executor, events: readonly OfferEventInput[]): Promise<void> {
  if (events.length === 0) return;
  const contacts = new Map<string, { customer: string; offer: string; impressions: number[]; decline: number | null }>();
  // impressions, accepted, declined, ignored, exposure
  const counts = new Map<string, [number, number, number, number, number]>();
  const cells = new Map<string, { offer: string; segment: string; channel: string; n: [number, number, number, number, number] }>();
  const slot = { impression: 0, accepted: 1, declined: 2, ignored: 3 } as const;
  for (const e of events) {
    const s = slot[e.type];
    if (e.type === 'impression' || e.type === 'declined') {
      const k = `${e.customerId}\u0000${e.offerId}`;
      let c = contacts.get(k);
      if (!c) contacts.set(k, (c = { customer: e.customerId, offer: e.offerId, impressions: [], decline: null }));
      if (e.type === 'impression') c.impressions.push(e.time);
      else c.decline = Math.max(c.decline ?? -Infinity, e.time);
    }
    const g = e.type === 'impression' ? exposureOf(e) : 0;
    let n = counts.get(e.offerId);
    if (!n) counts.set(e.offerId, (n = [0, 0, 0, 0, 0]));
    n[s]++;
    n[4] += g;
    const ck = `${e.offerId}\u0000${e.segment}\u0000${e.channel}`;
    let cell = cells.get(ck);
    if (!cell) cells.set(ck, (cell = { offer: e.offerId, segment: e.segment, channel: e.channel, n: [0, 0, 0, 0, 0] }));
    cell.n[s]++;
    cell.n[4] += g;
  }
  const byKey = <T>(m: Map<string, T>) => [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((x) => x[1]);
  const cs = byKey(contacts);
  if (cs.length) {
    const horizon = Date.now() - CONTACT_HORIZON_MS;
    await tx.query(
      `INSERT INTO offer_contacts AS oc (customer_id, offer_id, impressions, last_decline_at)
         SELECT c, o, coalesce((SELECT array_agg(x ORDER BY x) FROM unnest(string_to_array(i, ',')::float8[]) x WHERE x > $5), '{}'), d
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[]) AS u(c, o, i, d)
       ON CONFLICT (customer_id, offer_id) DO UPDATE SET
         impressions = coalesce((SELECT array_agg(x ORDER BY x) FROM (
                          SELECT x FROM unnest(oc.impressions || excluded.impressions) x WHERE x > $5 ORDER BY x DESC LIMIT ${MAX_IMPRESSIONS_KEPT}) t), '{}'),
         last_decline_at = greatest(oc.last_decline_at, excluded.last_decline_at)`,
      [cs.map((c) => c.customer), cs.map((c) => c.offer), cs.map((c) => c.impressions.join(',')), cs.map((c) => c.decline), horizon],
    );
  }
  const ns = byKey(counts);
  const offerIds = [...counts.keys()].sort();
  await tx.query(
    `INSERT INTO offer_counts AS c (offer_id, impressions, accepted, declined, ignored, exposure)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::float8[])
     ON CONFLICT (offer_id) DO UPDATE SET impressions = c.impressions + excluded.impressions, accepted = c.accepted + excluded.accepted,
       declined = c.declined + excluded.declined, ignored = c.ignored + excluded.ignored, exposure = c.exposure + excluded.exposure`,
    [offerIds, ns.map((n) => n[0]), ns.map((n) => n[1]), ns.map((n) => n[2]), ns.map((n) => n[3]), ns.map((n) => n[4])],
  );
  const cl = byKey(cells);
  await tx.query(
    `INSERT INTO offer_response_stats AS c (offer_id, segment, channel, impressions, accepted, declined, ignored, exposure)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::float8[])
     ON CONFLICT (offer_id, segment, channel) DO UPDATE SET impressions = c.impressions + excluded.impressions, accepted = c.accepted + excluded.accepted,
       declined = c.declined + excluded.declined, ignored = c.ignored + excluded.ignored, exposure = c.exposure + excluded.exposure`,
    [cl.map((c) => c.offer), cl.map((c) => c.segment), cl.map((c) => c.channel), cl.map((c) => c.n[0]), cl.map((c) => c.n[1]), cl.map((c) => c.n[2]), cl.map((c) => c.n[3]), cl.map((c) => c.n[4])],
  );
}

export async function offerCounts(db: SqlClient): Promise<Map<string, OfferCounts>> {
  const r = await db.query<OfferCounts & { offer_id: string }>(
    'SELECT offer_id, impressions::float8 AS impressions, accepted::float8 AS accepted, declined::float8 AS declined, ignored::float8 AS ignored, exposure FROM offer_counts',
  );
  return new Map(r.rows.map(({ offer_id, ...n }) => [offer_id, n]));
}

export async function offerResponseStats(db: SqlClient): Promise<OfferResponseCell[]> {
  const r = await db.query<OfferResponseCell>(
    `SELECT offer_id AS "offerId", segment, channel, impressions::float8 AS impressions, accepted::float8 AS accepted,
            declined::float8 AS declined, ignored::float8 AS ignored, exposure
       FROM offer_response_stats ORDER BY offer_id, segment, channel`,
  );
  return r.rows;
}

/**
 * What a decision needs to know about a customer from the store, in one round trip: the surviving id,
 * consent per purpose in force, orders, spend, last order, stored segment, and the contact counters of
 * every id merged into them (the latest decline, every impression).
 */
export async function offerSubjectFacts(db: SqlClient, customerId: string): Promise<OfferSubjectFacts | null> {
  return (await offerSubjectFactsMany(db, [customerId])).get(customerId) ?? null;
}

/**
 * `offerSubjectFacts` of many customers in one statement (one round trip, one snapshot): by the id asked for
 * (a merged-away id maps to its survivor's facts); ids unknown, erased or not ids at all are left out.
 */
export async function offerSubjectFactsMany(db: SqlClient, customerIds: readonly string[]): Promise<Map<string, OfferSubjectFacts>> {
  const out = new Map<string, OfferSubjectFacts>();
  const asked = [...new Set(customerIds.filter((id) => CUSTOMER_ID.test(id)))];
  if (asked.length === 0) return out;
  const r = await db.query<{
    key: string;
    id: string;
    consent: { purpose: ConsentPurpose; granted: boolean }[] | string | null;
    orders: number;
    spend: number;
    last: number | null;
    segment: Segment | null;
    contacts: { offer_id: string; impressions: number[]; last_decline_at: number | null }[] | string | null;
  }>(
    `SELECT q.k::text AS key, c.id::text AS id,
            (SELECT json_agg(json_build_object('purpose', k.purpose, 'granted', k.granted))
               FROM (SELECT DISTINCT ON (purpose) purpose, granted FROM consent WHERE customer_id = c.id ORDER BY purpose, at DESC, id DESC) k) AS consent,
            (SELECT count(*)::int FROM orders WHERE customer_id = c.id) AS orders,
            -- each order's lines by its key (a join of orders and order_lines is planned as a scan of every line
            -- when the statistics are stale or missing, e.g. before the first ANALYZE: milliseconds per customer)
            (SELECT coalesce(sum(s.v), 0)::float8 FROM orders o
               CROSS JOIN LATERAL (SELECT sum(l.quantity * l.unit_price) AS v FROM order_lines l WHERE l.order_id = o.id) s
              WHERE o.customer_id = c.id) AS spend,
            (SELECT ${EPOCH_MS('max(placed_at)')} FROM orders WHERE customer_id = c.id) AS last,
            (SELECT segment FROM customer_segments WHERE customer_id = c.id) AS segment,
            -- by key too, per id (theirs and those merged into them; OFFSET 0 keeps the lateral from being flattened into a
            -- hash join over every customer's counters)
            (SELECT json_agg(json_build_object('offer_id', oc.offer_id, 'impressions', oc.impressions, 'last_decline_at', oc.last_decline_at))
               FROM (SELECT c.id AS cid UNION SELECT a.merged_id FROM customer_aliases a WHERE a.survivor_id = c.id) m
               CROSS JOIN LATERAL (SELECT offer_id, impressions, last_decline_at FROM offer_contacts WHERE customer_id = m.cid OFFSET 0) oc) AS contacts
       FROM unnest($1::bigint[]) AS q(k)
       CROSS JOIN LATERAL (SELECT id FROM customers WHERE id = q.k
                           UNION ALL SELECT survivor_id FROM customer_aliases WHERE merged_id = q.k LIMIT 1) c`,
    [asked],
    // prepared: planned once per connection (planning six subqueries cost more than running them for a few ids)
    { name: 'offer_subject_facts_many' },
  );
  for (const row of r.rows) {
    const consent: Partial<Record<ConsentPurpose, boolean>> = {};
    for (const k of json<{ purpose: ConsentPurpose; granted: boolean }[] | null>(row.consent) ?? []) consent[k.purpose] = k.granted;
    const contacts = new Map<string, ContactState>();
    for (const c of json<{ offer_id: string; impressions: number[]; last_decline_at: number | null }[] | null>(row.contacts) ?? []) {
      const prev = contacts.get(c.offer_id);
      const impressions = [...(prev?.impressions ?? []), ...c.impressions].sort((a, b) => a - b);
      const declines = [prev?.lastDeclineAt ?? null, c.last_decline_at].filter((x): x is number => x !== null);
      contacts.set(c.offer_id, { impressions, lastDeclineAt: declines.length ? Math.max(...declines) : null });
    }
    out.set(row.key, {
      customerId: row.id,
      consent,
      orders: row.orders,
      spend: Math.round(row.spend * 10_000) / 10_000,
      lastOrderAt: row.last,
      segment: row.segment,
      contacts,
    });
  }
  return out;
}

