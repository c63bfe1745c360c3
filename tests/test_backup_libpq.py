"""How the PostgreSQL engine hands libpq's tools the password: a passfile in a private folder of
the system's temporary folder, removed afterwards, and removed by a later run when the process
that wrote it was killed first (no server needed: nothing here connects)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from upkeep.backup.engines.libpq import libpq_environment
from upkeep.config import Database


def test_a_passfile_folder_left_by_a_process_that_is_gone_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    killed = tmp_path / f"upkeep-pgpass-{int(ended.stdout)}-a1b2c3"  # its process is gone
    killed.mkdir(mode=0o700)
    (killed / "pgpass").write_text("*:*:*:*:an-old-password\n")
    running = tmp_path / f"upkeep-pgpass-{os.getpid()}-d4e5f6"  # another batch of this process
    running.mkdir(mode=0o700)
    older = tmp_path / "upkeep-pgpass-xf5zs3rg"  # no process id in its name: left alone
    older.mkdir(mode=0o700)
    secret = tmp_path / "pg-password"
    secret.write_text("s3cret\n")
    database = Database(name="pg", engine="postgresql", dbname="app", password=f"file:{secret}")

    with libpq_environment(database) as libpq:
        passfile = Path(libpq.env["PGPASSFILE"])
        assert passfile.parent.name.startswith(f"upkeep-pgpass-{os.getpid()}-")
        assert passfile.read_text() == "*:*:*:*:s3cret\n"
        assert oct(passfile.parent.stat().st_mode & 0o777) == "0o700"

    assert not killed.exists() and not passfile.parent.exists()
    assert running.exists() and older.exists()


def test_the_variable_holding_the_password_is_not_passed_to_the_tools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UPKEEP_TEST_DB_PASSWORD", "s3cret-in-env")
    monkeypatch.setenv("UPKEEP_TEST_OTHER", "kept")
    database = Database(
        name="pg", engine="postgresql", dbname="app", password="env:UPKEEP_TEST_DB_PASSWORD"
    )
    with libpq_environment(database) as libpq:
        assert "UPKEEP_TEST_DB_PASSWORD" not in libpq.env
        assert libpq.env["UPKEEP_TEST_OTHER"] == "kept"
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(dict(os.environ))"],
            env=libpq.env,
            capture_output=True,
            text=True,
        )
        assert "UPKEEP_TEST_DB_PASSWORD" not in child.stdout
        assert "s3cret-in-env" not in child.stdout
        assert Path(libpq.env["PGPASSFILE"]).read_text() == "*:*:*:*:s3cret-in-env\n"


def test_every_session_forces_standard_string_literals_after_the_callers_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PGOPTIONS", "-c standard_conforming_strings=off -c work_mem=8MB")
    database = Database(name="pg", engine="postgresql", dbname="app")
    with libpq_environment(database) as libpq:
        assert libpq.env["PGOPTIONS"] == (
            "-c standard_conforming_strings=off -c work_mem=8MB -c standard_conforming_strings=on"
        )
