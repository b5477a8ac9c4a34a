import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { parseStoreConfig, type StoreConfig } from '../src/config-store.js';

describe('configuration', () => {
  it('has working defaults with an empty environment (embedded backends)', () => {
    const c = parseConfig({});
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.PORT).toBe(8080);
    expect(c.AUTH_DISABLED).toBe(false);
  });

  it('coerces numbers and booleans', () => {
    const c = parseConfig({ PORT: '9000', AUTH_DISABLED: 'true', CUSTOMER_LRU_SIZE: '5' });
    expect(c.PORT).toBe(9000);
    expect(c.AUTH_DISABLED).toBe(true);
    expect(c.CUSTOMER_LRU_SIZE).toBe(5);
  });

  it('treats empty strings as unset', () => {
    expect(parseConfig({ DATABASE_URL: '', PORT: '' }).PORT).toBe(8080);
  });

  it('names every bad variable in its message', () => {
    let message = '';
    try {
      parseConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', REDIS_URL: 'redis://ok' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^ {2}PORT="eighty": /m);
    expect(message).toMatch(/^ {2}DATABASE_URL="mysql:\/\/x": must be a URL starting with postgres:\/\//m);
    expect(message).not.toMatch(/REDIS_URL/);
    expect(() => parseConfig({ AUTH_DISABLED: 'maybe' })).toThrow(/AUTH_DISABLED/);
  });

  it('parses REDIS_CLUSTER_NODES seeds, with credentials and TLS from URL entries', () => {
    expect(parseConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002' }).REDIS_CLUSTER_NODES).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
    });
    expect(parseConfig({ REDIS_CLUSTER_NODES: 'rediss://app:s%40cret@a.example:6380,rediss://b.example:6380' }).REDIS_CLUSTER_NODES).toEqual({
      nodes: [
        { host: 'a.example', port: 6380 },
        { host: 'b.example', port: 6380 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
  });

  it('rejects bad REDIS_CLUSTER_NODES naming the variable and the entry, never showing a password', () => {
    const bad: [string, RegExp][] = [
      ['10.0.0.1', /entry "10.0.0.1" needs a host and a port/],
      ['10.0.0.1:7000,', /entry "" needs a host and a port/],
      ['http://10.0.0.1:7000', /scheme must be redis:\/\/ or rediss:\/\//],
      ['redis://10.0.0.1:7000/2', /no database/],
      ['redis://a:1,rediss://b:2', /mix redis:\/\/ and rediss:\/\//],
      ['redis://:one@a:1,redis://:two@b:2', /disagree on credentials/],
      ['a:99999', /not host:port/],
    ];
    for (const [value, message] of bad) {
      expect(() => parseConfig({ REDIS_CLUSTER_NODES: value })).toThrow(/^ {2}REDIS_CLUSTER_NODES=/m);
      expect(() => parseConfig({ REDIS_CLUSTER_NODES: value })).toThrow(message);
    }
    let text = '';
    try {
      parseConfig({ REDIS_CLUSTER_NODES: 'redis://:hunter2@a:1,redis://:other@b:2' });
    } catch (e) {
      text = (e as Error).message;
    }
    expect(text).toMatch(/REDIS_CLUSTER_NODES="redis:\/\/:\*\*\*@a:1,redis:\/\/:\*\*\*@b:2"/);
    expect(text).not.toMatch(/hunter2|other/);
    expect(() => parseConfig({ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'a:1' })).toThrow(/REDIS_CLUSTER_NODES="a:1": set either REDIS_URL .* not both/);
  });

  it("parses the store's variables without zod (config-store.ts, for `npm run import`) exactly as parseConfig does", () => {
    const keys: (keyof StoreConfig)[] = ['DATABASE_URL', 'PGLITE_DIR', 'DEFAULT_COUNTRY_CODE', 'MAX_IDENTIFIERS_PER_CUSTOMER', 'CONSENT_DEFAULTS', 'ERASURE_KEY'];
    const values: Record<keyof StoreConfig, (string | undefined)[]> = {
      DATABASE_URL: [undefined, '', 'postgres://u:secret@h:5432/db', 'postgresql://h/db', 'mysql://u:pw@h/db', 'postgres:/h', ' postgres://h'],
      PGLITE_DIR: [undefined, '', 'memory://', '/tmp/x'],
      DEFAULT_COUNTRY_CODE: [undefined, '', '1', '44', '999', '0', '1000', '+44', '4a', ' 44'],
      MAX_IDENTIFIERS_PER_CUSTOMER: [undefined, '', '1', '20', '10000', '0', '10001', '2.5', 'abc', ' 7 ', '0x10', '1e3', 'Infinity', '-3'],
      CONSENT_DEFAULTS: [undefined, '', 'personalisation:granted', 'email:refused, sms:granted', 'email:maybe', 'nothing:granted', 'email:granted,email:refused', ' , email : granted ,'],
      ERASURE_KEY: [undefined, '', 'short', '0123456789abcdef', 'a much longer erasure key than that'],
    };
    const outcome = <T>(f: () => T): { value: T } | { error: string } => {
      try {
        return { value: f() };
      } catch (e) {
        return { error: (e as Error).message };
      }
    };
    let checked = 0;
    for (const key of keys) {
      for (const v of values[key]) {
        const env = { [key]: v };
        const full = outcome(() => parseConfig(env));
        const part = outcome(() => parseStoreConfig(env));
        expect('error' in part, `${key}=${JSON.stringify(v)}`).toBe('error' in full);
        if ('value' in full && 'value' in part) {
          for (const k of keys) expect(part.value[k], `${key}=${JSON.stringify(v)}: ${k}`).toEqual(full.value[k]);
        } else if ('error' in part && 'error' in full) {
          // the same variable named, its value shown without a password
          expect(part.error).toMatch(new RegExp(`^invalid configuration:\\n {2}${key}=`));
          expect(part.error).not.toMatch(/secret|pw@/);
          expect(full.error).toMatch(new RegExp(`^ {2}${key}=`, 'm'));
        }
        checked++;
      }
    }
    expect(checked).toBe(48);
    // every bad variable named at once
    expect(() => parseStoreConfig({ DATABASE_URL: 'mysql://x', ERASURE_KEY: 'short' })).toThrow(/DATABASE_URL="mysql:\/\/x": must be a URL starting with postgres:\/\/[^]*ERASURE_KEY="short": at least 16 characters/);
  });
});
