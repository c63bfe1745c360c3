"""Responsible for what several commands read from the command line the same way: the
`upkeep` group's own options, which every command receives, a time given with `--at`, a path
that must not be empty, the name of a person put on record (`--by`, `--author`, `--owner`,
$UPKEEP_AUTHOR), and the reason put on record with it (`--reason`, a log entry's TEXT).
"""

from __future__ import annotations

import getpass
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from upkeep.errors import ParameterError, UpkeepError
from upkeep.plain_text import HIDDEN, is_utf8

if TYPE_CHECKING:
    from pathlib import Path

    from upkeep.config import Config


@dataclass(frozen=True)
class GlobalOptions:
    """The `upkeep` group's own options: where the config is (`--config`, $UPKEEP_CONFIG)."""

    config_path: str | None

    def load_config(self) -> Config:
        # Loaded by the command that needs it, so that `--help` reads no file.
        from upkeep.config import load_config

        return load_config(self.config_path)


class NonEmptyPath(click.Path):
    """click.Path that refuses an empty value: Path("") is the current folder, so `-o ""`
    would write there (or read from there) unasked."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value:
            self.fail("expected a path, got an empty one ('')", param, ctx)
        return super().convert(value, param, ctx)


FIRST_YEAR, LAST_YEAR = 1970, 9998
AUTHOR_ENV = "UPKEEP_AUTHOR"
# Control characters, and the invisible ones that reorder or hide text (bidi overrides,
# zero-width), as the runbook metadata refuses them (upkeep.registry).


def parse_at(at: str | None, config: Config, option: str = "--at") -> datetime:
    """The moment `--at` (or `option`) names, in the config's time zone when it names none; now
    without it. A moment outside the years 1970-9998, in UTC or in the config's time zone, is
    refused: schedules reckoned from it overflow."""
    from upkeep import schedule

    if at is None:
        return datetime.now(config.tz)
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"expected an ISO time such as 2026-12-01T03:00, got {at!r}", param_hint=option
        ) from None
    try:
        # Checked after the conversion: 9998-12-31T23:59-12:00 is already 9999 in UTC.
        local = schedule.localize(moment, config.tz)
        years = (local.year, local.astimezone(UTC).year)
    except OverflowError:  # the conversion itself left the years datetime can hold
        years = (0,)
    if not all(FIRST_YEAR <= year <= LAST_YEAR for year in years):
        raise click.BadParameter(
            f"expected a time in the years {FIRST_YEAR} to {LAST_YEAR}, got {at!r} (the year "
            f"is checked in UTC and in the configured time zone, {config.tz})",
            param_hint=option,
        )
    if moment.tzinfo is None:
        # A clock time the zone skips (the hour clocks go forward) names no moment: shown as
        # given, "02:30 CET" on a day Berlin went from 02:00 to 03:00, it was never true.
        existing = local.astimezone(UTC).astimezone(config.tz)
        if existing.replace(tzinfo=None) != moment:
            raise click.BadParameter(
                f"{at!r} does not exist in {config.tz}: the clocks went forward then; expected "
                f"a time that exists, such as {existing:%Y-%m-%dT%H:%M}",
                param_hint=option,
            )
    return local


def person_name(value: str, option: str) -> str:
    """A person's name given for the record with `option`, without its surrounding blanks.
    UpkeepError when it is blank or holds a control or invisible character: a newline in the
    ledger's `author` would read as a second line wherever the record is shown."""
    name = value.strip()
    if not name:
        raise UpkeepError(f"{option}: expected a name, got nothing")
    if HIDDEN.search(name):
        raise UpkeepError(
            f"{option}: expected a name on one line without control characters, got {value!r}"
        )
    return name


# A reason is one ledger line, read in full on the site and in `upkeep review`: a paragraph or
# two; details belong in a ticket it names. A 100,000-character reason grew the ledger fourfold.
REASON_LIMIT = 2000


def reason_text(value: str, option: str = "--reason") -> str:
    """A reason given for the record with `option`, without its surrounding blanks: at most
    REASON_LIMIT characters, its lines separated by plain newlines. UpkeepError (exit 2, before
    anything is recorded) for any other control character (an escape sequence, a carriage
    return) or a bidirectional or invisible mark (HIDDEN): each acts where the reason is shown.
    An empty reason is the caller's to refuse: some are optional."""
    text = value.strip()
    if len(text) > REASON_LIMIT:
        raise UpkeepError(
            f"{option}: expected at most {REASON_LIMIT} characters, got {len(text)}; "
            "keep the details elsewhere (a ticket) and name them"
        )
    if not is_utf8(text):
        raise UpkeepError(f"{option}: expected UTF-8 text, got bytes that are not UTF-8")
    bad = HIDDEN.search(text.replace("\n", " "))
    if bad:
        raise UpkeepError(
            f"{option}: expected text without control or bidirectional characters (lines "
            f"separated by plain newlines), got U+{ord(bad.group()):04X} at character "
            f"{bad.start() + 1}"
        )
    return text


def author_or_login(author: str | None, option: str = "--author") -> str:
    """Who decides: `option` as given, else $UPKEEP_AUTHOR, else the login name. A given name
    that is empty is refused (person_name), not replaced by the login name."""
    if author is not None:
        return person_name(author, option)
    if os.environ.get(AUTHOR_ENV):
        return person_name(os.environ[AUTHOR_ENV], f"${AUTHOR_ENV}")
    return getpass.getuser()


def refuse_unless_regular(output: Path, name: str = "--output") -> None:
    """An output that is there and not a regular file is refused (ParameterError, exit 2): a
    file is written whole and renamed into place, which would replace a symlink (not what it
    points to), a FIFO, or a device (as root, /dev/full became a file)."""
    from upkeep.regular_file import file_kind

    try:
        mode = os.lstat(output).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ParameterError(
            f"{name}: {output}: {exc.strerror}; expected a file to write"
        ) from None
    if not stat.S_ISREG(mode):
        raise ParameterError(
            f"{name}: {output} is {file_kind(mode)}; expected a regular file or a new path "
            "(it is replaced whole)"
        )
