/**
 * Large training runs need more JavaScript heap than Node's default (~4 GiB): the id maps of
 * millions of customers, orders and identifiers live there. `relaunchWithHeap` re-runs the current
 * script in a child Node with --max-old-space-size when the limit is lower, forwarding stdio
 * and the exit code.
 */
import { spawnSync } from 'node:child_process';
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';

const MARK = 'OMNIREC_HEAP_RELAUNCHED';

/** Heap size to ask for: 60% of physical memory, at most 16 GiB. */
export const defaultLargeHeapMiB = (): number => Math.min(16_384, Math.floor((totalmem() / 1048576) * 0.6));

/** Relaunches (and exits) when the heap limit is below `mib`; returns when it is not needed. */
export function relaunchWithHeap(mib: number = defaultLargeHeapMiB()): void {
  const limit = getHeapStatistics().heap_size_limit / 1048576;
  if (limit >= mib * 0.9 || process.env[MARK]) return;
  const r = spawnSync(process.execPath, [...process.execArgv, `--max-old-space-size=${mib}`, process.argv[1], ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [MARK]: '1' },
  });
  process.exit(r.status ?? 1);
}

/** Whether a data file (or a generated directory's order file) is over `bytes` (default 200 MB). */
export async function bigInput(path: string, bytes = 200e6): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  const { resolveOrderPath } = await import('../ingest/read-history-file.js');
  try {
    return (await stat(await resolveOrderPath(path))).size > bytes;
  } catch {
    return false;
  }
}
