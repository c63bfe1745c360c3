-- Transaction-ID age of each database: how far it is from wraparound.
-- Check: transaction-ID age of the oldest database (wraparound)
-- Warn: 1000000000 transactions (about 47 % of the 2^31 limit)
-- Fail: 1500000000 transactions (about 70 %)
-- Value: value (the oldest unfrozen transaction ID's age, over all databases of the server)
-- Why: at about 2^31 PostgreSQL stops accepting writes to avoid data loss; autovacuum's
-- anti-wraparound vacuum normally keeps the age near autovacuum_freeze_max_age (200 million).
-- A high age means it cannot finish: a long transaction, an abandoned replication slot or
-- prepared transaction holds it back. Find the oldest table: `SELECT relname, age(relfrozenxid)
-- FROM pg_class WHERE relkind = 'r' ORDER BY 2 DESC LIMIT 5` and VACUUM (FREEZE) it.
-- Limits: cheap (pg_database only).
SELECT datname AS database, age(datfrozenxid) AS value,
       round(100.0 * age(datfrozenxid) / 2147483648, 1) AS percent_of_limit
FROM pg_database
ORDER BY value DESC;
