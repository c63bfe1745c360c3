-- Indexes that duplicate another one: the same table, columns, operator classes, expression
-- and predicate.
-- Check: sets of identical indexes
-- Warn: 1 set of duplicates
-- Value: rows (one per set of identical indexes)
-- Why: every duplicate costs disk, memory and write time and gives nothing. Keep the one that
-- backs a constraint (primary key, unique) and drop the others (`DROP INDEX CONCURRENTLY`).
-- Limits: exact duplicates only; an index that is a prefix of another (a on (a) beside one on
-- (a, b)) is often redundant too but is not reported. Catalog only, cheap.
SELECT format('%I.%I', n.nspname, t.relname) AS "table",
       string_agg(format('%I', c.relname), ', ' ORDER BY c.relname) AS indexes,
       pg_size_pretty(sum(pg_relation_size(c.oid))::bigint) AS size
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
GROUP BY n.nspname, t.relname, i.indrelid, i.indkey::text, i.indclass::text,
         coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),
         coalesce(pg_get_expr(i.indpred, i.indrelid), '')
HAVING count(*) > 1
ORDER BY 1;
