-- A product's row is a function of the order lines that name it, whatever the import batches and the order of the files
-- and lines (src/store/product-rule.ts): each of title, category and price is the non-null value of the latest source time
-- that had one (at equal times, the greatest value: COLLATE "C" for text), and that time is kept beside it (title_at,
-- category_at, price_at; '-infinity' while the field is null) so that rows merge exactly; seen_at becomes the latest
-- source time of any line of the product (its last observation), no longer that of its last change as one batch saw it.
-- Rows written before this migration take seen_at as the time of their values (the time of their last change, the best
-- known); a re-import of their lines moves the times on to the lines'.
ALTER TABLE products
  ADD COLUMN title_at    timestamptz NOT NULL DEFAULT '-infinity',
  ADD COLUMN category_at timestamptz NOT NULL DEFAULT '-infinity',
  ADD COLUMN price_at    timestamptz NOT NULL DEFAULT '-infinity';
UPDATE products
   SET title_at = CASE WHEN title IS NULL THEN title_at ELSE seen_at END,
       category_at = CASE WHEN category IS NULL THEN category_at ELSE seen_at END,
       price_at = CASE WHEN price IS NULL THEN price_at ELSE seen_at END
 WHERE title IS NOT NULL OR category IS NOT NULL OR price IS NOT NULL;
