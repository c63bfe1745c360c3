"""What several commands read the same way (upkeep.cli.options): the name of a person put on
record with `--by`, `--author`, `--owner` or $UPKEEP_AUTHOR is refused with exit 2, and nothing
recorded, when it is empty or holds a control character; an absent one is the login name. A
reason put on record (`--reason`, a log entry's TEXT) is refused the same way when longer than
2,000 characters or holding a control or bidirectional character other than a newline. A path
given empty is refused, not read as the current folder."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta

import pytest
from helpers.project import CHECK_OK, Project

from upkeep.evidence import EvidenceStore

CONFIG = """\
version: 1
timezone: UTC
evidence_dir: evidence
state_dir: state
runbooks_dir: runbooks
alerts:
  targets:
    - {name: inbox, inbox: alerts-inbox}
escalation:
  critical: [probe]
  fail:
    levels:
      - {page: ana, targets: [inbox], wait: 30m}
support:
  channels: {email: help@example.org}
  severities:
    P3: {response: 4h, resolution: 5d, clock: always}
"""
RUN_ID = "20261201T030000Z-probe-0001"


@pytest.fixture
def project(make_project) -> Project:
    """A project with the runbook `probe` and one failing run of it in the evidence."""
    from upkeep.records import Check, RunbookRef, RunRecord, Status

    made = make_project(CONFIG)
    made.add_runbook("probe", [CHECK_OK])
    store = EvidenceStore(made.evidence)
    started = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    record = RunRecord(
        run_id=RUN_ID,
        runbook=RunbookRef("probe", "Probe", "runbooks/daily/probe.ipynb"),
        status=Status.FAIL,
        started_at=started,
        ended_at=started + timedelta(seconds=5),
        as_of=started,
        checks=(Check("probe:disk", Status.FAIL),),
    )
    store.publish(store.new_staging(record.run_id), record)
    return made


# Each command that puts a person's name on record, with the option that names them.
COMMANDS = {
    "silence add": (
        ("silence", "add", "runbook", "probe", "--until", "1d", "--reason", "x"),
        "--author",
    ),
    "log add": (("log", "add", "grew the volume", "--run", RUN_ID), "--by"),
    "docs reviewed": (("docs", "reviewed", "probe"), "--by"),
    "ack": (("ack", "alert:probe", "--reason", "x"), "--by"),
    "incident open": (("incident", "open", "checkout 502", "--severity", "P3"), "--author"),
    "backlog set owner": (
        ("backlog", "set", "BL-00000000", "--state", "done", "--by", "dana", "--reason", "x"),
        "--owner",
    ),
    "backlog set by": (
        ("backlog", "set", "BL-00000000", "--state", "done", "--reason", "x"),
        "--by",
    ),
}
BAD_NAMES = {
    "a newline": "ana\nroot approved everything",
    "an escape": "ana\x1b[2J",
    "a bidi override": "ana\u202egnp.exe",
}


def _decisions(project: Project) -> list:
    return EvidenceStore(project.evidence).decisions()


@pytest.mark.parametrize("bad", list(BAD_NAMES), ids=list(BAD_NAMES))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_name_with_a_control_character_is_refused_and_nothing_recorded(
    project: Project, command: str, bad: str
) -> None:
    args, option = COMMANDS[command]
    result = project.upkeep_in_process(*args, option, BAD_NAMES[bad])
    assert result.code == 2, result.text
    assert f"{option}: expected a name on one line without control characters" in result.err
    assert _decisions(project) == []


@pytest.mark.parametrize("command", ["silence add", "ack", "incident open", "log add"])
@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_name_given_is_refused_not_replaced_by_the_login_name(
    project: Project, command: str, empty: str
) -> None:
    args, option = COMMANDS[command]
    result = project.upkeep_in_process(*args, option, empty)
    assert result.code == 2, result.text
    assert f"{option}: expected a name, got nothing" in result.err
    assert _decisions(project) == []


def test_upkeep_author_with_a_newline_is_refused(project: Project) -> None:
    args, _ = COMMANDS["silence add"]
    result = project.upkeep_in_process(*args, env={"UPKEEP_AUTHOR": "ana\nroot"})
    assert result.code == 2, result.text
    assert "$UPKEEP_AUTHOR: expected a name on one line" in result.err
    assert _decisions(project) == []


def test_each_command_records_a_good_name(project: Project) -> None:
    # So that each refusal above is of the name alone.
    for command, (args, option) in COMMANDS.items():
        if not command.startswith("backlog"):
            result = project.upkeep_in_process(*args, option, "ana")
            assert result.code == 0, (command, result.text)
    assert {entry.decision.author for entry in _decisions(project)} == {"ana"}


def test_without_a_name_the_author_is_upkeep_author_else_the_login_name(project: Project) -> None:
    args, _ = COMMANDS["silence add"]
    assert project.upkeep_in_process(*args, env={"UPKEEP_AUTHOR": " ana "}).code == 0
    assert project.upkeep_in_process(*args, env={"UPKEEP_AUTHOR": ""}).code == 0
    authors = [entry.decision.author for entry in _decisions(project)]
    assert authors == ["ana", getpass.getuser()]


# Each command that puts a reason on record: its arguments, the reason where "{}" is.
REASON_COMMANDS = {
    "ack": ("ack", "alert:probe", "--by", "ana", "--reason", "{}"),
    "log add": ("log", "add", "{}", "--run", RUN_ID, "--by", "ana"),
    "backlog set": (
        "backlog",
        "set",
        "BL-00000000",
        "--state",
        "done",
        "--by",
        "ana",
        "--reason",
        "{}",
    ),
    "approve": ("approve", RUN_ID, "--by", "ana", "--reason", "{}"),
    "silence add": ("silence", "add", "runbook", "probe", "--until", "1d", "--reason", "{}"),
    "silence expire": ("silence", "expire", "SIL-00000000", "--reason", "{}"),
    "docs reviewed": ("docs", "reviewed", "probe", "--by", "ana", "--reason", "{}"),
    "baseline accept": ("baseline", "accept", RUN_ID, "--by", "ana", "--reason", "{}"),
    "incident update": ("incident", "update", "INC-20261201-0000", "--reason", "{}"),
    "incident open": ("incident", "open", "{}", "--severity", "P3"),
}
BAD_REASONS = {
    "an escape": ("ok\x1b[2J", "U+001B at character 3"),
    "a bidi override": ("see \u202eexe.txt", "U+202E at character 5"),
    "a carriage return": ("done\rnothing done", "U+000D at character 5"),
    "a NUL": ("a\x00b", "U+0000 at character 2"),
}


def _reason_args(command: str, reason: str) -> list[str]:
    return [reason if arg == "{}" else arg for arg in REASON_COMMANDS[command]]


def _option(command: str) -> str:
    return {"log add": "TEXT", "incident open": "TITLE"}.get(command, "--reason")


@pytest.mark.parametrize("bad", list(BAD_REASONS), ids=list(BAD_REASONS))
@pytest.mark.parametrize("command", list(REASON_COMMANDS))
def test_a_reason_with_a_control_or_bidi_character_is_refused_and_nothing_recorded(
    project: Project, command: str, bad: str
) -> None:
    reason, where = BAD_REASONS[bad]
    result = project.upkeep_in_process(*_reason_args(command, reason))
    assert result.code == 2, result.text
    assert (
        f"{_option(command)}: expected text without control or bidirectional characters "
        f"(lines separated by plain newlines), got {where}"
    ) in result.err
    assert reason not in result.err  # named, not shown: an escape would act on the terminal
    assert _decisions(project) == []


@pytest.mark.parametrize("command", list(REASON_COMMANDS))
def test_a_reason_over_2000_characters_is_refused_and_nothing_recorded(
    project: Project, command: str
) -> None:
    # 100,000 characters went into one ledger line, growing it fourfold.
    result = project.upkeep_in_process(*_reason_args(command, "x" * 2001))
    assert result.code == 2, result.text
    assert f"{_option(command)}: expected at most 2000 characters, got 2001" in result.err
    assert _decisions(project) == []


@pytest.mark.parametrize("command", ["ack", "log add", "silence add", "docs reviewed"])
def test_a_reason_of_2000_characters_on_several_lines_is_recorded(
    project: Project, command: str
) -> None:
    reason = "first line\nsecond line\t" + "x" * 1977
    assert len(reason) == 2000
    result = project.upkeep_in_process(*_reason_args(command, f"  {reason} "))
    assert "U+0009" in result.err and result.code == 2  # a tab is a control character too
    reason = reason.replace("\t", " ")
    result = project.upkeep_in_process(*_reason_args(command, f"  {reason} "))
    assert result.code == 0, result.text
    [entry] = _decisions(project)
    assert entry.decision.reason == reason


@pytest.mark.parametrize(
    "args",
    [
        ("review", "--plots", ""),
        ("schedule", "export", "cron", "-o", ""),
        ("site", "build", "--site-dir", ""),
        ("new", "disk-report", "--dir", ""),
        ("verify", "--fleet", ""),
    ],
)
def test_an_empty_path_is_refused_not_read_as_the_current_folder(
    project: Project, args: tuple[str, ...]
) -> None:
    # `schedule export cron -o ""` wrote upkeep.crontab into the current folder.
    before = sorted(project.root.iterdir())
    result = project.upkeep(*args)
    assert result.code == 2, result.text
    assert "expected a path, got an empty one ('')" in result.err
    assert sorted(project.root.iterdir()) == before


@pytest.mark.parametrize("name", ["علی\u200cزاده", "👩\u200d💻 on call"])
def test_names_that_need_a_zero_width_joiner_or_non_joiner_are_taken(name: str) -> None:
    # A Persian surname needs the non-joiner, an emoji sequence the joiner: neither hides or
    # reorders anything, unlike the bidirectional overrides, which stay refused.
    from upkeep.cli.options import person_name

    assert person_name(name, "--by") == name
    with pytest.raises(Exception, match="without control characters"):
        person_name(f"{name}\u202e", "--by")


def test_an_incident_title_is_one_line(project: Project) -> None:
    result = project.upkeep_in_process("incident", "open", "checkout\n502", "--severity", "P3")
    assert result.code == 2, result.text
    assert "TITLE: expected one line" in result.err
    assert _decisions(project) == []
