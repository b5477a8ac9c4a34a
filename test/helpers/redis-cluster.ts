/**
 * A throwaway Redis Cluster of 3 masters (no replicas) for tests, from the redis-server binary: loopback
 * ports, cluster config files in a temp dir, nothing saved. Slots are assigned by hand (CLUSTER ADDSLOTS,
 * 0-5460 / 5461-10922 / 10923-16383, as redis-cli --cluster create would) and the nodes introduced with
 * CLUSTER MEET; ready when every node reports cluster_state:ok (about 2 s: a master waits that long after
 * start before it reports ok).
 *
 * @example
 * if (redisServerAvailable()) {
 *   const cluster = await startRedisCluster();
 *   parseConfig({ REDIS_CLUSTER_NODES: cluster.nodes });   // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
 *   await cluster.stop();
 * }
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisCluster {
  /** Ports of the masters, in slot order (the first serves slots 0-5460). */
  readonly ports: number[];
  /** The REDIS_CLUSTER_NODES value naming every master. */
  readonly nodes: string;
  /** A plain (non-cluster) connection to each master, in the order of `ports`; closed by stop(). */
  readonly masters: Redis[];
  /** Kills every node and removes the temp dir. */
  stop(): Promise<void>;
}

/** Whether a redis-server executable is on PATH (tests that need one are registered only then). */
export function redisServerAvailable(): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, 'redis-server'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const MASTERS = 3;
const SLOTS = 16384;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A port p with p and p + 10000 (the cluster bus port every Redis version derives) both free a moment
 * ago, below the usual ephemeral range so the OS is unlikely to hand them out meanwhile.
 */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const p = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(p) || taken.has(p + 10_000)) continue;
    if ((await canListen(p)) && (await canListen(p + 10_000))) {
      taken.add(p).add(p + 10_000);
      return p;
    }
  }
  throw new Error('no free port pair for a cluster node');
}

/** Starts one cluster-enabled node; resolves once it answers PING, rejects if it exits first. */
async function startNode(dir: string, port: number): Promise<{ proc: ChildProcess; client: Redis }> {
  const proc = spawn(
    'redis-server',
    [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000',
    ],
    { stdio: 'ignore' },
  );
  let exited = false;
  proc.once('exit', () => (exited = true));
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  const t0 = Date.now();
  for (;;) {
    if (exited) throw new Error(`redis-server on port ${port} exited at start (is the port taken?)`);
    try {
      if (client.status !== 'ready') await client.connect();
      if ((await client.ping()) === 'PONG') return { proc, client };
    } catch {
      client.disconnect();
    }
    if (Date.now() - t0 > 10_000) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
  const procs: ChildProcess[] = [];
  const masters: Redis[] = [];
  const ports: number[] = [];
  const stop = async () => {
    for (const c of masters) c.disconnect();
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    for (let i = 0; i < MASTERS; i++) {
      // a port taken between the check and the bind: try another
      for (let attempt = 1; ; attempt++) {
        const port = await freeClusterPort(taken);
        try {
          const node = await startNode(dir, port);
          procs.push(node.proc);
          masters.push(node.client);
          ports.push(port);
          break;
        } catch (e) {
          if (attempt >= 3) throw e;
        }
      }
    }
    await Promise.all(
      masters.map((c, i) => {
        const first = Math.floor((i * SLOTS) / MASTERS);
        const last = Math.floor(((i + 1) * SLOTS) / MASTERS) - 1;
        return c.call('CLUSTER', 'ADDSLOTS', ...Array.from({ length: last - first + 1 }, (_, j) => String(first + j)));
      }),
    );
    for (const port of ports.slice(1)) await masters[0].call('CLUSTER', 'MEET', '127.0.0.1', String(port));
    const t0 = Date.now();
    for (;;) {
      const infos = await Promise.all(masters.map((c) => c.call('CLUSTER', 'INFO') as Promise<string>));
      const ok = infos.every(
        (s) => s.includes('cluster_state:ok') && s.includes(`cluster_slots_assigned:${SLOTS}`) && s.includes(`cluster_known_nodes:${MASTERS}`),
      );
      if (ok) break;
      if (Date.now() - t0 > 20_000) throw new Error(`Redis Cluster on ports ${ports.join(', ')} not ok within 20 s:\n${infos[0]}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { ports, nodes: ports.map((p) => `127.0.0.1:${p}`).join(','), masters, stop };
}
