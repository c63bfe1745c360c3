"""Responsible for how the PostgreSQL engine runs libpq's client tools: only the configured
connection, the password through a private 0600 passfile (never a command line, never a child's
environment, never an error message), string literals read as the SQL standard reads them in
every session, and a psql session that keeps a transaction open while other tools run."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from upkeep import secrets
from upkeep.backup.engines.interface import EngineError
from upkeep.config import Database
from upkeep.evidence.in_progress import process_alive
from upkeep.redact import marker, scrub_text

__all__ = [
    "SESSION_OPTIONS",
    "LibpqEnvironment",
    "PsqlSession",
    "libpq_environment",
    "psql_session",
]

PASSFILE_PREFIX = "upkeep-pgpass-"
# libpq settings that would send a tool to another server or another password than configured.
_OVERRIDDEN_ENV = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
)
# Options every session starts with (PGOPTIONS: before any statement, and above what the
# database or role sets). A database owner may set standard_conforming_strings off (ALTER
# DATABASE ... SET); a backslash in a quoted literal would then escape its closing quote, and the
# rest of the text would run as SQL, or as a psql command (`\!` runs a shell).
SESSION_OPTIONS = "-c standard_conforming_strings=on"


@dataclass(frozen=True)
class LibpqEnvironment:
    """The environment of one batch of libpq tool runs, and the password to scrub from output."""

    env: dict[str, str]
    password: str | None
    reference: str | None

    def scrub(self, text: str) -> str:
        if not self.password or self.reference is None:
            return text
        # scrub_text skips very short values (they would match by chance in long artifacts);
        # in a tool's error message every occurrence of the password must go.
        return scrub_text(text, {self.reference: self.password}).replace(
            self.password, marker(self.reference)
        )


@contextmanager
def libpq_environment(database: Database) -> Iterator[LibpqEnvironment]:
    """The environment for libpq tools: our connection only, the password in a passfile (and not
    in the variable the config's `env:NAME` reads it from)."""
    password = _password(database)
    hidden = (*_OVERRIDDEN_ENV, *_password_variable(database))
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    env["PGAPPNAME"] = "upkeep-backup"
    # The caller's own options stay; ours come last, and the last setting of a name wins.
    env["PGOPTIONS"] = " ".join(filter(None, (env.get("PGOPTIONS"), SESSION_OPTIONS)))
    if password is None:
        yield LibpqEnvironment(env, None, None)
        return
    private = _private_folder()
    passfile = private / "pgpass"
    try:
        descriptor = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            # Only this one password is in the file, so any host/port/database may use it.
            handle.write(f"*:*:*:*:{_passfile_escape(password)}\n")
        env["PGPASSFILE"] = str(passfile)
        yield LibpqEnvironment(env, password, database.password)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _private_folder() -> Path:
    """A new folder (0700: ours alone) in the system's temporary folder for one passfile, named
    after this process: `upkeep-pgpass-<pid>-<random>`. A process killed while its tools ran
    could not remove its folder, and that folder holds a password: the folders of this user's
    processes that are gone are removed first."""
    temporary = Path(tempfile.gettempdir())
    with suppress(OSError):
        for left in temporary.glob(f"{PASSFILE_PREFIX}*"):
            pid = left.name.removeprefix(PASSFILE_PREFIX).partition("-")[0]
            with suppress(OSError):
                status = left.lstat()
                if (
                    pid.isascii()
                    and pid.isdigit()
                    and stat.S_ISDIR(status.st_mode)  # a link (anyone's) is never followed
                    and status.st_uid == os.getuid()
                    and not process_alive(int(pid))
                ):
                    shutil.rmtree(left, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{PASSFILE_PREFIX}{os.getpid()}-"))


def _password(database: Database) -> str | None:
    reference = database.password
    if reference is None:
        return None
    try:
        return secrets.resolve(reference)
    except secrets.SecretError as exc:
        raise EngineError(f"database {database.name!r}: password {exc}") from None


def _password_variable(database: Database) -> tuple[str, ...]:
    """The environment variable the password reference names (`env:NAME`), if it names one."""
    match = secrets.REFERENCE.match(database.password or "")
    return (match["env"],) if match is not None and match["env"] else ()


def _passfile_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


class PsqlSession:
    """One psql process fed statements on stdin, read back line by line (unaligned, no headers).

    Keeps a transaction open across several statements while other processes (pg_dump) run.
    """

    def __init__(self, proc: subprocess.Popen[str], stderr: IO[bytes]) -> None:
        self._proc = proc
        self._stderr = stderr

    def send(self, sql: str) -> None:
        assert self._proc.stdin is not None
        with suppress(BrokenPipeError):  # psql exited: the next read_line reports why
            self._proc.stdin.write(sql)
            self._proc.stdin.flush()

    def read_line(self) -> str | None:
        """The next line psql printed, or None when it exited (an error, with ON_ERROR_STOP)."""
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        return line.rstrip("\n") if line else None

    def finish(self) -> tuple[int, str]:
        """Close psql's input, wait for it; return its exit code and what it wrote to stderr."""
        with suppress(BrokenPipeError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        code = self._proc.wait()
        self._stderr.seek(0)
        return code, self._stderr.read().decode(errors="replace")


@contextmanager
def psql_session(cmd: list[str], env: dict[str, str]) -> Iterator[PsqlSession]:
    """A running psql; on an error inside the block it is killed (its transaction abandoned)."""
    with tempfile.TemporaryFile() as stderr:  # a file, not a pipe: it never fills up and blocks
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            encoding="utf-8",  # what the session asks the server for (client_encoding)
            errors="replace",
        )
        session = PsqlSession(proc, stderr)
        try:
            yield session
        except BaseException:
            proc.kill()
            raise
        finally:
            session.finish()
