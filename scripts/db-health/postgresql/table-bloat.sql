-- Estimated bloat of each table: its size against what its rows would need.
-- Check: estimated bloat of the worst table of 10 MiB or more
-- Warn: 50 %
-- Fail: 80 %
-- Unit: %
-- Value: value (the largest estimated bloat share of a table of at least 10 MiB)
-- Why: space VACUUM reclaimed inside the file stays there; a mostly empty table costs disk,
-- cache and scan time. `VACUUM FULL` (locks the table) or pg_repack shrinks it.
-- Limits: an estimate from the planner statistics (pg_stats average widths, reltuples, the
-- fillfactor): a table never ANALYZEd is not estimated, TOAST is ignored, and it is only as good
-- as the last ANALYZE. Cheap (catalog and statistics only).
WITH widths AS (
  SELECT c.oid, c.relpages, c.reltuples,
         coalesce((SELECT substring(o FROM 'fillfactor=(\d+)')::int
                   FROM unnest(c.reloptions) AS o WHERE o LIKE 'fillfactor=%'), 100) AS fillfactor,
         sum(s.avg_width) AS row_width
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname
  WHERE c.relkind = 'r' AND c.reltuples > 0
  GROUP BY c.oid
), expected AS (
  SELECT oid, relpages,
         ceil(reltuples * (row_width + 28) /
              (current_setting('block_size')::int * fillfactor / 100.0 - 24)) AS pages
  FROM widths
)
SELECT e.oid::regclass::text AS "table", pg_size_pretty(pg_relation_size(e.oid)) AS size,
       round((100.0 * greatest(e.relpages - e.pages, 0) / e.relpages)::numeric, 1) AS value
FROM expected e
WHERE pg_relation_size(e.oid) >= 10485760 AND e.relpages > 0
ORDER BY value DESC;
