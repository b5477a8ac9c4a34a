import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';

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
});
