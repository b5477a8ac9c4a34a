/**
 * Prometheus metrics of one service instance (its own prom-client Registry, so several apps can
 * live in one process, e.g. in tests):
 * - `http_request_duration_seconds{method,route,status}` histogram
 * - `omnirec_fallbacks_total{endpoint,reason}`
 * - `omnirec_customer_lookups_total{result=lru_hit|cache_hit|miss|error}` and `omnirec_customer_cache_hit_ratio`
 * - `omnirec_model_version_info{version}` (1 for the version in service), `omnirec_model_swaps_total`
 * - `omnirec_redis_errors_total` (cache lookups that failed), `omnirec_postgres_errors_total` (store calls that failed)
 * - `omnirec_erased_writes_dropped_total{kind=decision|event}`: decisions (log rows) and response events of customers
 *   erased meanwhile, left out by the store (src/store/sql-offers.ts)
 * - the process defaults of prom-client (CPU, memory, event loop lag).
 */
import client from 'prom-client';
import type { ModelSource } from '../cache/model-source.js';
import { emptyStats } from '../cache/model-source.js';

export class ServiceMetrics {
  readonly registry = new client.Registry();
  readonly httpDuration: client.Histogram<'method' | 'route' | 'status'>;
  readonly fallbacks: client.Counter<'endpoint' | 'reason'>;
  readonly postgresErrors: client.Counter;
  readonly erasedWritesDropped: client.Counter<'kind'>;

  constructor(source: ModelSource, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) client.collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new client.Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.fallbacks = new client.Counter({
      name: 'omnirec_fallbacks_total',
      help: 'Lists answered by a fallback source, by endpoint and reason',
      labelNames: ['endpoint', 'reason'],
      registers,
    });
    this.postgresErrors = new client.Counter({
      name: 'omnirec_postgres_errors_total',
      help: 'History store (PostgreSQL) calls that failed',
      registers,
    });
    this.erasedWritesDropped = new client.Counter({
      name: 'omnirec_erased_writes_dropped_total',
      help: 'Writes keyed by a customer erased meanwhile, left out: decision log rows (kind=decision), response events (kind=event)',
      labelNames: ['kind'],
      registers,
    });
    const stats = () => source.stats?.() ?? emptyStats();
    new client.Counter({
      name: 'omnirec_customer_lookups_total',
      help: 'Customer record lookups by result (lru_hit, cache_hit, miss, error)',
      labelNames: ['result'],
      registers,
      collect() {
        const s = stats();
        this.reset();
        this.inc({ result: 'lru_hit' }, s.lruHits);
        this.inc({ result: 'cache_hit' }, s.cacheHits);
        this.inc({ result: 'miss' }, s.misses);
        this.inc({ result: 'error' }, s.errors);
      },
    });
    new client.Gauge({
      name: 'omnirec_customer_cache_hit_ratio',
      help: 'Share of customer lookups answered from the in-process LRU or the cache (hits / all lookups)',
      registers,
      collect() {
        const s = stats();
        const all = s.lruHits + s.cacheHits + s.misses + s.errors;
        this.set(all ? (s.lruHits + s.cacheHits) / all : 0);
      },
    });
    new client.Counter({
      name: 'omnirec_redis_errors_total',
      help: 'Cache (Redis) lookups that failed or timed out',
      registers,
      collect() {
        const n = stats().errors;
        this.reset();
        this.inc(n);
      },
    });
    new client.Counter({
      name: 'omnirec_model_swaps_total',
      help: 'Model versions swapped into service',
      registers,
      collect() {
        this.reset();
        this.inc(stats().swaps);
      },
    });
    new client.Gauge({
      name: 'omnirec_model_version_info',
      help: 'The model version in service (value 1, version label)',
      labelNames: ['version'],
      registers,
      collect() {
        this.reset();
        const v = source.current()?.version;
        if (v) this.set({ version: v }, 1);
      },
    });
  }
}
