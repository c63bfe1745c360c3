-- Orphaned role grants: rows of user_roles whose user_id names a user that does not exist.
-- Not a check: the demo's defect query (upkeep.demo.database), for the demo's schema only;
-- the weekly review's referential audit finds orphans in every database.
-- One row per grant, with the missing user's id and the role it still grants.
-- Why they matter: a user deleted without revoking their roles leaves grants that take effect
-- again if the id is ever reused; material for the access review as well as for data hygiene.
-- SQLite enforces the declared foreign key only on connections that run
-- `PRAGMA foreign_keys = ON`; `PRAGMA foreign_key_check(user_roles)` reports the same rows.
-- Limits: grants of a role that does not exist (role_id) are a different check, not this one.
SELECT ur.user_id AS missing_user_id, ur.role_id, r.name AS role, ur.granted_at
FROM user_roles AS ur
LEFT JOIN users AS u ON u.id = ur.user_id
LEFT JOIN roles AS r ON r.id = ur.role_id
WHERE u.id IS NULL
ORDER BY ur.user_id, ur.role_id;
