-- B-tree index structure checked with the amcheck extension's bt_index_check.
-- Check: B-tree index structure (amcheck bt_index_check)
-- Fail: 1
-- Value: value (0: a damaged index stops the query with amcheck's error, naming the index)
-- Why: a damaged index returns wrong rows silently; amcheck reads each index and checks its
-- invariants (the same as `pg_amcheck --heapallindexed` without the heap part).
-- Limits: needs `CREATE EXTENSION amcheck` in the database (contrib, done once by a superuser)
-- and EXECUTE on bt_index_check for the reviewing role; when the extension is not installed the
-- check says so and checks nothing. Takes an AccessShareLock per index only: safe on a primary.
-- Reads every user index in full: minutes on large databases (the statement timeout applies).
-- A partitioned table's index has no storage of its own: the indexes of its partitions are
-- checked instead.
-- By hand: pg_amcheck --no-dependent-indexes -d DBNAME
-- The review searches pg_catalog only: bt_index_check is called in the schema its extension
-- was created in (pg_extension.extnamespace), wherever that is.
WITH ext AS (
  SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'amcheck'
), idx AS (
  SELECT c.oid FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_am am ON am.oid = c.relam
  WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'
    AND c.relkind = 'i'  -- not a partitioned table's index (relkind 'I'): its partitions' are
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
), checked AS MATERIALIZED (
  SELECT query_to_xml(format('SELECT %I.bt_index_check(%s::oid::regclass)', ext.schema, idx.oid),
                      false, true, '') AS result
  FROM idx, ext
)
SELECT 0 AS value,
       CASE WHEN NOT EXISTS (SELECT FROM ext)
            THEN 'amcheck is not installed in this database (CREATE EXTENSION amcheck): indexes not checked'
            ELSE format('%s B-tree index(es) checked', (SELECT count(*) FROM checked))
       END AS note;
