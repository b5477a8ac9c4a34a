-- The decision log, compact and cheap to write (replaces offer_decisions, whose rows move here): one row per
-- decision with its id, time and customer as columns (what the log is searched and erased by) and everything
-- else as one JSON text, `doc` (src/store/sql-offers.ts, prepareDecision: context "x", considered "k" over its
-- offer set, shown "s", policy "pn"/"pv", holdout "h", choice inputs "ch"), written by COPY. Measured per decision
-- (bench:decision-log, 200 offers; BENCHMARKS.md section nbo-log) the old table cost PostgreSQL ~6× the CPU:
--  - text, not jsonb: nothing parses the document on the way in (the reader parses it, rarely);
--  - toast_tuple_target at its maximum: a row of 2-3 KB stays in the heap as it is; at the default (2 KB) every
--    row was compressed by pglz, which won nothing on base64 and JSON numbers (same size) at ~20 µs each;
--  - the id's collation "C": the primary key (idempotent writes) compares bytes, not locale rules;
--  - `at` indexed by BRIN (rows arrive in time order: a few pages of summary instead of a b-tree entry per row);
--    customers by a b-tree without guests (erasure deletes by customer; guests are never searched for).
CREATE TABLE offer_decision_log (
  id          text COLLATE "C" PRIMARY KEY,
  at          timestamptz NOT NULL,
  customer_id bigint,
  doc         text NOT NULL
) WITH (toast_tuple_target = 8160);
CREATE INDEX offer_decision_log_at ON offer_decision_log USING brin (at);
CREATE INDEX offer_decision_log_customer ON offer_decision_log (customer_id) WHERE customer_id IS NOT NULL;
INSERT INTO offer_decision_log (id, at, customer_id, doc)
  SELECT id, at, customer_id,
         json_build_object('x', context, 'k', considered, 's', shown, 'pn', policy_name, 'pv', policy_version, 'h', holdout, 'ch', choice)::text
    FROM offer_decisions ORDER BY at, id;
DROP TABLE offer_decisions;
