-- The offer sets decisions were made over, stored once: a decision's `considered` (offer_decisions)
-- names its set by this key and holds one character per offer of it (src/core/offers/screen.ts,
-- encodeConsidered), instead of every offer's id and outcome as JSON in every row.
CREATE TABLE offer_decision_sets (
  id         text PRIMARY KEY,
  offer_ids  jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
