/**
 * npm run api-key [-- --scopes storefront+associate] [--token]
 * Makes a new random API key and prints it with its API_KEYS entry as a hash (`sha256:<hex>:<scopes>`),
 * so the configuration holds no usable secret: give the key to the client, put the entry in API_KEYS.
 * The key's id (first 12 hex digits of the hash) names it in RATE_LIMITS (`key:<id>=N`) and in logs.
 */
import { randomBytes } from 'node:crypto';
import { KEY_FLAGS, SCOPES, hashedEntry, parseApiKeys } from '../src/api/api-keys.js';
import { defineCli, parseCli, runCli } from '../src/cli/args.js';

const spec = defineCli({
  name: 'npm run api-key --',
  summary: 'Prints a new random API key and its hashed API_KEYS entry.',
  flags: {
    scopes: { type: 'string', default: 'storefront', description: `scopes joined by "+" (${SCOPES.join(', ')})` },
    token: { type: 'boolean', description: `add the flag "${KEY_FLAGS[0]}": calls about a customer need a customer token (apps, browsers)` },
    json: { type: 'boolean', description: 'print {"key", "entry", "id"}' },
  },
});

runCli(async () => {
  const { flags } = parseCli(spec);
  const key = randomBytes(24).toString('base64url');
  const words = [...flags.scopes.split('+').filter(Boolean), ...(flags.token ? ['token'] : [])];
  const entry = hashedEntry(key, words);
  const id = parseApiKeys(entry).list()[0].id; // also checks the scopes
  if (flags.json) process.stdout.write(`${JSON.stringify({ key, entry, id })}\n`);
  else process.stdout.write(`key (give to the client, shown once): ${key}\nAPI_KEYS entry:                     ${entry}\nid (logs, RATE_LIMITS key:<id>=N):  ${id}\n`);
});
