/**
 * `npm start`: configuration → store → model source → app → listen; SIGTERM/SIGINT drain
 * in-flight requests (SHUTDOWN_GRACE_MS) and exit. Refuses to start (exit 1, clear message)
 * on bad configuration or when neither API_KEYS nor AUTH_DISABLED=true is set.
 */
import { startService } from './api/start-service.js';
import { ConfigError, config } from './config.js';
import { createLogger } from './api/logger.js';

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = config();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`omnirec: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(cfg.LOG_LEVEL);
  let service;
  try {
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
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main();
