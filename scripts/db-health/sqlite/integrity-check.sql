-- Integrity of the database file: SQLite's own check of every page, index and constraint.
-- Check: problems integrity_check reports (quick_check above 256 MiB)
-- Fail: 1 problem
-- Value: rows (one per problem SQLite reports; none when the file is sound)
-- Why: a damaged page is found here, while a backup from before the damage still exists.
-- Limits: files up to 256 MiB get the full `integrity_check`, which also checks that every
-- index matches its table; larger ones get `quick_check` (O(N) instead of O(N log N)), which
-- skips that comparison. Both read the whole file: budget for it on a busy disk.
-- By hand: sqlite3 FILE "PRAGMA integrity_check"
WITH size AS (SELECT page_count * page_size AS bytes FROM pragma_page_count, pragma_page_size)
SELECT integrity_check AS problem FROM pragma_integrity_check, size
WHERE size.bytes <= 268435456 AND integrity_check <> 'ok'
UNION ALL
SELECT quick_check AS problem FROM pragma_quick_check, size
WHERE size.bytes > 268435456 AND quick_check <> 'ok';
