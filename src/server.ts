/**
 * `npm start`: configuration → store → model source → app → listen; SIGTERM/SIGINT drain
 * in-flight requests (SHUTDOWN_GRACE_MS) and exit. Refuses to start (exit 1, clear message)
 * on bad configuration or when neither API_KEYS nor AUTH_DISABLED=true is set.
 *
 * WEB_CONCURRENCY=N (N > 1; PostgreSQL and Redis only): this process becomes a node:cluster primary
 * that serves nothing itself and forks N workers, each a whole service instance (its own pool,
 * caches and model copy) listening on the same port; the primary hands them connections in turn.
 * Instances share what must be shared through PostgreSQL and Redis as separate deployments do
 * (model swaps, customer changes, offer counters, rate limits). SIGTERM/SIGINT to the primary is
 * passed on to every worker, each drains as above, and the primary exits when all have; a worker
 * that dies otherwise is replaced (the primary gives up, exit 1, when workers keep dying within
 * seconds of starting).
 */
import cluster, { type Worker } from 'node:cluster';
import { type Config, ConfigError, config } from './config.js';
import { createLogger } from './api/logger.js';

function loadConfig(): Config {
  try {
    return config();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`omnirec: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function serve(cfg: Config): Promise<void> {
  const logger = createLogger(cfg.LOG_LEVEL);
  let service;
  try {
    // loaded here, not at the top: a cluster's primary serves nothing and need not load the service
    const { startService } = await import('./api/start-service.js');
    service = await startService(cfg, { logger });
  } catch (err) {
    logger.error('cannot start', { err: err instanceof Error ? err.message : String(err) });
    process.stderr.write(`omnirec: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    logger.info('signal received', { signal });
    service.close().then(
      () => process.exit(0),
      (err) => {
        logger.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  onceOnSignals(stop);
}

/**
 * Runs `stop` on the first SIGTERM or SIGINT and ignores the ones after it (a terminal's Ctrl-C
 * reaches a cluster's workers both directly and through the primary: the second must not kill a
 * worker that is draining).
 */
function onceOnSignals(stop: (signal: NodeJS.Signals) => void): void {
  let stopped = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopped) return;
    stopped = true;
    stop(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Workers that die this soon after starting count towards giving up. */
const EARLY_EXIT_MS = 10_000;
const MAX_EARLY_EXITS = 5;

function primary(cfg: Config): void {
  const logger = createLogger(cfg.LOG_LEVEL);
  const started = new Map<Worker, number>();
  let stopping = false;
  let earlyExits = 0;
  let failed = false;
  const fork = () => started.set(cluster.fork(), Date.now());
  cluster.on('exit', (worker, code, signal) => {
    const since = started.get(worker) ?? 0;
    started.delete(worker);
    if (!stopping) {
      logger.error('worker exited', { pid: worker.process.pid, code, signal });
      if (Date.now() - since < EARLY_EXIT_MS) earlyExits++;
      if (earlyExits >= MAX_EARLY_EXITS) {
        // a worker that cannot start (bad configuration, store unreachable) is not forked for ever
        logger.error('workers keep exiting right after they start: stopping', { earlyExits });
        failed = true;
        stopping = true;
        for (const w of started.keys()) w.process.kill('SIGTERM');
      } else {
        fork();
      }
    }
    if (started.size === 0 && stopping) process.exit(failed ? 1 : 0);
  });
  const stop = (signal: NodeJS.Signals) => {
    logger.info('signal received: stopping workers', { signal, workers: started.size });
    stopping = true;
    if (started.size === 0) process.exit(0);
    for (const w of started.keys()) w.process.kill(signal);
  };
  onceOnSignals(stop);
  logger.info('starting workers', { workers: cfg.WEB_CONCURRENCY });
  for (let i = 0; i < cfg.WEB_CONCURRENCY; i++) fork();
}

const cfg = loadConfig();
if (cfg.WEB_CONCURRENCY > 1 && cluster.isPrimary) primary(cfg);
else void serve(cfg);
