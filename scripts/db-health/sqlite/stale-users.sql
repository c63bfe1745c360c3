-- Stale user accounts: users who have not logged in for more than 365 days, including accounts
-- Not a check: the demo's defect query (upkeep.demo.database), for the demo's schema only;
-- the weekly review's referential audit finds orphans in every database.
-- created more than 365 days ago that never logged in (last_login_at NULL).
-- One row per account. Candidates for disabling after the owner's team confirms.
-- Limits: timestamps are compared as text, so they must be stored as SQLite writes them,
-- 'YYYY-MM-DD HH:MM:SS' in UTC (what datetime('now') returns); ISO text with a 'T' or a time-zone
-- offset, or Unix times stored as numbers, compare wrongly. 'now' is the database clock's, UTC.
SELECT id AS user_id, username, created_at, last_login_at
FROM users
WHERE last_login_at < datetime('now', '-365 days')
   OR (last_login_at IS NULL AND created_at < datetime('now', '-365 days'))
ORDER BY id;
