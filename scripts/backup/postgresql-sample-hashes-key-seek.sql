-- Sample hashes of every table of the connected database, as one JSON object on one line:
-- {"schema.table": {"rows": n, "sha256": "..."}, ...}, names as in row-counts.sql, sorted;
-- '{}' when there is no table. Set the psql variables first: upkeep_seed (hex) and
-- upkeep_rows (rows per table). Method postgresql-key-seek-v1, the default since December 2026.
-- A table whose primary key is one column of type smallint, integer or bigint: for each i in
-- 1..upkeep_rows the seeded key lowest + floor((highest - lowest + 1) * f / 2^60), where f is
-- the first 15 hex digits of md5(seed || ':' || name || ':' || i) read as a number and name the
-- table's name as in the JSON; the sample is the first row at or after each such key (one index
-- lookup each, whatever the table's size), every row once, in key order. A plain table's own
-- rows only (ONLY: a child table by inheritance is sampled as a table of its own, and may have
-- no index on the key); a partitioned table's rows are those of its partitions.
-- Any other table: the upkeep_rows rows with the lowest md5(seed || row as text), as in method
-- postgresql-md5-order-v1 (postgresql-sample-hashes.sql; one scan of the table).
-- A sample's hash is the sha256 of its rows' text in that order, joined by newlines: it depends
-- only on the data and the key, so a restored copy gives the same hash. The session's settings
-- that change how a row prints (TimeZone UTC, DateStyle ISO, IntervalStyle postgres,
-- extra_float_digits 1, bytea_output hex, lc_monetary C, search_path pg_catalog) are fixed
-- before this query runs (PRINTING_SETTINGS in upkeep/backup/engines/postgresql.py): a
-- database's own settings (ALTER DATABASE ... SET) are not copied into a restored copy.
-- Used by backups: taken inside the dump's exported snapshot at backup time, and again on the
-- restored copy by the weekly verification.
-- Limits: a table without such a key costs a scan (seconds per million rows); rows far after a
-- wide gap in the keys are chosen more often than others.
-- Needs SELECT on every table; query_to_xml runs the per-table query inside this statement.
SELECT coalesce(json_object_agg(t.name, json_build_object('rows', t.rows, 'sha256', t.sha256)
                                ORDER BY t.name), '{}')
FROM (
  SELECT s.name,
         (xpath('/row/n/text()', s.result))[1]::text::bigint AS rows,
         (xpath('/row/h/text()', s.result))[1]::text AS sha256
  FROM (
    SELECT named.name,
           query_to_xml(CASE WHEN key.attname IS NULL THEN format(
             'SELECT count(*) AS n, encode(sha256(convert_to(coalesce('
             'string_agg(r, E''\n'' ORDER BY k, r), ''''), ''UTF8'')), ''hex'') AS h '
             'FROM (SELECT chosen.upkeep_row::text AS r, chosen.k FROM ('
             'SELECT ROW(upkeep_sample_row.*) AS upkeep_row, '
             'md5(%1$L || ROW(upkeep_sample_row.*)::text) AS k '
             'FROM %2$I.%3$I AS upkeep_sample_row ORDER BY 2 LIMIT %4$s) AS chosen) AS sampled',
             :'upkeep_seed', n.nspname, c.relname, :upkeep_rows)
           ELSE format(
             'SELECT count(*) AS n, encode(sha256(convert_to(coalesce('
             'string_agg(sampled.r, E''\n'' ORDER BY sampled.k), ''''), ''UTF8'')), ''hex'') AS h '
             'FROM (SELECT DISTINCT found.k, found.r '
             'FROM (SELECT min(%4$I) AS lo, max(%4$I) AS hi FROM %6$s%2$I.%3$I) AS upkeep_bounds '
             'CROSS JOIN generate_series(1, %5$s) AS upkeep_seek(i) '
             'CROSS JOIN LATERAL (SELECT upkeep_sample_row.%4$I AS k, '
             'ROW(upkeep_sample_row.*)::text AS r FROM %6$s%2$I.%3$I AS upkeep_sample_row '
             'WHERE upkeep_sample_row.%4$I >= (upkeep_bounds.lo + div('
             '(upkeep_bounds.hi::numeric - upkeep_bounds.lo + 1) * (''x'' || substr(md5('
             '%1$L || upkeep_seek.i::text), 1, 15))::bit(60)::bigint, '
             '1152921504606846976))::bigint '
             'ORDER BY upkeep_sample_row.%4$I LIMIT 1) AS found) AS sampled',
             :'upkeep_seed' || ':' || named.name || ':', n.nspname, c.relname, key.attname,
             :upkeep_rows, CASE WHEN c.relkind = 'r' THEN 'ONLY ' ELSE '' END)
           END, false, true, '') AS result
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN LATERAL (SELECT format('%I.%I', n.nspname, c.relname) AS name) AS named
    LEFT JOIN LATERAL (
      SELECT a.attname
      FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnkeyatts = 1
        AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
    ) AS key ON true
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
  ) AS s
) AS t;
