-- The erasure list: who was erased, for good, kept where the truth is. Only keyed hashes
-- (HMAC-SHA256 under ERASURE_KEY, src/store/erasure-list.ts) of the erased person's identifiers
-- ('identifier' kind:value) and customer ids ('customer' id, merged ids included): enough to
-- recognise them when a file or an event brings them again, nothing to read them back from.
CREATE TABLE erasure_list (
  hash      text PRIMARY KEY,
  erased_at timestamptz NOT NULL
);
