-- Order identity is (source, source order id): a web order 1001 and a till order 1001 are two
-- orders. A file's orders take their source from the row's channel unless the import names one
-- (--source); purchase events are source 'event'. Orders written before this migration keep
-- the source an import would give them now (their channel), so re-importing the same files
-- after an upgrade still finds them.
ALTER TABLE orders ADD COLUMN source text;
UPDATE orders SET source = channel;
ALTER TABLE orders ALTER COLUMN source SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_source_order UNIQUE (source, source_id);
ALTER TABLE orders DROP CONSTRAINT orders_source_id_key;
