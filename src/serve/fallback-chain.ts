/**
 * The configurable fallback chain for personal lists (FALLBACK_CHAIN, comma-separated):
 * personal (factor scores) → neighbours (of recent purchases) → segment (popular in the
 * store, else in the customer's segment) → popular (global). Popular is always the last resort.
 */
import { InvalidArgumentError } from '../core/errors.js';

export const CHAIN_STEPS = ['personal', 'neighbours', 'segment', 'popular'] as const;
export type ChainStep = (typeof CHAIN_STEPS)[number];

export function parseFallbackChain(text: string): ChainStep[] {
  const steps = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = steps.filter((s) => !(CHAIN_STEPS as readonly string[]).includes(s));
  if (bad.length) {
    throw new InvalidArgumentError(`FALLBACK_CHAIN: unknown step(s) ${bad.join(', ')}; allowed: ${CHAIN_STEPS.join(', ')}`, {
      field: 'FALLBACK_CHAIN',
    });
  }
  const unique = [...new Set(steps)] as ChainStep[];
  if (!unique.includes('popular')) unique.push('popular');
  return unique;
}
