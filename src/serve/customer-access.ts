/**
 * Who a customer id stands for and whether we may personalise for them: the surviving
 * unified id (merged-away ids resolve to it) and their personalisation consent, read from
 * the store and kept for a short while (default 30 s; the hot path must not hit PostgreSQL on
 * every request: a miss costs two queries).
 * Store failures never throw: the answer is "store_unavailable", and callers then serve
 * non-personal results (consent unknown = no consent).
 */
import type { Store } from '../store/store.js';

export type CustomerAccess =
  | { status: 'ok'; customerId: string }
  | { status: 'no_consent'; customerId: string }
  | { status: 'unknown_customer' }
  | { status: 'store_unavailable' };

export class CustomerAccessCache {
  private readonly entries = new Map<string, { at: number; access: CustomerAccess }>();

  constructor(
    private readonly store: Pick<Store, 'canonicalCustomerId' | 'hasConsent'>,
    private readonly options: { ttlMs: number; maxEntries: number; onStoreError?: (err: unknown) => void } = {
      ttlMs: 30_000,
      maxEntries: 50_000,
    },
  ) {}

  async resolve(customerId: string): Promise<CustomerAccess> {
    const now = Date.now();
    const hit = this.entries.get(customerId);
    if (hit && now - hit.at < this.options.ttlMs) return hit.access;
    let access: CustomerAccess;
    try {
      const canonical = await this.store.canonicalCustomerId(customerId);
      if (canonical === null) access = { status: 'unknown_customer' };
      else {
        const ok = await this.store.hasConsent(canonical, 'personalisation');
        access = { status: ok ? 'ok' : 'no_consent', customerId: canonical };
      }
    } catch (err) {
      this.options.onStoreError?.(err);
      return { status: 'store_unavailable' };
    }
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.delete(customerId);
    this.entries.set(customerId, { at: now, access });
    return access;
  }

  /** Forgets everything known about ids (after erasure or a consent change). */
  invalidate(...customerIds: string[]): void {
    if (customerIds.length === 0) return this.entries.clear();
    const ids = new Set(customerIds);
    for (const [key, { access }] of this.entries) {
      if (ids.has(key) || ('customerId' in access && ids.has(access.customerId))) this.entries.delete(key);
    }
  }
}
