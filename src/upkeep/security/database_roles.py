"""Responsible for the database part of the permission inventory: the roles, role memberships
and table privileges of a configured database, read over the database review's read-only
connection (`upkeep.dbreview.connect`). PostgreSQL's are read from `pg_roles`,
`pg_auth_members` and the tables' ACLs (`pg_class.relacl`, readable by any role); a SQLite
database has no roles, so its application's own grants table (the demo's `role_grants`) is read
when it has one."""

from __future__ import annotations

from upkeep.config import Database
from upkeep.dbreview.connect import connect
from upkeep.dbreview.interface import ReviewConnection
from upkeep.dbreview.sqlite import SQLiteReview

__all__ = ["SQLITE_GRANTS_TABLE", "database_roles"]

SQLITE_GRANTS_TABLE = "role_grants"

_PG_ROLES = """
SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls
FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname
"""
_PG_MEMBERS = """
SELECT r.rolname AS role, m.rolname AS member, a.admin_option
FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
WHERE r.rolname NOT LIKE 'pg\\_%' ORDER BY 1, 2
"""
_PG_GRANTS = """
SELECT coalesce(g.rolname, 'PUBLIC') AS grantee, n.nspname AS table_schema,
       c.relname AS table_name, a.privilege_type, a.is_grantable
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) AS a
LEFT JOIN pg_roles g ON g.oid = a.grantee
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND a.grantee <> c.relowner
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
ORDER BY 1, 2, 3, 4
"""
_ATTRIBUTES = (
    ("rolsuper", "superuser"),
    ("rolcreaterole", "createrole"),
    ("rolcreatedb", "createdb"),
    ("rolcanlogin", "login"),
    ("rolreplication", "replication"),
    ("rolbypassrls", "bypassrls"),
)


def database_roles(database: Database, timeout_s: float) -> dict[str, str]:
    """`role:NAME` -> its attributes, `member:ROLE:MEMBER`, `grant:GRANTEE:TABLE:PRIVILEGE`;
    QueryError when the database cannot be read."""
    with connect(database, timeout_s) as connection:
        if isinstance(connection, SQLiteReview):
            return _sqlite_grants(connection)
        return _postgresql_roles(connection)


def _postgresql_roles(connection: ReviewConnection) -> dict[str, str]:
    found: dict[str, str] = {}
    for row in connection.rows(_PG_ROLES):
        attributes = [word for column, word in _ATTRIBUTES if _true(row[column])]
        found[f"role:{row['rolname']}"] = " ".join(attributes) or "nologin"
    for row in connection.rows(_PG_MEMBERS):
        found[f"member:{row['role']}:{row['member']}"] = (
            "with admin option" if _true(row["admin_option"]) else "member"
        )
    for row in connection.rows(_PG_GRANTS):
        key = f"grant:{row['grantee']}:{row['table_schema']}.{row['table_name']}"
        found[f"{key}:{row['privilege_type']}"] = (
            "grantable" if _true(row["is_grantable"]) else "granted"
        )
    return found


def _sqlite_grants(connection: ReviewConnection) -> dict[str, str]:
    tables = connection.rows(
        f"SELECT name FROM sqlite_master WHERE type = 'table' AND name = '{SQLITE_GRANTS_TABLE}'"
    )
    if not tables:
        return {}
    rows = connection.rows(
        f"SELECT role, privilege, object FROM {SQLITE_GRANTS_TABLE} ORDER BY role, object"
    )
    return {f"grant:{r['role']}:{r['object']}:{r['privilege']}": "granted" for r in rows}


def _true(value: object) -> bool:
    return value is True or value in ("t", "true", 1)
