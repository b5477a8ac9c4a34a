/**
 * Publishing model versions into the vector cache, rolling back, listing and cleaning up.
 * Write-new-then-flip: every key of the new version is written and verified, a "complete" marker is
 * set, and only then does one transaction SET the pointer and PUBLISH the announce. Serving instances
 * swap on the announce (src/cache/cache-model-source.ts). Old versions stay until `cleanup`.
 * Erased customers (src/cache/erasure.ts) are never written, even from a bundle trained before their erasure.
 */
import type { CustomerRecord, ModelBundle } from '../core/bundle.js';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../core/errors.js';
import { assertVersion } from '../bundle/write-bundle.js';
import { encodeCustomer } from './codec.js';
import { dropErased, erasedCustomers, tellErased } from './erasure.js';
import { encodeItemSide, sha256 } from './item-side.js';
import { ITEM_BLOBS, type CacheKeys, versionOfKey } from './keys.js';
import type { VectorCache } from './vector-cache.js';

/** One published version, as kept in P:versions. */
export interface VersionInfo {
  version: string;
  /** When the bundle was trained (manifest.createdAt). */
  createdAt: string;
  /** When it was last made current by a publish. */
  publishedAt: string;
  items: number;
  customers: number;
  /** Customers of the bundle left out because they were erased (absent in older summaries). */
  erased?: number;
  /** Bytes written to the cache. */
  bytes: number;
  /** sha256 of the meta blob (which names the sha256 of every other item blob). */
  digest: string;
}

export interface PublishOptions {
  /** Version name in the cache (default: the bundle's manifest.version). */
  version?: string;
  /** Customer records per pipelined batch. */
  batchSize?: number;
  /** Write every key even when the same version is already complete in the cache. */
  rewrite?: boolean;
  /** Customer records written so far. */
  progress?: (done: number, total: number) => void;
  /**
   * The erasure list of the history store (Store.erasedCustomerIds): those of the bundle's customers
   * that were erased. The truth, kept in PostgreSQL: a cache that lost its own list (a fresh Redis) is
   * told again from it, and none of them is written.
   */
  erasedIn?: (customerIds: readonly string[]) => Promise<Set<string>>;
}

export interface PublishResult extends VersionInfo {
  /** The previous current version (null if none). */
  previous: string | null;
  /** True when the version was already complete in the cache and only the pointer moved. */
  reused: boolean;
  seconds: number;
}

async function currentVersion(cache: VectorCache, keys: CacheKeys): Promise<string | null> {
  const b = (await cache.getMany([keys.current]))[0];
  return b ? b.toString('utf8') : null;
}

/** Publishes a bundle: writes and verifies every key of the version, then flips the pointer and announces. */
export async function publishBundle(cache: VectorCache, keys: CacheKeys, bundle: ModelBundle, options: PublishOptions = {}): Promise<PublishResult> {
  const t0 = performance.now();
  const version = options.version ?? bundle.manifest.version;
  assertVersion(version);
  const batchSize = options.batchSize ?? 2000;
  const blobs = encodeItemSide(bundle, version);
  const digest = sha256(blobs.meta);
  const previous = await currentVersion(cache, keys);
  // erased customers are left out of the bundle's records: the store's list (told to the cache, whose
  // own list may be gone: a fresh Redis) and the cache's (an erasure racing this publish)
  const erased = await erasedCustomers(cache, keys);
  if (options.erasedIn) {
    const inStore = await options.erasedIn(bundle.customers.map((c) => c.customerId));
    const missing = [...inStore].filter((id) => !erased.has(id));
    if (missing.length) await tellErased(cache, keys, missing);
    for (const id of inStore) erased.add(id);
  }
  const customers = erased.size ? bundle.customers.filter((c) => !erased.has(c.customerId)) : bundle.customers;
  const total = customers.length;

  const marker = (await cache.getMany([keys.complete(version)]))[0];
  const existing = marker ? (JSON.parse(marker.toString('utf8')) as { digest: string; customers: number }) : null;
  const reused = !options.rewrite && existing?.digest === digest && existing.customers === total;
  let bytes = 0;
  if (reused) {
    const known = (await cache.hashGetAll(keys.versions))[version];
    bytes = known ? (JSON.parse(known) as VersionInfo).bytes : 0;
    options.progress?.(total, total);
  } else {
    // never leave a marker on a version being rewritten; drop stale keys unless it is in service
    await cache.delete([keys.complete(version)]);
    if (previous !== version && (await hasKeys(cache, keys, version))) await dropKeys(cache, keys, version);
    try {
      bytes = await writeVersion(cache, keys, version, blobs, customers, batchSize, options.progress);
      await verify(cache, keys, version, blobs, customers);
    } catch (e) {
      // leave no half-written version behind (best effort: the cache may be what failed)
      if (previous !== version) await dropKeys(cache, keys, version).catch(() => undefined);
      throw e;
    }
    await cache.writeBatch([[keys.complete(version), JSON.stringify({ digest, customers: total })]]);
  }
  // publish times are strictly increasing, so "the version published before" is always well defined
  const latest = Math.max(0, ...Object.values(await cache.hashGetAll(keys.versions)).map((s) => Date.parse((JSON.parse(s) as VersionInfo).publishedAt)));
  const info: VersionInfo = {
    version,
    createdAt: bundle.manifest.createdAt,
    publishedAt: new Date(Math.max(Date.now(), latest + 1)).toISOString(),
    items: bundle.items.length,
    customers: total,
    erased: bundle.customers.length - total,
    bytes,
    digest,
  };
  await cache.hashSet(keys.versions, version, JSON.stringify(info));
  // customers erased while this publish ran (listed now, so any later erasure reaches this version too)
  await dropErased(cache, keys, version, customers.map((c) => c.customerId));
  await cache.setAndPublish(keys.current, version, keys.announce, version);
  return { ...info, previous, reused, seconds: (performance.now() - t0) / 1000 };
}

/** Writes the item blobs, then the customer records in batches; returns the bytes written. */
async function writeVersion(
  cache: VectorCache,
  keys: CacheKeys,
  version: string,
  blobs: Record<string, Buffer>,
  customers: readonly CustomerRecord[],
  batchSize: number,
  progress?: (done: number, total: number) => void,
): Promise<number> {
  let bytes = 0;
  const itemEntries = ITEM_BLOBS.map((b) => [keys.blob(version, b), blobs[b]] as [string, Buffer]);
  await cache.writeBatch(itemEntries);
  for (const [, b] of itemEntries) bytes += b.length;
  const total = customers.length;
  // one batch in flight while the next is encoded
  let inFlight: Promise<void> | null = null;
  for (let i = 0; i < total; i += batchSize) {
    const batch: [string, Buffer][] = [];
    const end = Math.min(total, i + batchSize);
    for (let j = i; j < end; j++) {
      const r = customers[j];
      const v = encodeCustomer(r);
      bytes += v.length;
      batch.push([keys.customer(version, r.customerId), v]);
    }
    if (inFlight) await inFlight;
    inFlight = cache.writeBatch(batch).then(() => progress?.(end, total));
  }
  if (inFlight) await inFlight;
  return bytes;
}

/** Reads back every item blob (checksums) and counts every customer key before the flip. */
async function verify(cache: VectorCache, keys: CacheKeys, version: string, blobs: Record<string, Buffer>, customers: readonly CustomerRecord[]): Promise<void> {
  const back = await cache.getMany(ITEM_BLOBS.map((b) => keys.blob(version, b)));
  ITEM_BLOBS.forEach((b, i) => {
    if (!back[i] || sha256(back[i]!) !== sha256(blobs[b])) {
      throw new UnavailableError(`publish ${version}: blob ${b} did not read back intact; pointer not flipped`, { version });
    }
  });
  let found = 0;
  for (let i = 0; i < customers.length; i += 1000) {
    found += await cache.countExisting(customers.slice(i, i + 1000).map((r) => keys.customer(version, r.customerId)));
  }
  const distinct = new Set(customers.map((r) => r.customerId)).size;
  if (found !== distinct) {
    throw new UnavailableError(`publish ${version}: ${distinct - found} customer records missing after write; pointer not flipped`, { version });
  }
}

/** Every published version, newest publish first, with the current one marked. */
export async function listVersions(cache: VectorCache, keys: CacheKeys): Promise<(VersionInfo & { current: boolean })[]> {
  const [all, current] = await Promise.all([cache.hashGetAll(keys.versions), currentVersion(cache, keys)]);
  return Object.values(all)
    .map((s) => JSON.parse(s) as VersionInfo)
    .sort((a, b) => b.publishedAt.localeCompare(a.publishedAt) || b.version.localeCompare(a.version))
    .map((v) => ({ ...v, current: v.version === current }));
}

/**
 * Points `current` at an older version (default: the one published before the current one) and announces it.
 * An unknown or incomplete target is an error and nothing changes.
 */
export async function rollback(cache: VectorCache, keys: CacheKeys, to?: string): Promise<{ from: string | null; to: string }> {
  const versions = await listVersions(cache, keys);
  const cur = versions.find((v) => v.current) ?? null;
  let target: string;
  if (to !== undefined) {
    assertVersion(to);
    if (!versions.some((v) => v.version === to)) {
      throw new NotFoundError(`version ${to} is not published (published: ${versions.map((v) => v.version).join(', ') || 'none'})`, { version: to });
    }
    target = to;
  } else {
    const older = cur ? versions.filter((v) => !v.current && v.publishedAt < cur.publishedAt) : versions;
    if (older.length === 0) throw new NotFoundError('no earlier published version to roll back to');
    target = older[0].version;
  }
  const marker = (await cache.getMany([keys.complete(target)]))[0];
  if (!marker) throw new NotFoundError(`version ${target} is listed but its keys are gone; publish it again`, { version: target });
  await cache.setAndPublish(keys.current, target, keys.announce, target);
  return { from: cur?.version ?? null, to: target };
}

/** Deletes every key of a version (SCAN + UNLINK in batches); returns how many were deleted. */
async function dropKeys(cache: VectorCache, keys: CacheKeys, version: string, batchSize = 1000): Promise<number> {
  // marker first (rollback refuses the version from then on), meta last: publishes write meta first, so
  // "no meta" means "no keys at all" even after an interrupted cleanup (see hasKeys)
  let n = await cache.delete([keys.complete(version)]);
  const [itemSide, customers] = keys.versionPatterns(version);
  for (const pattern of [customers, itemSide]) {
    for await (const batch of cache.scan(pattern, batchSize)) n += await cache.delete(batch);
  }
  return n;
}

/** Whether any key of the version exists (its meta is the first key written and the last deleted). */
async function hasKeys(cache: VectorCache, keys: CacheKeys, version: string): Promise<boolean> {
  return (await cache.countExisting([keys.blob(version, 'meta')])) > 0;
}

/**
 * Deletes all but the `keep` most recently published versions; the current version is always kept.
 * With `orphans`, also deletes versions that have keys but are neither listed nor current (left by a
 * publish that was killed half-way): run it only when no publish is in progress.
 */
export async function cleanup(
  cache: VectorCache,
  keys: CacheKeys,
  keep: number,
  options: { orphans?: boolean } = {},
): Promise<{ deleted: string[]; keys: number; kept: string[] }> {
  if (!Number.isInteger(keep) || keep < 0) throw new InvalidArgumentError(`keep must be a whole number >= 0 (got ${keep})`);
  const versions = await listVersions(cache, keys);
  const kept = versions.filter((v, i) => v.current || i < keep).map((v) => v.version);
  const deleted: string[] = [];
  let n = 0;
  for (const v of versions) {
    if (kept.includes(v.version)) continue;
    // unlist first: from here on rollback refuses it, then its keys go
    await cache.hashDelete(keys.versions, v.version);
    n += await dropKeys(cache, keys, v.version);
    deleted.push(v.version);
  }
  if (options.orphans) {
    const listed = new Set(versions.map((v) => v.version));
    const current = await currentVersion(cache, keys);
    const orphans = new Set<string>();
    // every version with keys has a meta key (written first, deleted last)
    for await (const batch of cache.scan(`${keys.prefix}:{v:*`)) {
      for (const k of batch) {
        const v = versionOfKey(k);
        if (v && k === keys.blob(v, 'meta') && !listed.has(v) && v !== current) orphans.add(v);
      }
    }
    for (const v of orphans) {
      n += await dropKeys(cache, keys, v);
      deleted.push(v);
    }
  }
  return { deleted, keys: n, kept };
}
