/**
 * For benchmarks: a SqlClient wrapper that adds up the wall time of every call by kind of
 * statement (identity lookup, write statement, lines COPY, ...), measured on the client, so
 * server work plus the round trip. Calls that run at the same time each count in full.
 * Transactions count their own BEGIN (+ lock) and COMMIT as "begin+commit": the transaction's
 * wall time minus the calls made inside it.
 */
import type { SqlClient, SqlExecutor } from '../src/store/sql-client.js';

export type StatementTimes = Record<string, { seconds: number; calls: number }>;

/** First match wins. */
const KINDS: [RegExp, string][] = [
  [/pg_get_serial_sequence\('orders'/, 'reserve ids'], // SqlStore.reserveOrderIds
  [/JOIN customer_identifiers ci ON/, 'identity lookup'],
  [/\bord AS \(/, 'write statement'],
  [/^WITH new_c/, 'product flush'],
  [/^COPY order_lines\b/, 'lines COPY'],
  [/import_lines_stage/, 'lines via staging'],
  [/^(SAVEPOINT|RELEASE|ROLLBACK TO)\b/, 'savepoint'],
  [/^ANALYZE\b/, 'ANALYZE'],
  [/count\(\*\) FROM customers/, 'totals'],
];
const kindOf = (sql: string): string => KINDS.find(([re]) => re.test(sql.trimStart()))?.[1] ?? 'other';

export function statementTimes() {
  let times: StatementTimes = {};
  const add = (kind: string, ms: number) => {
    const t = (times[kind] ??= { seconds: 0, calls: 0 });
    t.seconds += ms / 1000;
    t.calls++;
  };
  /** Times `fn` under the kind of `sql`; returns its result and its wall milliseconds. */
  const timed = async <T>(sql: string, fn: () => Promise<T>, inner?: { ms: number }): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      const ms = performance.now() - t;
      add(kindOf(sql), ms);
      if (inner) inner.ms += ms;
    }
  };
  const executor = (x: SqlExecutor, inner?: { ms: number }): SqlExecutor => ({
    query: (sql, params) => timed(sql, () => x.query(sql, params), inner),
    exec: (sql) => timed(sql, () => x.exec(sql), inner),
    copyFrom: (sql, data) => timed(sql, () => x.copyFrom(sql, data), inner),
  });
  return {
    wrap(db: SqlClient): SqlClient {
      return {
        ...executor(db),
        dialect: db.dialect,
        capabilities: db.capabilities,
        close: () => db.close(),
        async transaction(fn, options) {
          const inner = { ms: 0 };
          const t = performance.now();
          try {
            return await db.transaction((tx) => fn(executor(tx, inner)), options);
          } finally {
            add('begin+commit', performance.now() - t - inner.ms);
          }
        },
      };
    },
    /** The times so far (rounded), starting afresh. */
    take(): StatementTimes {
      const out: StatementTimes = {};
      for (const [k, v] of Object.entries(times)) out[k] = { seconds: Number(v.seconds.toFixed(3)), calls: v.calls };
      times = {};
      return out;
    },
  };
}
