/**
 * Worker side of select-split.ts: builds the candidate caches of the customers it is sent (a copy of the fitted
 * state), then scores each batch of candidate lists on them and posts the per-customer figures.
 * In: {type:'init', state, parts, k} | {type:'score', id, protocol, specs} | {type:'buyAgain', id, spec} | {type:'stats', id}
 * | {type:'reset'} (the selection is done: its state is dropped, the worker waits for the next selection's init).
 * Out: {id, ndcg, recall} | {id, stats} | {id, error}.
 */
import { parentPort } from 'node:worker_threads';
import { hangsForTest } from '../core/deadline.js';
import type { ListSpec } from '../core/served-model.js';
import type { ServedState } from '../models/served.js';
import type { CandidateCache } from './select.js';
import { buyAgainServed, scoreCandidateLists } from './select.js';
import { buildCaches, type InitMessage, type Protocol, splitOfParts, stateFromPayload } from './select-split.js';

let st: ServedState | null = null;
let caches: Map<Protocol, CandidateCache> | null = null;
let initError: string | null = null;

type Message = InitMessage | { type: 'reset' } | { type: 'score'; id: number; protocol: Protocol; specs: ListSpec[] } | { type: 'buyAgain'; id: number; spec: ListSpec } | { type: 'stats'; id: number };

parentPort?.on('message', (m: Message) => {
  // (tests: a worker that never answers)
  if (hangsForTest('select')) return;
  if (m.type === 'reset') {
    // the selection is done: its state goes (the worker waits for the process's next selection: select-split.ts parkSelectWorker)
    st = null;
    caches = null;
    initError = null;
    return;
  }
  if (m.type === 'init') {
    try {
      st = stateFromPayload(m.state);
      caches = buildCaches(st, splitOfParts(m.parts), m.parts, m.k);
    } catch (e) {
      initError = (e as Error).message;
    }
    return;
  }
  try {
    if (!st || !caches) throw new Error(initError ?? 'not initialised');
    if (m.type === 'stats') {
      parentPort!.postMessage({ id: m.id, stats: Object.fromEntries([...caches.values()].map((c) => [c.protocol, { users: c.users.length, lists: c.scored, deepened: c.deepened }])) });
      return;
    }
    if (m.type === 'buyAgain') {
      const r = buyAgainServed(st, caches.get('all')!, m.spec);
      parentPort!.postMessage({ id: m.id, ndcg: [r.ndcg], recall: [r.recall] }, [r.ndcg.buffer as ArrayBuffer, r.recall.buffer as ArrayBuffer]);
      return;
    }
    const r = scoreCandidateLists(st, caches.get(m.protocol)!, m.specs);
    parentPort!.postMessage({ id: m.id, ndcg: r.ndcg, recall: r.recall }, [...r.ndcg, ...r.recall].map((a) => a.buffer as ArrayBuffer));
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
