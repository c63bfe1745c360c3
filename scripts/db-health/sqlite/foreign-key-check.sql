-- Foreign-key violations as SQLite itself reports them, per child table and parent.
-- Check: rows referring to a missing parent, as PRAGMA foreign_key_check counts them
-- Warn: 1 violating row
-- Fail: 1000 violating rows
-- Value: value (the total of violating rows)
-- Why: SQLite enforces declared foreign keys only on connections that turn them on
-- (`PRAGMA foreign_keys = ON`) and never rechecks rows already there; this is SQLite's own
-- count, next to the referential audit's per-relation count with sample keys.
-- Limits: declared foreign keys only (logical relations: the audit); a foreign key whose parent
-- key is not unique stops the check with "foreign key mismatch", reported as this check failing.
-- By hand: sqlite3 FILE "PRAGMA foreign_key_check"
SELECT "table" AS child, parent, count(*) AS violations, sum(count(*)) OVER () AS value
FROM pragma_foreign_key_check
GROUP BY "table", parent
ORDER BY violations DESC;
