-- Stale sessions: login sessions idle (last_seen_at) for more than 90 days.
-- Not a check: the demo's defect query (upkeep.demo.database), for the demo's schema only;
-- the weekly review's referential audit finds orphans in every database.
-- One row per session; the application should have expired them, so a count above zero means its
-- session cleanup does not run.
-- The session id is left out on purpose: it is the session's bearer token, and what a check
-- selects may end up in a report.
-- Limits: timestamps must be stored as SQLite writes them, 'YYYY-MM-DD HH:MM:SS' in UTC, since
-- they are compared as text.
SELECT user_id, created_at, last_seen_at
FROM sessions
WHERE last_seen_at < datetime('now', '-90 days')
ORDER BY last_seen_at;
