-- Stale admin accounts: users holding the 'admin' role who have not logged in for more than
-- Not a check: the demo's defect query (upkeep.demo.database), for the demo's schema only;
-- the weekly review's referential audit finds orphans in every database.
-- 365 days (or never did, on an account older than that). One row per account.
-- An unused account with full access is an open door: review it with the monthly security review
-- before it is disabled or its role revoked.
-- Limits: only the role named 'admin' counts; other roles with wide rights need their own check.
-- Timestamps must be stored as SQLite writes them, 'YYYY-MM-DD HH:MM:SS' in UTC, since they are
-- compared as text.
SELECT u.id AS user_id, u.username, u.last_login_at, ur.granted_at
FROM users AS u
JOIN user_roles AS ur ON ur.user_id = u.id
JOIN roles AS r ON r.id = ur.role_id
WHERE r.name = 'admin'
  AND (
    u.last_login_at < datetime('now', '-365 days')
    OR (u.last_login_at IS NULL AND u.created_at < datetime('now', '-365 days'))
  )
ORDER BY u.id;
