-- Estimated bloat of each B-tree index: its size against what its entries would need.
-- Check: estimated bloat of the worst B-tree index of 10 MiB or more
-- Warn: 50 %
-- Fail: 80 %
-- Unit: %
-- Value: value (the largest estimated bloat share of an index of at least 10 MiB)
-- Why: B-tree pages emptied by deletes are reused only for keys of their range; a bloated
-- index is slower and larger than it needs to be. `REINDEX INDEX CONCURRENTLY` rebuilds it.
-- Limits: an estimate from pg_stats average widths of the indexed columns (expression indexes
-- are estimated at 8 bytes a column), the index fillfactor (90 by default) and reltuples;
-- only as good as the last ANALYZE. Cheap (catalog and statistics only).
WITH entries AS (
  SELECT c.oid, c.relpages, c.reltuples,
         coalesce((SELECT substring(o FROM 'fillfactor=(\d+)')::int
                   FROM unnest(c.reloptions) AS o WHERE o LIKE 'fillfactor=%'), 90) AS fillfactor,
         (SELECT coalesce(sum(coalesce(s.avg_width, 8)), 8)
          FROM unnest(i.indkey::int2[]) AS k(num)
          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
          LEFT JOIN pg_stats s ON s.schemaname = tn.nspname AND s.tablename = t.relname
                               AND s.attname = a.attname) AS key_width
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace tn ON tn.oid = t.relnamespace JOIN pg_am am ON am.oid = c.relam
  WHERE am.amname = 'btree' AND c.reltuples > 0
), expected AS (
  SELECT oid, relpages,
         ceil(reltuples * (key_width + 16) /
              (current_setting('block_size')::int * fillfactor / 100.0 - 40)) + 1 AS pages
  FROM entries
)
SELECT e.oid::regclass::text AS index, pg_size_pretty(pg_relation_size(e.oid)) AS size,
       round((100.0 * greatest(e.relpages - e.pages, 0) / e.relpages)::numeric, 1) AS value
FROM expected e
WHERE pg_relation_size(e.oid) >= 10485760 AND e.relpages > 0
ORDER BY value DESC;
