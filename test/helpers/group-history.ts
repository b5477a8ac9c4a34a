import type { HistoryLine } from '../../src/core/records.js';
import { mulberry32 } from '../../src/core/random.js';

export const DAY = 86_400_000;
export const T0 = Date.UTC(2025, 0, 1);

/**
 * 240 customers in three groups over 90 days from T0, each buying mostly within its group's 70 items (some the group's
 * 8 favourites), and a few trending items (40–44) after day 70: a history on which the selection's models differ.
 */
export function groupHistory(): HistoryLine[] {
  const rnd = mulberry32(23);
  const lines: HistoryLine[] = [];
  let o = 0;
  for (let c = 0; c < 240; c++) {
    const group = c % 3;
    for (let b = 0; b < 2 + Math.floor(rnd() * 6); b++) {
      const day = Math.floor(rnd() * 90);
      const orderId = `o${o++}`;
      for (let l = 0; l < 1 + Math.floor(rnd() * 4); l++) {
        const item = day > 70 && rnd() < 0.3 ? 40 + Math.floor(rnd() * 5) : group * 70 + Math.floor(rnd() * (rnd() < 0.5 ? 8 : 70));
        lines.push({ orderId, customerId: `C${c}`, sku: `S${item}`, time: T0 + day * DAY + c, quantity: 1, unitPrice: 1, storeId: null, channel: 'web' } as HistoryLine);
      }
    }
  }
  return lines;
}
