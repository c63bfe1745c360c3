-- Stale pending orders: orders still 'pending' whose row has not changed for more than 90 days.
-- Not a check: the demo's defect query (upkeep.demo.database), for the demo's schema only;
-- the weekly review's referential audit finds orphans in every database.
-- One row per order. A payment that never completed, or a status update that got lost: the
-- order owner decides whether to cancel them.
-- Limits: relies on the application updating updated_at on every change; timestamps must be
-- stored as SQLite writes them, 'YYYY-MM-DD HH:MM:SS' in UTC, since they are compared as text.
SELECT id AS order_id, customer_id, total_cents, created_at, updated_at
FROM orders
WHERE status = 'pending'
  AND updated_at < datetime('now', '-90 days')
ORDER BY id;
