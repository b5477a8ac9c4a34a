-- What the probability of each shown offer is computed from, logged instead of the probability itself
-- (src/core/offers/choice.ts, EncodedChoice): per suitable offer that could be ranked into the top, its
-- sampling distribution and lift; the holdout share, limit, seed, ... Null for decisions
-- logged with their probabilities written out in `shown`.
ALTER TABLE offer_decisions ADD COLUMN choice jsonb;
-- The conflicts (offers sharing a sku or a category) of every offer of a set, by index: with a decision's
-- suitable offers (its `considered`) they give the conflicts its choice was made under. Null for sets
-- stored before (their key covers the ids only; a set with conflicts is keyed by ids, conflicts and values).
ALTER TABLE offer_decision_sets ADD COLUMN conflicts jsonb;
-- value × weight of every offer of a set, by index (the multiplier of its priority when the choice was made).
ALTER TABLE offer_decision_sets ADD COLUMN value_weights jsonb;
