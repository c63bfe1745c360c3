-- Indexes PostgreSQL marks invalid: left by a CREATE INDEX CONCURRENTLY or REINDEX that failed.
-- Check: invalid indexes
-- Warn: 1 index
-- Value: rows (one per invalid index)
-- Why: an invalid index is never used by queries but is still updated by every write; an
-- invalid UNIQUE index does not enforce uniqueness. Drop it and build it again
-- (`DROP INDEX CONCURRENTLY ...; CREATE INDEX CONCURRENTLY ...`) or `REINDEX INDEX CONCURRENTLY`.
-- Limits: catalog only, cheap. By hand: psql -c '\d TABLE' shows such an index as INVALID.
SELECT format('%I.%I', n.nspname, c.relname) AS index, format('%I', t.relname) AS "table",
       i.indisunique AS "unique"
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid
ORDER BY 1;
