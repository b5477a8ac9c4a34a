/**
 * A throwaway real redis-server for outage tests: started on a free loopback port, keeps nothing on
 * disk, can be killed and restarted on the same port.
 *
 * @example
 * const server = await startRedisServer();
 * // ... use server.url ...
 * server.pause();          // SIGSTOP: connected, but nothing answers
 * server.resume();
 * await server.stop();     // SIGKILL, like a crash
 * await server.start();    // same port, empty
 * await server.stop();
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Starts (again) on the same port and resolves once it answers PING. */
  start(): Promise<void>;
  /** Kills it (SIGKILL) and resolves once the process has exited. */
  stop(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open but nothing answers, like a hung server. */
  pause(): void;
  /** Thaws it (SIGCONT). */
  resume(): void;
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves true when something on the port answers +PONG to PING. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

export async function startRedisServer(port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  let child: ChildProcess | null = null;
  const server: RedisServer = {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    async start() {
      if (child) throw new Error('redis-server already running');
      const proc = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp'], {
        stdio: 'ignore',
      });
      child = proc;
      let exited = false;
      proc.once('exit', () => {
        exited = true;
        if (child === proc) child = null;
      });
      const t0 = Date.now();
      while (!(await ping(p))) {
        if (exited) throw new Error(`redis-server on port ${p} exited at start (is the port taken?)`);
        if (Date.now() - t0 > 10_000) throw new Error(`redis-server on port ${p} did not answer within 10 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGKILL');
      await gone;
      child = null;
    },
  };
  await server.start();
  return server;
}
