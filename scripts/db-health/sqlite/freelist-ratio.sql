-- Share of the file's pages that are free: space deleted rows left behind.
-- Check: share of free pages in the file
-- Warn: 25 %
-- Fail: 75 %
-- Unit: %
-- Value: value
-- Why: SQLite does not give freed pages back to the filesystem; a file that is mostly free
-- pages wastes disk and backup time. `VACUUM` (in a maintenance window: it rewrites the file and
-- locks it) or `PRAGMA auto_vacuum = INCREMENTAL` gives the space back.
-- Limits: cheap (reads the header only). By hand: sqlite3 FILE "PRAGMA freelist_count"
SELECT round(100.0 * f.freelist_count / max(p.page_count, 1), 2) AS value,
       f.freelist_count AS free_pages, p.page_count AS pages
FROM pragma_freelist_count AS f, pragma_page_count AS p;
