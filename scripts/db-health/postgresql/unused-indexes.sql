-- Indexes of 1 MiB or more that no query has used since the statistics were last reset.
-- Check: unused indexes of 1 MiB or more
-- Warn: 1 index
-- Value: rows (one per unused index, largest first)
-- Why: an unused index costs disk and write time for nothing. Before dropping one, check the
-- statistics are old enough (pg_stat_database.stats_reset) and that a replica does not use it:
-- the counters are per server.
-- Limits: indexes backing a constraint (unique, primary key, exclusion) are never reported;
-- neither are indexes under 1 MiB. Reads the statistics views only, cheap.
SELECT format('%I.%I', s.schemaname, s.indexrelname) AS index,
       format('%I', s.relname) AS "table",
       pg_size_pretty(pg_relation_size(s.indexrelid)) AS size
FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
  AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = s.indexrelid)
  AND pg_relation_size(s.indexrelid) >= 1048576
ORDER BY pg_relation_size(s.indexrelid) DESC;
