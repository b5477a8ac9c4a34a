/**
 * Consent policy: undated choices never override a later one (re-importing a consent file without
 * `time` does not re-grant a withdrawn consent); CONSENT_DEFAULTS says what a purpose means for a
 * customer with no record of it, an explicit refusal always wins, the lookup says which applied
 * (`basis`), and serving uses the same answer.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.js';
import { importFiles } from '../src/ingest/import-file.js';
import { pgliteClient } from '../src/store/pglite-client.js';
import { SqlStore } from '../src/store/sql-store.js';
import { storeBackends } from './helpers/backends.js';
import { KEYS, seedStore, serveTinyWorld } from './helpers/serve-fixture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'omnirec-consent-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('CONSENT_DEFAULTS', () => {
  it('parses purpose:granted|refused; unlisted purposes are refused; bad entries name the variable', () => {
    expect(parseConfig({}).CONSENT_DEFAULTS).toEqual({});
    expect(parseConfig({ CONSENT_DEFAULTS: 'personalisation:granted, email:refused' }).CONSENT_DEFAULTS).toEqual({ personalisation: true, email: false });
    for (const bad of ['personalisation', 'personalisation:yes', 'marketing:granted', 'email:granted,email:refused']) {
      expect(() => parseConfig({ CONSENT_DEFAULTS: bad }), bad).toThrow(ConfigError);
      expect(() => parseConfig({ CONSENT_DEFAULTS: bad })).toThrow(/CONSENT_DEFAULTS/);
    }
  });
});

for (const backend of storeBackends()) {
  describe(`consent files (${backend.name})`, () => {
    it('re-importing a consent file without time does not re-grant a withdrawn consent', async () => {
      const { store, cleanup } = await backend.open();
      try {
        const undated = join(dir, `${backend.name}-undated.csv`);
        await writeFile(undated, 'email,purpose,granted\na@x.io,personalisation,true\na@x.io,email,true\n');
        const withdrawal = join(dir, `${backend.name}-withdrawal.csv`);
        await writeFile(withdrawal, 'email,purpose,granted,time,source\na@x.io,personalisation,false,2024-05-01T10:00:00Z,app\n');
        await importFiles(store, [undated]);
        const a = (await store.findCustomer({ kind: 'email', value: 'a@x.io' }))!;
        expect(await store.hasConsent(a, 'personalisation')).toBe(true);
        await importFiles(store, [withdrawal]);
        expect(await store.hasConsent(a, 'personalisation')).toBe(false);
        const again = await importFiles(store, [undated]);
        expect(again.imported).toBe(0);
        expect(await store.hasConsent(a, 'personalisation')).toBe(false);
        expect(await store.hasConsent(a, 'email')).toBe(true); // nothing later for email: the undated choice holds
        const profile = (await store.customerProfile(a))!;
        expect(profile.consent.find((c) => c.purpose === 'email')).toEqual({ purpose: 'email', granted: true, basis: 'recorded', time: null, source: 'import' });
        // even an undated grant seen for the first time after the withdrawal does not override it
        await writeFile(undated, 'email,purpose,granted,source\na@x.io,personalisation,true,newsletter-signup\n');
        expect((await importFiles(store, [undated])).imported).toBe(1);
        expect(await store.hasConsent(a, 'personalisation')).toBe(false);
      } finally {
        await cleanup();
      }
    });
  });
}

describe('what applies without a record', () => {
  async function world(consentDefaults: Record<string, boolean>) {
    const store = new SqlStore(await pgliteClient({}), { consentDefaults });
    await store.migrate();
    const ids = await seedStore(store);
    // tea has no consent record at all; nocons refused explicitly (seedStore)
    await store.db.query('DELETE FROM consent WHERE customer_id = $1', [ids.tea]);
    const w = await serveTinyWorld(store, { ids });
    return { store, ids, w };
  }

  it('default refused (no CONSENT_DEFAULTS): no record means no personal list; the lookup says "default"', async () => {
    const { store, w } = await world({});
    try {
      const r = await request(w.listener).get('/v1/customers/lookup?email=tea@example.com').set('x-api-key', KEYS.associate).expect(200);
      expect(r.body.profile.consent).toContainEqual({ purpose: 'personalisation', granted: false, basis: 'default' });
      const recs = await request(w.listener).get(`/v1/customers/${r.body.customerId}/recommendations`).set('x-api-key', KEYS.storefront).expect(200);
      expect(recs.body).toMatchObject({ fallback: true, fallbackReason: 'no_consent' });
    } finally {
      await store.close();
    }
  });

  it('personalisation:granted: a customer with no record gets personal lists; an explicit refusal still wins', async () => {
    const { store, ids, w } = await world({ personalisation: true, email: false });
    try {
      const r = await request(w.listener).get('/v1/customers/lookup?email=tea@example.com').set('x-api-key', KEYS.associate).expect(200);
      expect(r.body.profile.consent).toEqual(
        expect.arrayContaining([
          { purpose: 'personalisation', granted: true, basis: 'default' },
          { purpose: 'email', granted: false, basis: 'default' },
          { purpose: 'sms', granted: false, basis: 'default' },
        ]),
      );
      const recs = await request(w.listener).get(`/v1/customers/${ids.tea}/recommendations`).set('x-api-key', KEYS.storefront).expect(200);
      expect(recs.body.fallback).toBe(false);
      // nocons refused on record: the default does not override it
      const n = await request(w.listener).get('/v1/customers/lookup?email=nocons@example.com').set('x-api-key', KEYS.associate).expect(200);
      expect(n.body.profile.consent).toContainEqual({ purpose: 'personalisation', granted: false, basis: 'recorded', time: expect.any(String), source: 'test' });
      const refused = await request(w.listener).get(`/v1/customers/${ids.nocons}/recommendations`).set('x-api-key', KEYS.storefront).expect(200);
      expect(refused.body).toMatchObject({ fallback: true, fallbackReason: 'no_consent' });
      expect(await store.customerAccess(ids.nocons)).toEqual({ canonicalId: ids.nocons, personalisation: false });
      expect(await store.customerAccess(ids.tea)).toEqual({ canonicalId: ids.tea, personalisation: true });
    } finally {
      await store.close();
    }
  });
});
