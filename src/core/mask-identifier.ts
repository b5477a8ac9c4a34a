/**
 * Identifiers as a store associate may see them on a tablet: enough to confirm "is this you?",
 * not enough to copy down. Pure.
 *
 * - email: first character of the local part, then "•••": `nina@example.com` → `n•••@example.com`
 * - phone, account, device, external: the last four characters: `447700900123` → `•••• 0123`
 * - loyalty: as stored (it is what the associate scans or types to find the customer)
 */
import type { Identifier } from './records.js';

const DOTS = '•••';

export function maskIdentifier(id: Identifier): Identifier {
  if (id.kind === 'loyalty') return id;
  if (id.kind === 'email') {
    const at = id.value.lastIndexOf('@');
    if (at > 0) return { kind: 'email', value: `${id.value[0]}${DOTS}${id.value.slice(at)}` };
  }
  const v = id.value;
  return { kind: id.kind, value: v.length > 4 ? `•••• ${v.slice(-4)}` : '••••' };
}
