-- Dead-row share of each table, with its last vacuum (by hand or autovacuum).
-- Check: dead-row share of the worst table
-- Warn: 20 %
-- Fail: 50 %
-- Unit: %
-- Value: value (the highest dead-row share of a table with at least 1000 dead rows)
-- Why: dead rows are what UPDATE and DELETE leave until VACUUM reclaims them; a high share
-- means autovacuum does not keep up (or is blocked by a long transaction): the table and its
-- indexes grow and scans slow down. `VACUUM (VERBOSE) table` and look at its autovacuum settings.
-- Limits: counts are the statistics collector's estimates since the last statistics reset;
-- tables with fewer than 1000 dead rows are not reported. Cheap.
SELECT format('%I.%I', schemaname, relname) AS "table", n_dead_tup AS dead, n_live_tup AS live,
       round(100.0 * n_dead_tup / nullif(n_live_tup + n_dead_tup, 0), 1) AS value,
       greatest(last_vacuum, last_autovacuum) AS last_vacuum
FROM pg_stat_user_tables
WHERE n_dead_tup >= 1000
ORDER BY value DESC;
