-- Sample hashes of every table of the connected database, as one JSON object on one line:
-- {"schema.table": {"rows": n, "sha256": "..."}, ...}, names as in row-counts.sql, sorted;
-- '{}' when there is no table. Set the psql variables first: upkeep_seed (hex) and
-- upkeep_rows (rows per table). Method postgresql-key-seek-v1, the default since December 2026.
-- A row is read as to_jsonb(row)::text: its columns by name (jsonb sorts the keys), so a copy
-- whose columns come in another order (pg_dump reorders an inheritance child's) reads the
-- same; every text is hashed as UTF-8 (convert_to), whatever the database's encoding.
-- A table whose primary key is one column of type smallint, integer or bigint: for each i in
-- 1..upkeep_rows the seeded key lowest + floor((highest - lowest + 1) * f / 2^60), where f is
-- the first 15 hex digits of md5(seed || ':' || name || ':' || i) read as a number and name the
-- table's name as in the JSON; the sample is the first row at or after each such key (one index
-- lookup each, whatever the table's size), every row once, in key order. A plain table's own
-- rows only (ONLY: a child table by inheritance is sampled as a table of its own, and may have
-- no index on the key); a partitioned table's rows are those of its partitions.
-- Any other table: the upkeep_rows rows with the lowest md5(seed || row) (one scan of the
-- table; rows tied on it are equal rows).
-- A sample's hash is the sha256 of its rows' sha256s (hex) in that order, joined by newlines:
-- it depends only on the data and the key, so a restored copy gives the same hash, and no
-- string larger than one row is built (rows of many megabytes each do not add up). The
-- session's settings that change how a value prints (TimeZone UTC, DateStyle ISO,
-- IntervalStyle postgres, extra_float_digits 1, bytea_output hex, lc_monetary C, search_path
-- pg_catalog) are fixed before this query runs (PRINTING_SETTINGS in
-- upkeep/backup/engines/postgresql.py): a database's own settings (ALTER DATABASE ... SET)
-- are not copied into a restored copy.
-- Used by backups: taken inside the dump's exported snapshot at backup time, and again on the
-- restored copy by the weekly verification.
-- Limits: a table without such a key costs a scan (seconds per million rows); rows far after a
-- wide gap in the keys are chosen more often than others; a row over 255 MB as jsonb cannot
-- be read this way (the query fails, naming it).
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
             'FROM (SELECT encode(sha256(convert_to(j, ''UTF8'')), ''hex'') COLLATE "C" AS r, k '
             'FROM (SELECT j, md5(convert_to(%1$L || j, ''UTF8'')) COLLATE "C" AS k '
             'FROM (SELECT to_jsonb(upkeep_sample_row.*)::text AS j '
             'FROM %2$I.%3$I AS upkeep_sample_row) AS upkeep_rows_read '
             'ORDER BY k LIMIT %4$s) AS chosen) AS sampled',
             :'upkeep_seed', n.nspname, c.relname, :upkeep_rows)
           ELSE format(
             'SELECT count(*) AS n, encode(sha256(convert_to(coalesce('
             'string_agg(sampled.r, E''\n'' ORDER BY sampled.k), ''''), ''UTF8'')), ''hex'') AS h '
             'FROM (SELECT DISTINCT found.k, found.r '
             'FROM (SELECT min(%4$I) AS lo, max(%4$I) AS hi FROM %6$s%2$I.%3$I) AS upkeep_bounds '
             'CROSS JOIN generate_series(1, %5$s) AS upkeep_seek(i) '
             'CROSS JOIN LATERAL (SELECT upkeep_sample_row.%4$I AS k, '
             'encode(sha256(convert_to(to_jsonb(upkeep_sample_row.*)::text, ''UTF8'')), ''hex'')'
             ' AS r FROM %6$s%2$I.%3$I AS upkeep_sample_row '
             'WHERE upkeep_sample_row.%4$I >= (upkeep_bounds.lo + div('
             '(upkeep_bounds.hi::numeric - upkeep_bounds.lo + 1) * (''x'' || substr(md5('
             'convert_to(%1$L || upkeep_seek.i::text, ''UTF8'')), 1, 15))::bit(60)::bigint, '
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
