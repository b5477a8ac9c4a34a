-- Consent imports are idempotent: an identical event (customer, purpose, granted, time, source)
-- is recorded once. Existing duplicates are removed first, keeping the newest row (highest id) of
-- each group, so the record in force per (customer, purpose) (latest at, then highest id) is unchanged.
DELETE FROM consent c
 USING consent d
 WHERE d.customer_id = c.customer_id AND d.purpose = c.purpose AND d.granted = c.granted
   AND d.at = c.at AND d.source = c.source AND d.id > c.id;
CREATE UNIQUE INDEX consent_event ON consent (customer_id, purpose, at, granted, source);
