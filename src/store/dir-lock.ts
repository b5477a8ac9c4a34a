/**
 * One process at a time on an embedded PostgreSQL directory. PGlite runs PostgreSQL inside the
 * process, with no postmaster to arbitrate: two processes writing one directory corrupt it (twice
 * the rows, duplicate primary keys, broken indexes). So opening a PGlite directory takes a lock
 * file, `<dir>/omnirec.lock`, holding the owner's pid, host and start time:
 * - no lock file: created exclusively (O_EXCL), so of two processes starting together one wins;
 * - a lock whose pid is alive on this host: the second process fails at once with a message naming
 *   the holder (it does not wait: a server holds the directory for as long as it runs);
 * - a lock whose process is gone (killed, crashed): stale, taken over (with a note on stderr).
 * The lock is removed on close and on process exit; a `kill -9` leaves it stale, which the next
 * process takes over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UnavailableError } from '../core/errors.js';

export interface DirLock {
  readonly path: string;
  release(): void;
}

interface LockInfo {
  pid: number;
  host: string;
  since: string;
  command: string;
}

/** Lock files this process holds (a second open in the same process is refused too). */
const heldHere = new Set<string>();

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): { raw: string; info: LockInfo | null } | null {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const info = JSON.parse(raw) as LockInfo;
    return { raw, info: Number.isInteger(info.pid) && info.pid > 0 ? info : null };
  } catch {
    return { raw, info: null }; // half-written by a process that died while writing it: stale
  }
}

/**
 * Takes the lock of an embedded PostgreSQL directory (which must exist), or throws
 * UnavailableError naming the process that holds it.
 */
export function lockDirectory(dir: string, options: { onStale?: (message: string) => void } = {}): DirLock {
  const path = join(dir, 'omnirec.lock');
  const me: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command: process.argv.slice(1).join(' ') };
  const body = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = readLock(path);
      if (held === null) continue; // released meanwhile: try again
      const { info } = held;
      const ours = info !== null && info.pid === process.pid && info.host === me.host;
      if (info && (ours ? heldHere.has(path) : info.host !== me.host || alive(info.pid))) {
        throw new UnavailableError(
          `the embedded PostgreSQL directory ${dir} is in use by process ${info.pid}` +
            `${info.host !== me.host ? ` on ${info.host}` : ''} (since ${info.since}: ${info.command || 'unknown command'}). ` +
            'PGlite serves one process at a time: wait for it to finish or stop it, or set DATABASE_URL to use a PostgreSQL server ' +
            `(lock file: ${path})`,
          { dir, pid: info.pid },
        );
      }
      // stale: its process is gone. Remove it only if it is still the file we read (another process
      // taking it over at the same moment would have replaced it), then create ours exclusively.
      const again = readLock(path);
      if (again !== null && again.raw === held.raw) {
        try {
          unlinkSync(path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        options.onStale?.(`taking over the stale lock ${path} of process ${info?.pid ?? '?'}, which is no longer running`);
      }
      continue;
    }
    try {
      writeSync(fd, body);
    } finally {
      closeSync(fd);
    }
    heldHere.add(path);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      heldHere.delete(path);
      process.off('exit', release);
      // only our own lock: never one a later owner wrote
      if (readLock(path)?.raw === body) {
        try {
          unlinkSync(path);
        } catch {
          // gone already
        }
      }
    };
    process.on('exit', release);
    return { path, release };
  }
  throw new UnavailableError(`could not take the lock ${path} (it keeps changing hands); try again`, { dir });
}
