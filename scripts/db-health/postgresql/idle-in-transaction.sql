-- Sessions that opened a transaction and then went idle in it.
-- Check: longest time a session has sat idle in a transaction
-- Warn: 300 s
-- Fail: 3600 s
-- Unit: s
-- Value: value (the longest idle time in seconds)
-- Why: an idle transaction holds its locks and its snapshot: VACUUM cannot remove rows newer
-- than it, so every table bloats while it waits. Usually an application bug (a missing
-- commit); `idle_in_transaction_session_timeout` ends such sessions. `SELECT
-- pg_terminate_backend(pid)` ends one now.
-- Limits: client sessions idle for more than a minute; the last statement is not shown.
SELECT pid, usename AS "user", application_name AS application,
       round(extract(epoch FROM now() - state_change)) AS value
FROM pg_stat_activity
WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')
  AND backend_type = 'client backend' AND state_change < now() - interval '1 minute'
ORDER BY value DESC;
