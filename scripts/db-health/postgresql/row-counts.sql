-- Exact row counts of every table of the connected database, as one JSON object on one line:
-- {"schema.table": rows, ...}, names quoted where SQL needs it (format('%I.%I')), sorted;
-- '{}' when there is no table. Counts ordinary and partitioned tables (a partitioned table
-- counts the rows of all its partitions, which are also counted on their own) outside
-- pg_catalog, information_schema and the toast and temporary schemas.
-- Not a check: a query the backups run (row counts for the manifest).
-- Used by backups: the counts recorded at backup time (inside the dump's snapshot) are compared
-- with those of a restored copy.
-- Limits: one count(*) per table, so it reads every table in full: seconds to minutes on large
-- databases. Run inside a REPEATABLE READ transaction, all counts come from one snapshot.
-- query_to_xml runs the counts inside this one statement, with no server-side function of our
-- own; it needs SELECT on every table, and a table the role cannot read stops the query.
SELECT coalesce(json_object_agg(t.name, t.rows ORDER BY t.name), '{}')
FROM (
  SELECT format('%I.%I', n.nspname, c.relname) AS name,
         (xpath('/row/c/text()', query_to_xml(
            format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname),
            false, true, '')))[1]::text::bigint AS rows
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
) AS t;
