-- Erasures counted: every erasure adds one in its transaction (SqlStore.eraseCustomer, holding ERASURE_LOCK
-- exclusively). A write keyed by a customer (the decision log, offer events: src/store/erasure-list.ts) that found a
-- customer present at epoch n, under ERASURE_LOCK shared, knows them present while the epoch is still n: it looks up
-- only the customers it has not seen since, one row read per write instead of a probe per customer.
CREATE TABLE erasure_epoch (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  n        bigint  NOT NULL
);
INSERT INTO erasure_epoch (n) VALUES (0);
