-- Statements that have been running for a long time, on this server.
-- Check: age of the longest-running statement
-- Warn: 300 s
-- Fail: 3600 s
-- Unit: s
-- Value: value (the longest-running statement's age in seconds)
-- Why: a long statement holds locks and keeps VACUUM from removing dead rows everywhere.
-- Find who runs it (the pid, user and application below) before cancelling it:
-- `SELECT pg_cancel_backend(pid)`.
-- Limits: client sessions only, this review's own session left out; the statement's text is
-- not shown (it may hold personal data): look it up by pid in pg_stat_activity.
SELECT pid, usename AS "user", application_name AS application,
       round(extract(epoch FROM now() - query_start)) AS value
FROM pg_stat_activity
WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND query_start < now() - interval '1 minute'
ORDER BY value DESC;
