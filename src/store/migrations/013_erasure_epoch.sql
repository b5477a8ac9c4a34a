-- Erasures counted: every statement that adds to the erasure list adds one to n in its transaction (the trigger below,
-- so that an erasure made by any code that writes the list moves the epoch, an instance of an earlier version during a
-- rolling deploy included). A write keyed by a customer (the decision log, offer events: src/store/erasure-list.ts)
-- that found a customer present at epoch n, under ERASURE_LOCK shared, knows them present while the epoch is still n:
-- it looks up only the customers it has not seen since, one row read per write instead of a probe per customer.
CREATE TABLE erasure_epoch (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  n        bigint  NOT NULL
);
INSERT INTO erasure_epoch (n) VALUES (0);

CREATE FUNCTION erasure_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE erasure_epoch SET n = n + 1;
  RETURN NULL;
END
$$;
CREATE TRIGGER erasure_list_epoch AFTER INSERT ON erasure_list FOR EACH STATEMENT EXECUTE FUNCTION erasure_epoch_bump();
