-- Impressions counted by their affinity lift (offer-lift): each impression adds the lift g the propensity model
-- applied to the customer (src/core/offers/propensity.ts, impressionExposure; 1 without personalisation or an
-- affinity) to `exposure`, so a response cell's rate is estimated relative to the affinity prior instead of mixing
-- high- and low-affinity impressions. The learning reads `exposure` as the cell's trials; `impressions` stays the
-- plain count. Rows from before hold their impressions as exposure (lift 1, what they were counted as).
ALTER TABLE offer_response_stats ADD COLUMN exposure float8 NOT NULL DEFAULT 0;
UPDATE offer_response_stats SET exposure = impressions;
ALTER TABLE offer_counts ADD COLUMN exposure float8 NOT NULL DEFAULT 0;
UPDATE offer_counts SET exposure = impressions;
-- The exposure an impression event added (null: not an impression, or recorded before this migration: 1).
ALTER TABLE offer_events ADD COLUMN exposure float8;
