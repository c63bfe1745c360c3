"""The security review's database part against a real PostgreSQL cluster (see pg_cluster.py):
roles, memberships and table grants read over the review's read-only connection, and a new
superuser, a new membership and a new grant each appearing as drift."""
# ruff: noqa: F811  (the session fixture is imported, then named by the tests that use it)

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest
from helpers.owner_traps import plant_owner_traps, spring_by_hand, sprung
from helpers.pg_cluster import PostgresServer
from helpers.project import REPO, Project

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


def test_the_runbook_reports_a_new_superuser_as_drift_and_accepts_it(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    server = postgres_server
    dbname = f"security_rb_{os.getpid()}"
    server.create_database(dbname)
    (tmp_path / "runbooks" / "monthly").mkdir(parents=True)
    shutil.copy(REPO / "runbooks/monthly/security-review.ipynb", tmp_path / "runbooks/monthly")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "etc/group").write_text("root:x:0:\n")
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent(f"""\
        version: 1
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        databases:
          - name: shop
            engine: postgresql
            host: {server.host}
            port: {server.port}
            dbname: {dbname}
            user: {server.role}
            password: file:{server.password_file}
        security:
          baseline: baseline.yml
          passwd: etc/passwd
          group: etc/group
          sudoers: []
          home_roots: []
          suid_roots: []
          world_writable_roots: []
          listening: false
          lynis: false
          databases: [shop]
        """)
    )
    project = Project(tmp_path)
    intruder = f"intruder_rb_{os.getpid()}"
    try:
        assert project.upkeep("run", "security-review").code == 0
        first = project.records()[-1]
        accepted = project.upkeep(
            "baseline", "accept", first["run_id"], "--by", "dba", "--reason", "first baseline"
        )
        assert accepted.code == 0, accepted.err
        server.psql(f"CREATE ROLE {intruder} LOGIN SUPERUSER;", dbname="postgres")
        assert project.upkeep("run", "security-review").code == 0
        record = project.records()[-1]
    finally:
        server.psql(f"DROP ROLE IF EXISTS {intruder};", dbname="postgres")
    checks = {c["name"]: c["status"] for c in record["checks"]}
    assert checks["security:database:shop"] == "ok"
    assert checks["security:drift"] == "warn"
    findings = {f["key"]: f["message"] for f in record["findings"]}
    assert "superuser" in findings[f"drift:database:shop:role:{intruder}"]
    assert [k for k in findings if k.startswith("drift:")] == [
        f"drift:database:shop:role:{intruder}"
    ]
    for path in project.evidence_files():
        assert server.password.encode() not in path.read_bytes(), path


def test_functions_the_database_owner_planted_never_run_as_the_superuser_reading_roles(
    postgres_server: PostgresServer,
) -> None:
    """The owner's `NOT LIKE` on a name comes before the built-in one (public first in the
    database's search path): run by the superuser it would make the owner a superuser."""
    dbname = f"security_traps_{os.getpid()}"
    postgres_server.create_database(dbname)
    owner = plant_owner_traps(postgres_server, dbname)

    roles = database_roles(postgres_server.superuser_database(dbname), 10)

    assert sprung(postgres_server, dbname, owner) == set()
    assert roles[f"role:{owner}"] == "nologin"
    # The trap is real: a superuser's session that searches public springs it.
    listed = "SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'"
    assert spring_by_hand(postgres_server, dbname, owner, listed) == {
        "superuser",
        "write",
        "program",
    }
