"""Hostile or mistaken input to upkeep.yml and the files read like it: one message naming what
was wrong and what was expected, exit 2, nothing run, nothing written, no traceback, and nothing
of a file that is not a config echoed back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.project import CHECK_OK, Project

from upkeep.config import load_config
from upkeep.errors import ConfigError


def _load(tmp_path: Path, text: str):
    path = tmp_path / "upkeep.yml"
    path.write_text(text)
    return load_config(path)


# ------------------------------------------------------------ folders that are files


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "evidence_dir: upkeep.yml\n",
            "evidence_dir: expected a folder of upkeep's own (made on the first run), got"
            " /PROJECT/upkeep.yml, a file",
        ),
        (
            "state_dir: upkeep.yml/state\n",
            "state_dir: expected a folder of upkeep's own (made on the first run), got"
            " /PROJECT/upkeep.yml/state, inside /PROJECT/upkeep.yml, which is a file",
        ),
        ("backup: {dir: upkeep.yml}\n", "backup.dir: expected a folder for the backup store"),
        (
            "log_backup: {dir: upkeep.yml}\n",
            "log_backup.dir: expected a folder for the log archives (made on the first archive),"
            " got /PROJECT/upkeep.yml, a file",
        ),
        ("site: {site_dir: upkeep.yml}\n", "site.site_dir: expected a folder for the built site"),
        (
            "alerts: {targets: [{name: ops, inbox: upkeep.yml}]}\n",
            "alerts.targets[0].inbox: expected a folder each alert is written into as a file",
        ),
    ],
)
def test_a_file_where_upkeep_writes_a_folder_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert f"{tmp_path / 'upkeep.yml'}: {message.replace('/PROJECT', str(tmp_path))}" in str(
        caught.value
    )


def test_an_evidence_dir_that_is_a_file_stops_run_before_anything_starts(project: Project) -> None:
    # It passed `upkeep check`; `run` then printed "started" and failed with exit 3.
    project.add_runbook("fine", [CHECK_OK])
    project.config.write_text("evidence_dir: upkeep.yml\nstate_dir: state\n")
    before = project.config.read_bytes()
    for command in (("check",), ("run", "fine")):
        result = project.upkeep(*command)
        assert result.code == 2, result.text
        assert "evidence_dir: expected a folder of upkeep's own" in result.err
        assert "started" not in result.text and "Traceback" not in result.text
    assert project.config.read_bytes() == before
    assert not (project.root / "state").exists()


# ------------------------------------------------------------ one mistake, one message


def test_a_wrong_version_is_one_problem_not_two(tmp_path: Path) -> None:
    # timezone was read after version, in one step: a refused version left it unread, and it
    # was reported a second time as "timezone: unknown key".
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "version: 2\ntimezone: Europe/Berlin\n")
    assert str(caught.value) == f"{tmp_path / 'upkeep.yml'}: version: expected 1, got 2 (int)"


# ------------------------------------------------------------ names: one printable line


@pytest.mark.parametrize(
    ("text", "where", "shown"),
    [
        (
            'services:\n  - {name: "web\\nFAKE OK", kind: tcp, host: h, port: 1}\n',
            "services[0].name",
            "'web\\nFAKE OK'",
        ),
        (
            'services:\n  - {name: "web\\e[2J", kind: process, process: x}\n',
            "services[0].name",
            "'web\\x1b[2J'",
        ),
        ('logs:\n  - {name: "app\\rok", path: a.log}\n', "logs[0].name", "'app\\rok'"),
        ('logs:\n  - {name: "app\\u202egol", path: a.log}\n', "logs[0].name", "'app\\u202egol'"),
        ('site: {name: "Ops\\tsite"}\n', "site.name", "'Ops\\tsite'"),
        (
            'alerts: {targets: [{name: "ops\\x85", inbox: inbox}]}\n',
            "alerts.targets[0].name",
            "'ops\\x85'",
        ),
    ],
)
def test_a_name_is_one_line_without_control_characters(
    tmp_path: Path, text: str, where: str, shown: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert str(caught.value) == (
        f"{tmp_path / 'upkeep.yml'}: {where}: expected one line of text without control"
        f" characters, got {shown} (str)"
    )


# ------------------------------------------------------------ files that are not configs

TOKEN = "ghp_R3alL00kingT0kenValue4242"
PASSWD = "".join(
    f"user{n}:x:{1000 + n}:{1000 + n}:User {n}:/home/user{n}:/bin/bash\n" for n in range(40)
)


def _readers():
    """Every reader of a YAML file a person names (--config, --fleet, oncall:, risk_register:,
    compliance.record_of_processing), as (name, read)."""
    from upkeep.config.fleet import read_fleet
    from upkeep.config.oncall import read_oncall
    from upkeep.config.record_of_processing import read_record_of_processing
    from upkeep.config.risk_register import read_risk_register

    return [
        ("config", load_config),
        ("fleet", read_fleet),
        ("oncall", lambda path: read_oncall(path, "UTC")),
        ("risk register", read_risk_register),
        ("record of processing", lambda path: read_record_of_processing(path, (), required=True)),
    ]


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (f"{TOKEN}\n", "a string (plain text, not YAML settings)"),
        (PASSWD, "a string (plain text, not YAML settings)"),
        (f"- {TOKEN}\n- {TOKEN}\n", "a list of 2 items"),
        (f"|\n  {TOKEN}\n  second\n", "a string of 2 lines (plain text, not YAML settings)"),
    ],
)
def test_a_file_that_is_not_a_mapping_is_named_never_shown(
    tmp_path: Path, content: str, kind: str
) -> None:
    # `--config ~/.token` printed the token; `--config /etc/passwd` 1.4 kB of the file.
    secret = tmp_path / "secret"
    secret.write_text(content)
    for name, read in _readers():
        with pytest.raises(ConfigError) as caught:
            read(secret)
        message = str(caught.value)
        assert message == (
            f"{secret}: top level: expected a mapping of settings (`key: value` lines), got {kind}"
        ), name
        assert TOKEN not in message and "user1" not in message, name


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (f"{TOKEN}: x: y\n", "line 1, column 33: mapping values are not allowed here"),
        (
            f"token: [{TOKEN}\n",
            "line 2, column 1: expected ',' or ']', but got '<stream end>' (while parsing a flow"
            " sequence from line 1)",
        ),
        (f"*{TOKEN}\n", "line 1, column 1: found undefined alias '…'"),
        (f"!{TOKEN} x\n", "line 1, column 1: could not determine a constructor for the tag '…'"),
        # With an apostrophe in it, Python quotes the tag with ": it was shown.
        (
            f"!<tag:{TOKEN}'s> x\n",
            "line 1, column 1: could not determine a constructor for the tag '…'",
        ),
        (f"a:\n\t{TOKEN}\n", "line 2, column 1: found character '\\t' that cannot start any"),
        (f'a: "\\q{TOKEN}"\n', "line 1, column 6: found unknown escape character 'q'"),
    ],
)
def test_a_yaml_error_names_the_place_without_quoting_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    # PyYAML's message quotes the line under its column mark: the token, from a token file.
    secret = tmp_path / "secret"
    secret.write_text(content)
    for name, read in _readers():
        with pytest.raises(ConfigError) as caught:
            read(secret)
        message = str(caught.value)
        assert message.startswith(f"{secret}: not valid YAML: {problem}"), (name, message)
        assert TOKEN not in message and "\n" not in message, name


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[" * 2000 + "]" * 2000, "line 2: values nested more than 64 levels deep; expected a"),
        ("{a: " * 2000 + "1" + "}" * 2000, "line 2: values nested more than 64 levels deep"),
        ("9" * 4400, "line 2: an integer of more than 4300 digits; expected a smaller number"),
        ("0x" + "f" * 4000, "line 2: an integer of more than 4300 digits"),
        (
            "!!int twelve",
            "line 2, column 14: not a valid integer; expected an integer such as 12, or the"
            " value in quotes (text)",
        ),
        (
            "2026-02-30",
            "line 2, column 14: not a valid date; expected a date that exists, such as 2026-01-31,",
        ),
        ("!!float 'ghp_x'", "line 2, column 14: not a valid number; expected a number such as"),
        # PyYAML fails on a match that is None: an AttributeError escaped, exit 3.
        ("!!timestamp ghp_notadate", "line 2, column 14: not a valid date; expected a date"),
        # A path holding a NUL passed `check`, then failed the run (ValueError, exit 3).
        (
            '"data/tmp\\0x"',
            "line 2, column 14: text holding a NUL character; expected text without one",
        ),
        ('["a", "b\\x00"]', "line 2, column 20: text holding a NUL character"),
    ],
)
def test_values_no_config_holds_are_an_error_not_a_traceback(
    project: Project, value: str, message: str
) -> None:
    # A RecursionError and a ValueError escaped the YAML error handling: exit 3, a traceback.
    project.add_runbook("fine", [CHECK_OK])
    project.config.write_text(f"version: 1\nextra: {{big: {value}}}\n")
    result = project.upkeep_in_process("check")
    assert result.code == 2
    assert result.err.startswith(f"upkeep: error: {project.config}: {message}")
    assert "ghp_" not in result.err
    assert not project.evidence.exists()


def test_the_command_line_does_not_echo_a_token_file_given_as_config(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(f"{TOKEN}\n")
    result = Project(tmp_path).upkeep("--config", str(token), "check")
    assert result.code == 2
    assert f"{token}: top level: expected a mapping of settings" in result.err
    assert TOKEN not in result.text and "Traceback" not in result.text


def test_a_symlink_loop_in_a_path_is_named_not_a_traceback(project: Project) -> None:
    # Path.resolve() raises RuntimeError on a loop (Python 3.11): exit 3, "internal error".
    loop_a, loop_b = project.root / "loop-a", project.root / "loop-b"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    project.config.write_text(f"version: 1\nevidence_dir: {loop_a}/evidence\n")
    result = project.upkeep_in_process("list")
    assert result.code == 2, result.text
    assert result.err == (
        f"upkeep: error: {project.config}: evidence_dir: {loop_a}/evidence is a symlink loop; "
        "expected a path that leads somewhere\n"
    )
    result = project.upkeep_in_process("--config", str(loop_a), "list")
    assert result.code == 2, result.text
    assert result.err == (
        f"upkeep: error: config file: {loop_a} is a symlink loop; expected a path that leads "
        "somewhere\n"
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "status: {start_grace_minutes: 1000000000000000000000000000000}",
            "status.start_grace_minutes: expected a number from 0 to 52704000, got 1e+30",
        ),
        (
            "status: {run_grace_minutes: 2000000000000}",
            "status.run_grace_minutes: expected a number from 0 to 52704000, got 2000000000000.0",
        ),
        (
            "alerts: {remind_every: 9999999999d}",
            "alerts.remind_every: expected a period such as 30m, 4h or 1d, or never, at most "
            "36600 days, got '9999999999d'",
        ),
        (
            "logs: [{name: app, path: app.log, first_scan: 99999999999d}]",
            "logs[0].first_scan: expected a window such as 24h, at most 36600 days",
        ),
    ],
)
def test_a_period_too_long_for_any_clock_is_refused_not_an_overflow(
    project: Project, setting: str, message: str
) -> None:
    # OverflowError escaped from timedelta on every command: exit 3, "internal error".
    project.add_runbook("fine", [CHECK_OK])
    project.config.write_text(f"version: 1\n{setting}\n")
    result = project.upkeep_in_process("list")
    assert result.code == 2, result.text
    assert result.err.startswith(f"upkeep: error: {project.config}: {message}"), result.err


def test_a_project_whose_path_is_not_utf8_is_refused_at_once(tmp_path: Path) -> None:
    # `check` said "no problems"; every run then failed in its kernel (UnicodeEncodeError) and
    # the site build with a traceback: paths go into evidence and pages as UTF-8.
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/nu\xffp"))
    folder.mkdir()
    (folder / "upkeep.yml").write_text("version: 1\n")
    result = Project(folder).upkeep("check")
    assert result.code == 2, result.text
    assert result.err == (
        f"upkeep: error: {tmp_path}/nu\\xffp/upkeep.yml: the project's path is not UTF-8; "
        "expected a path in UTF-8 (rename the folder)\n"
    )


def test_a_file_larger_than_any_config_is_refused_before_it_is_parsed(project: Project) -> None:
    # A 78 MB upkeep.yml took 27 s and 417 MB of memory for `upkeep list`.
    project.config.write_text("version: 1\nextra:\n" + "  - x\n" * 2_000_000)
    size = project.config.stat().st_size
    result = project.upkeep_in_process("list")
    assert result.code == 2, result.text
    assert result.err == (
        f"upkeep: error: {project.config}: {size:,} bytes; expected a config file of at most "
        "8 MiB\n"
    )
