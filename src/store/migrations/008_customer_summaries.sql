-- The clienteling card's per-customer aggregates (orders, spend, first and last order, per-channel
-- orders and spend, favourite store, favourite categories), kept so that a card reads one row
-- instead of every line of the customer's history (src/store/customer-summaries.ts).
--
-- A summary is current when its rev equals its customer's rev and its catalogue equals the
-- catalogue's rev. Every write that changes a customer's aggregates bumps customers.rev in the
-- same transaction (new lines of their orders, guest orders attached to them, merges into them);
-- a change of any product's category bumps summary_catalogue.rev (favourite categories follow the
-- catalogue). A summary that is not current is never served: it is recomputed from the lines
-- (on read, and for every customer at the end of an import). npm run check:store verifies that
-- every current summary matches the lines.
ALTER TABLE customers ADD COLUMN rev bigint NOT NULL DEFAULT 0;

CREATE TABLE summary_catalogue (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  rev      bigint  NOT NULL
);
INSERT INTO summary_catalogue (rev) VALUES (0);

CREATE TABLE customer_summaries (
  customer_id bigint PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
  rev         bigint NOT NULL,
  catalogue   bigint NOT NULL,
  -- {orders, spend, first, last, channels: [{channel, orders, spend}], store: {storeId, orders} | null,
  --  categories: [{category, orders, spend}] (the first 20)}
  data        jsonb  NOT NULL
);
