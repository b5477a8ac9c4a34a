import request from 'supertest';
import { it } from 'vitest';
import { storeBackends } from './helpers/backends.js';
import { KEYS, serveTinyWorld } from './helpers/serve-fixture.js';
it('repro', async () => {
  const { store } = await storeBackends().at(-1)!.open();
  const w = await serveTinyWorld(store);
  for (const q of ['email=a%00b@x.com', 'loyalty=a%00b', 'phone=0770%00123']) {
    const r = await request(w.listener).get(`/v1/customers/lookup?${q}`).set('x-api-key', KEYS.associate);
    console.log(q, r.status, JSON.stringify(r.body));
  }
  const r = await request(w.listener).post('/v1/events/purchases').set('x-api-key', KEYS.events).send({ orderId: 'A\u0000', channel: 'web', identifiers: { email: 'x@y.com' }, lines: [{ sku: 'TEA-1', quantity: 1 }] });
  console.log(r.status, JSON.stringify(r.body));
});
