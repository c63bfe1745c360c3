-- Tables without a primary key.
-- Check: tables without a primary key
-- Warn: 1 table
-- Value: rows (one per table)
-- Why: without one, duplicate rows cannot be told apart or fixed, logical replication cannot
-- replicate updates and deletes, and tools that find rows by key (pg_repack) refuse the table.
-- Limits: ordinary and partitioned tables outside the system schemas; partitions are left out
-- (their partitioned table is reported). A unique index on NOT NULL columns would do as well
-- but is still reported. Catalog only, cheap.
SELECT format('%I.%I', n.nspname, c.relname) AS "table"
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
ORDER BY 1;
