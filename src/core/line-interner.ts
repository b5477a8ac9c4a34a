/**
 * Compact history lines for holding tens of millions in memory (the validation window and the
 * evaluation need every line): each line's strings are shared — one customer id, sku, source, channel
 * and store id string per distinct value, one order id string per order (an order's lines arrive
 * together) — instead of a fresh string per field per line as a parser or a database driver makes
 * them. The lines' values are unchanged; at 20M lines this is several GiB of heap.
 */
import type { HistoryLine } from './records.js';

export class LineInterner {
  private readonly strings = new Map<string, string>();
  private prevOrder = '';

  /** The one shared copy of `s`. */
  str(s: string): string {
    const t = this.strings.get(s);
    if (t !== undefined) return t;
    this.strings.set(s, s);
    return s;
  }

  /** A new line equal to `h` whose strings are shared (one object shape for every line). */
  line(h: HistoryLine): HistoryLine {
    const orderId = h.orderId === this.prevOrder ? this.prevOrder : (this.prevOrder = h.orderId);
    return {
      customerId: h.customerId === null ? null : this.str(h.customerId),
      orderId,
      source: h.source === undefined ? undefined : this.str(h.source),
      channel: this.str(h.channel) as HistoryLine['channel'],
      storeId: h.storeId === null ? null : this.str(h.storeId),
      time: h.time,
      sku: this.str(h.sku),
      quantity: h.quantity,
      unitPrice: h.unitPrice,
    };
  }
}
