-- Orphaned orders: orders whose customer_id names a customer that does not exist.
-- Not a check: the demo's defect query (upkeep.demo.database), for the demo's schema only;
-- the weekly review's referential audit finds orphans in every database.
-- One row per orphaned order, with the missing customer's id.
-- Why they exist: SQLite declares foreign keys but enforces them only on connections that run
-- `PRAGMA foreign_keys = ON`; a customer deleted by hand, or by a client that never turned the
-- pragma on, leaves its orders behind. `PRAGMA foreign_key_check(orders)` reports the same rows.
-- Limits: an order with a NULL customer_id is not counted: NULL refers to nothing, and the
-- schema's NOT NULL forbids it anyway.
SELECT o.id AS order_id, o.customer_id AS missing_customer_id, o.status, o.created_at
FROM orders AS o
LEFT JOIN customers AS c ON c.id = o.customer_id
WHERE o.customer_id IS NOT NULL AND c.id IS NULL
ORDER BY o.id;
