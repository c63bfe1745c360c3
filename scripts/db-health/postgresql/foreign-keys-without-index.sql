-- Foreign keys whose columns lead no index of the referring table.
-- Check: foreign keys without a supporting index
-- Warn: 1 foreign key
-- Value: rows (one per foreign key without an index)
-- Why: deleting or updating a parent row then scans the whole child table, under lock, once per
-- parent row; joins along the key are slow too. `CREATE INDEX CONCURRENTLY ON child (columns)`.
-- Limits: an index counts when its leading columns are the key's columns, in any order.
-- Catalog only, cheap.
SELECT c.conname AS foreign_key, format('%I.%I', n.nspname, t.relname) AS "table",
       (SELECT string_agg(format('%I', a.attname), ', ' ORDER BY k.i)
        FROM unnest(c.conkey) WITH ORDINALITY AS k(num, i)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num) AS columns
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE c.contype = 'f' AND c.conparentid = 0
  AND NOT EXISTS (
    SELECT FROM pg_index i
    WHERE i.indrelid = c.conrelid
      AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
      AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
ORDER BY 2, 1;
