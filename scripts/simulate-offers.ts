/**
 * npm run simulate:offers -- --json [--rounds N] [--seed S] [--holdout H] [--model hierarchical|pooled]
 * Drives the service's own decision code (src/core/offers/decide.ts) against a simulated population with known true
 * response rates (src/eval/offer-world.ts) and compares it with random, value-greedy and oracle policies.
 */
import { writeFile } from 'node:fs/promises';
import { defineCli, parseCli, runCli, UsageError } from '../src/cli/args.js';
import { formatOfferLog, type OfferLogRow } from '../src/eval/offer-log.js';
import { makeDecide } from '../src/core/offers/decide.js';
import { POOLED_DECIDE } from '../src/core/offers/propensity.js';
import { simulateOffers } from '../src/eval/offer-simulation.js';
import { WORLD_OFFERS } from '../src/eval/offer-world.js';

const spec = defineCli({
  name: 'npm run simulate:offers --',
  summary:
    'Simulates next-best-offer policies on a seeded population with known true acceptance rates (see src/eval/offer-world.ts):\n' +
    'learned (the service\'s decide, learning from its responses), random, value_greedy and oracle. Prints value per decision and acceptance rate.',
  flags: {
    rounds: { type: 'int', default: 20000, description: 'decisions per policy' },
    seed: { type: 'int', default: 1, description: 'seed of the population, the decision stream and the policies' },
    holdout: { type: 'number', default: 0, placeholder: 'SHARE', description: 'holdout share of the learned policy (0..1)' },
    windows: { type: 'int', default: 10, description: 'windows of the learning curve' },
    model: { type: 'string', default: 'hierarchical', placeholder: 'MODEL', description: 'propensity model of the learned policy: hierarchical (the service\'s default) or pooled (POOLED_DECIDE, the earlier model)' },
    'log-out': { type: 'string', placeholder: 'FILE', description: 'write the learned policy\'s decisions as a decision log CSV (docs/data-formats.md)' },
    json: { type: 'boolean', description: 'print one JSON document on stdout' },
  },
  epilog: 'Exit codes: 0 ok, 1 failure, 2 bad usage.\nExample: npm run simulate:offers -- --json --rounds 20000 --seed 1',
});

runCli(async () => {
  const { flags } = parseCli(spec);
  if (flags.rounds < 1) throw new UsageError('--rounds must be at least 1');
  if (!(flags.holdout >= 0 && flags.holdout <= 1)) throw new UsageError('--holdout must be between 0 and 1');
  if (flags.windows < 1) throw new UsageError('--windows must be at least 1');
  if (flags.model !== 'pooled' && flags.model !== 'hierarchical') throw new UsageError('--model must be pooled or hierarchical');
  const started = performance.now();
  const log: Omit<OfferLogRow, 'line'>[] = [];
  const r = simulateOffers({
    rounds: flags.rounds,
    seed: flags.seed,
    holdoutShare: flags.holdout,
    windows: flags.windows,
    decide: flags.model === 'pooled' ? makeDecide(POOLED_DECIDE) : undefined,
    onLearnedDecision: flags['log-out']
      ? (d, shown, reward, accepted, candidates) => {
          if (!shown) return;
          const c = d.customer;
          log.push({
            decisionId: `sim-${d.round}`,
            time: d.now,
            customerId: c.id,
            segment: c.personalised && c.segment ? c.segment : 'guest',
            channel: d.channel,
            store: d.store,
            offerId: shown.offerId,
            position: 1,
            probability: shown.probability,
            reward,
            accepted,
            value: WORLD_OFFERS.find((o) => o.id === shown.offerId)!.value,
            candidates,
            exposure: shown.exposure,
          });
        }
      : undefined,
  });
  if (flags['log-out']) await writeFile(flags['log-out'], formatOfferLog(log));
  const seconds = (performance.now() - started) / 1000;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ...r, seconds: Math.round(seconds * 100) / 100 })}\n`);
    return;
  }
  const lines = [`rounds ${r.rounds}, seed ${r.seed}, learned holdout ${r.holdoutShare}`, 'policy        valuePerDecision  acceptRate  offerRate'];
  for (const [name, f] of Object.entries(r.policies)) {
    const offerRate = r.details[name as keyof typeof r.details].offerRate;
    lines.push(`${name.padEnd(13)} ${f.valuePerDecision.toFixed(4).padStart(16)}  ${f.acceptRate.toFixed(4).padStart(10)}  ${offerRate.toFixed(3).padStart(9)}`);
  }
  lines.push(`learned / oracle ${r.ratios.learnedToOracle.toFixed(3)}   learned / random ${r.ratios.learnedToRandom.toFixed(3)}`);
  lines.push('learning curve (rounds: value per decision, share of decisions with the truly best offer):');
  for (const w of r.learning) lines.push(`  ${w.fromRound}-${w.toRound}: ${w.valuePerDecision.toFixed(4)}  ${w.bestOfferShare.toFixed(3)}`);
  lines.push(`${seconds.toFixed(1)} s`);
  process.stdout.write(`${lines.join('\n')}\n`);
}, 'simulate:offers');
