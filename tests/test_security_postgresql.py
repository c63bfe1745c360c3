"""The security review's database part against a real PostgreSQL cluster (see pg_cluster.py):
roles, memberships and table grants read over the review's read-only connection, and a new
superuser, a new membership and a new grant each appearing as drift."""
# ruff: noqa: F811  (the session fixture is imported, then named by the tests that use it)

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.pg_cluster import PostgresServer

from upkeep.security.baseline import drift
from upkeep.security.database_roles import database_roles

pytestmark = pytest.mark.slow  # a real PostgreSQL cluster


def test_a_new_superuser_membership_and_grant_appear_as_drift(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dbname = f"security_{os.getpid()}"
    suffix = os.getpid()
    postgres_server.create_database(dbname)
    postgres_server.psql(
        f"CREATE TABLE orders (id integer PRIMARY KEY);\n"
        f"CREATE ROLE reporting_{suffix} NOLOGIN;\n"
        f"GRANT SELECT ON orders TO reporting_{suffix};\n",
        dbname=dbname,
    )
    database = postgres_server.database(dbname)
    before = {"database:pg": database_roles(database, 10)}
    assert before["database:pg"][f"role:reporting_{suffix}"] == "nologin"
    assert before["database:pg"][f"grant:reporting_{suffix}:public.orders:SELECT"] == "granted"
    assert "superuser" in before["database:pg"]["role:postgres"]
    assert not any(key.startswith("role:pg_") for key in before["database:pg"])

    postgres_server.psql(
        f"CREATE ROLE intruder_{suffix} LOGIN SUPERUSER;\n"
        f"GRANT reporting_{suffix} TO {postgres_server.role};\n"
        f"GRANT DELETE ON orders TO reporting_{suffix};\n",
        dbname=dbname,
    )
    try:
        after = {"database:pg": database_roles(database, 10)}
        again = {"database:pg": database_roles(database, 10)}
    finally:
        postgres_server.psql(
            f"DROP ROLE intruder_{suffix};\nREVOKE reporting_{suffix} FROM "
            f"{postgres_server.role};\nDROP DATABASE IF EXISTS {dbname};\n"
            f"DROP ROLE reporting_{suffix};",
            dbname="postgres",
        )
    found = {d.key: d for d in drift(before, after)}
    assert found[f"drift:database:pg:role:intruder_{suffix}"].change == "added"
    assert "superuser" in found[f"drift:database:pg:role:intruder_{suffix}"].after
    assert f"drift:database:pg:member:reporting_{suffix}:{postgres_server.role}" in found
    assert f"drift:database:pg:grant:reporting_{suffix}:public.orders:DELETE" in found
    assert len(found) == 3
    assert drift(after, again) == []  # read twice, unchanged: no drift
