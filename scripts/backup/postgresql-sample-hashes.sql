-- Sample hashes of every table of the connected database, as one JSON object on one line:
-- {"schema.table": {"rows": n, "sha256": "..."}, ...}, names as in row-counts.sql, sorted;
-- '{}' when there is no table. Set the psql variables first: upkeep_seed (hex) and
-- upkeep_rows (rows per table).
-- The sample of a table is its `upkeep_rows` rows with the lowest md5(seed || row as text)
-- (ties by the row text), and its hash the sha256 of those rows' text in that order, joined by
-- newlines: it depends only on the data, so a restored copy gives the same hash.
-- Method postgresql-md5-order-v1: used by backups taken before December 2026 (inside the dump's
-- exported snapshot) and by the verification of those backups' restored copies; newer backups
-- use postgresql-sample-hashes-key-seek.sql, which samples a table with an integer key by key.
-- Limits: one scan of every table (md5 of each row, a top-N sort): seconds per million rows.
-- Each row is turned into text once, for its md5; the text of only the chosen rows is made
-- again for the hash (the top-N sort carries the row itself). Rows are ordered by md5 alone
-- there: rows with equal md5 have equal text, so the sample and its hash are those of the first
-- version, which ordered by (md5, text) and made each row's text twice.
-- Needs SELECT on every table; query_to_xml runs the per-table query inside this statement.
SELECT coalesce(json_object_agg(t.name, json_build_object('rows', t.rows, 'sha256', t.sha256)
                                ORDER BY t.name), '{}')
FROM (
  SELECT s.name,
         (xpath('/row/n/text()', s.result))[1]::text::bigint AS rows,
         (xpath('/row/h/text()', s.result))[1]::text AS sha256
  FROM (
    SELECT format('%I.%I', n.nspname, c.relname) AS name,
           query_to_xml(format(
             'SELECT count(*) AS n, encode(sha256(convert_to(coalesce('
             'string_agg(r, E''\n'' ORDER BY k, r), ''''), ''UTF8'')), ''hex'') AS h '
             'FROM (SELECT chosen.upkeep_row::text AS r, chosen.k FROM ('
             'SELECT ROW(upkeep_sample_row.*) AS upkeep_row, '
             'md5(%L || ROW(upkeep_sample_row.*)::text) AS k '
             'FROM %I.%I AS upkeep_sample_row ORDER BY 2 LIMIT %s) AS chosen) AS sampled',
             :'upkeep_seed', n.nspname, c.relname, :upkeep_rows), false, true, '') AS result
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
  ) AS s
) AS t;
