-- Next best offer: the offers themselves, every decision made (for off-policy evaluation), every
-- response to an offer (idempotent by event id), and what serving keeps in memory derived from the
-- responses: contact counters per customer × offer, counts per offer, Beta posterior counts per
-- offer × segment × channel. The derived tables are written in the same transaction as the events.

-- One row per offer: the document as PUT takes it and GET returns it (src/core/offer-schema.ts).
CREATE TABLE offers (
  id         text PRIMARY KEY,
  doc        jsonb NOT NULL,
  starts_at  timestamptz,
  ends_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Every decision: who (null: a guest), in what context, what was considered, what was shown at which
-- position with the probability the policy chose it with, which policy, and whether it was a holdout.
CREATE TABLE offer_decisions (
  id             text PRIMARY KEY,
  at             timestamptz NOT NULL,
  customer_id    bigint,
  context        jsonb NOT NULL,
  considered     jsonb NOT NULL,
  shown          jsonb NOT NULL,
  policy_name    text NOT NULL,
  policy_version text NOT NULL,
  holdout        boolean NOT NULL DEFAULT false
);
CREATE INDEX offer_decisions_at ON offer_decisions (at);
CREATE INDEX offer_decisions_customer ON offer_decisions (customer_id, at);

-- Responses. customer_id: the unified id at the time of the event; content: the event as posted
-- (an event id posted again with other content is a conflict); segment: the stats cell it counted in.
CREATE TABLE offer_events (
  event_id    text PRIMARY KEY,
  decision_id text,
  offer_id    text NOT NULL,
  customer_id bigint NOT NULL,
  channel     text NOT NULL,
  type        text NOT NULL CHECK (type IN ('impression', 'accepted', 'declined', 'ignored')),
  at          timestamptz NOT NULL,
  segment     text NOT NULL,
  content     text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offer_events_customer ON offer_events (customer_id, at);
CREATE INDEX offer_events_decision ON offer_events (decision_id) WHERE decision_id IS NOT NULL;

-- Contact counters per customer × offer (all channels): impression times (epoch ms, the last 365 days,
-- at most 256) and the last decline.
CREATE TABLE offer_contacts (
  customer_id     bigint NOT NULL,
  offer_id        text   NOT NULL,
  impressions     float8[] NOT NULL DEFAULT '{}',
  last_decline_at float8,
  PRIMARY KEY (customer_id, offer_id)
);

-- Counts per offer over every customer (the acceptance cap reads `accepted`).
CREATE TABLE offer_counts (
  offer_id    text PRIMARY KEY,
  impressions bigint NOT NULL DEFAULT 0,
  accepted    bigint NOT NULL DEFAULT 0,
  declined    bigint NOT NULL DEFAULT 0,
  ignored     bigint NOT NULL DEFAULT 0
);

-- Response counts per offer × segment ('guest' when none) × channel: the Beta posteriors' data.
CREATE TABLE offer_response_stats (
  offer_id    text NOT NULL,
  segment     text NOT NULL,
  channel     text NOT NULL,
  impressions bigint NOT NULL DEFAULT 0,
  accepted    bigint NOT NULL DEFAULT 0,
  declined    bigint NOT NULL DEFAULT 0,
  ignored     bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (offer_id, segment, channel)
);
