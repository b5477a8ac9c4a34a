import { simulateOffers } from '../src/eval/offer-simulation.js';
simulateOffers({ rounds: 5000, seed: 101, holdoutShare: 0 });
