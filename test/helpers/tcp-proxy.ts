/**
 * A TCP proxy on loopback in front of a server (PostgreSQL in fault tests and bench:faults) that
 * can be switched to behave like that server failing:
 *  - "pass": forwards both ways;
 *  - "refuse": stops listening (new connections are refused) and resets the open ones, like a
 *    server that went down;
 *  - "hang": accepts connections and forwards nothing either way, like a frozen server (SIGSTOP)
 *    or a black-holed network; what was sent is held and delivered when it passes again.
 * and `cutOpen()`: the connections open now carry nothing more either way, for good (their bytes are dropped, and
 * the server closing its end is not passed on: the client's socket stays open and silent), while new connections
 * pass: one connection lost on a path that still works (a firewall's or NAT's state dropped, a backend killed
 * whose goodbye never reaches the client).
 * and `throttleDown(bytesPerSecond)`: what the server sends reaches the clients at most that fast (a slow link: the
 * server has handed its answer over and is idle while the client is still receiving it).
 *
 * @example
 * const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
 * // connect to 127.0.0.1:proxy.port ...
 * await proxy.setMode('hang');
 * await proxy.setMode('pass');
 * await proxy.close();
 */
import { type Server, type Socket, connect, createServer } from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'hang';

export interface TcpProxy {
  readonly port: number;
  readonly mode: ProxyMode;
  setMode(mode: ProxyMode): Promise<void>;
  /** The connections open now carry nothing more (dropped both ways, a close not passed on); new ones pass. */
  cutOpen(): void;
  /** Server → client at most this many bytes per second from now on (0: no limit). */
  throttleDown(bytesPerSecond: number): void;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket | null;
  /** Held while hanging: client → server, server → client. */
  up: Buffer[];
  down: Buffer[];
  /** cutOpen(): nothing more passes either way, and the server's close is not passed on. */
  cut?: boolean;
}

export async function startTcpProxy(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  const links = new Set<Link>();
  // throttled server → client bytes: queued per link, sent every 50 ms at most rate / 20 bytes
  let rate = 0;
  const slow = new Map<Link, Buffer[]>();
  let pump: NodeJS.Timeout | undefined;
  const toClient = (l: Link, d: Buffer) => {
    if (rate <= 0 && !slow.has(l)) return void l.client.write(d);
    const q = slow.get(l) ?? [];
    q.push(d);
    slow.set(l, q);
    pump ??= setInterval(() => {
      for (const [link, queue] of slow) {
        let budget = Math.max(1, Math.floor(rate / 20));
        while (queue.length && budget > 0) {
          const head = queue[0];
          const part = head.subarray(0, budget);
          if (!link.cut) link.client.write(part);
          budget -= part.length;
          if (part.length === head.length) queue.shift();
          else queue[0] = head.subarray(part.length);
        }
        if (!queue.length) slow.delete(link);
      }
      if (!slow.size) {
        clearInterval(pump);
        pump = undefined;
      }
    }, 50);
  };
  const drop = (l: Link) => {
    links.delete(l);
    l.client.destroy();
    l.upstream?.destroy();
  };
  const open = (l: Link) => {
    const up = connect(target.port, target.host);
    l.upstream = up;
    up.on('data', (d) => (l.cut ? undefined : mode === 'pass' ? toClient(l, d) : l.down.push(d)));
    // (a cut link's client never hears of the server's end)
    up.on('error', () => (l.cut ? undefined : drop(l)));
    up.on('close', () => (l.cut ? undefined : drop(l)));
    for (const d of l.up.splice(0)) up.write(d);
  };
  const accept = (client: Socket) => {
    const l: Link = { client, upstream: null, up: [], down: [] };
    links.add(l);
    client.on('data', (d) => (l.cut ? undefined : mode === 'pass' && l.upstream ? l.upstream.write(d) : l.up.push(d)));
    client.on('error', () => drop(l));
    client.on('close', () => drop(l));
    if (mode === 'pass') open(l);
  };
  let server: Server = createServer(accept);
  const listen = (s: Server, p: number) =>
    new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => resolve((s.address() as { port: number }).port));
    });
  const bound = await listen(server, port);
  const stop = () => new Promise<void>((resolve) => server.close(() => resolve()));

  return {
    port: bound,
    get mode() {
      return mode;
    },
    async setMode(next) {
      if (next === mode) return;
      const was = mode;
      mode = next;
      if (next === 'refuse') {
        const closed = stop();
        for (const l of [...links]) {
          l.client.resetAndDestroy();
          drop(l);
        }
        await closed;
        return;
      }
      if (was === 'refuse') {
        server = createServer(accept);
        await listen(server, bound);
      }
      if (next === 'pass') {
        // thawed: what was held goes through, connections accepted meanwhile reach the server
        for (const l of links) {
          if (!l.upstream) open(l);
          else for (const d of l.up.splice(0)) l.upstream.write(d);
          for (const d of l.down.splice(0)) l.client.write(d);
        }
      }
    },
    cutOpen() {
      for (const l of links) {
        l.cut = true;
        l.up.length = 0;
        l.down.length = 0;
      }
    },
    throttleDown(bytesPerSecond) {
      rate = bytesPerSecond;
    },
    async close() {
      clearInterval(pump);
      slow.clear();
      for (const l of [...links]) drop(l);
      if (mode !== 'refuse') await stop();
      mode = 'refuse';
    },
  };
}
