"""pip-audit's JSON read back (recorded outputs of pip-audit 2.10 in tests/data/updates/), its
command line per target, and real pip-audit runs against a local advisory folder and against an
advisory source that does not answer."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from upkeep.config.updates import PythonTarget, UpdatesSettings
from upkeep.updates.pip_audit import (
    AuditError,
    audit,
    audit_command,
    audit_environment,
    parse_audit_json,
)

DATA = Path(__file__).parent / "data" / "updates"
REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "demo" / "updates"


def test_a_recorded_lock_file_audit_is_read_with_ids_aliases_and_fixes() -> None:
    result = parse_audit_json((DATA / "pip-audit-lock-file.json").read_text())
    assert [(p.name, p.version) for p in result.packages] == [
        ("jinja2", "3.1.5"),
        ("markupsafe", "3.0.2"),
        ("requests", "2.32.4"),
        ("idna", "3.10"),
    ]
    [vuln] = result.vulnerabilities
    assert (vuln.package, vuln.version, vuln.fix_versions) == ("jinja2", "3.1.5", ("3.1.6",))
    assert vuln.ids == {"CVE-2025-27516", "GHSA-CPWX-VRP4-4PXQ"}
    assert vuln.description.startswith("Jinja sandbox breakout")


def test_a_recorded_virtualenv_audit_lists_every_installed_package() -> None:
    text = (DATA / "pip-audit-virtualenv.json").read_text()
    result = parse_audit_json(text)
    assert len(result.packages) == len(json.loads(text)["dependencies"]) > 50
    assert result.vulnerabilities == ()


def test_skipped_packages_are_kept_with_the_reason() -> None:
    # pip-audit's form for a package it could not audit (as its JSON formatter writes it).
    text = json.dumps(
        {
            "dependencies": [
                {"name": "myapp", "skip_reason": "Dependency not found on PyPI"},
                {"name": "idna", "version": "3.10", "vulns": []},
            ],
            "fixes": [],
        }
    )
    result = parse_audit_json(text)
    assert result.skipped == (("myapp", "Dependency not found on PyPI"),)
    assert [p.name for p in result.packages] == ["idna"]


@pytest.mark.parametrize("text", ["", "Traceback (most recent call last):", "[]", '{"x": 1}'])
def test_anything_but_pip_audit_json_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_audit_json(text)


def test_the_command_line_per_target(tmp_path: Path) -> None:
    lock = PythonTarget("app", requirements=tmp_path / "req.lock")
    command = audit_command(lock, "http://127.0.0.1:9/v1/query", tmp_path)
    assert command[-4:] == ["-r", str(tmp_path / "req.lock"), "--no-deps", "--disable-pip"]
    assert command[command.index("-s") + 1] == "osv"
    assert command[command.index("-f") + 1] == "json"
    # The URL (a mirror's may carry credentials) goes in the environment, never on argv.
    assert not any("127.0.0.1" in part for part in command)
    env = audit_environment("https://u:p@mirror/v1/query")
    assert env["PIP_AUDIT_OSV_URL"] == "https://u:p@mirror/v1/query"
    default = audit_command(lock, None, tmp_path)
    assert "-s" not in default  # pip-audit's own default service


@pytest.mark.slow
def test_a_real_audit_against_the_demo_advisory_folder() -> None:
    settings = UpdatesSettings(advisory_dir=DEMO / "advisories", timeout_s=120)
    result = audit(PythonTarget("demo", requirements=DEMO / "requirements.lock"), settings)
    assert [(v.package, min(v.ids)) for v in result.vulnerabilities] == [
        ("jinja2", "CVE-2025-27516")
    ]
    # The jinja2 advisory fixed in 3.1.3 and the requests one fixed in 2.32.4 do not apply.
    assert len(result.packages) == 4


@pytest.mark.slow
def test_an_advisory_source_that_does_not_answer_is_an_error_naming_it(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/v1/query"
    settings = UpdatesSettings(osv_url=url, timeout_s=120)
    with pytest.raises(AuditError) as caught:
        audit(PythonTarget("demo", requirements=DEMO / "requirements.lock"), settings)
    assert caught.value.unreachable
    assert f"could not reach the OSV service {url}" in str(caught.value)


@pytest.mark.slow
def test_an_unpinned_requirement_is_an_error_about_the_target(tmp_path: Path) -> None:
    lock = tmp_path / "req.txt"
    lock.write_text("jinja2>=3\n")
    settings = UpdatesSettings(advisory_dir=DEMO / "advisories", timeout_s=120)
    with pytest.raises(AuditError) as caught:
        audit(PythonTarget("loose", requirements=lock), settings)
    assert not caught.value.unreachable
    assert f"failed on requirements file {lock}" in str(caught.value)


@pytest.mark.slow
def test_the_line_pip_audit_cannot_parse_is_not_quoted(tmp_path: Path) -> None:
    # `requirements` may name any file (/etc/shadow was tried): pip-audit quotes the line it
    # could not parse, and that went into the check message, and so into the evidence.
    lock = tmp_path / "req.txt"
    lock.write_text("idna==3.10\nroot:$6$Hh8vQ2sLk9xYz$:20228:0:99999:7:::\n")
    settings = UpdatesSettings(advisory_dir=DEMO / "advisories", timeout_s=120)
    with pytest.raises(AuditError) as caught:
        audit(PythonTarget("shadow", requirements=lock), settings)
    message = str(caught.value)
    assert f"requirement file {lock} contains invalid specifier at line 2" in message
    assert "Hh8vQ2sLk9xYz" not in message and "root:" not in message


@pytest.mark.slow
def test_the_default_service_unreachable_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without an advisory folder or OSV URL pip-audit asks PyPI; a proxy that does not answer
    (a closed loopback port: no internet is touched) stands for a machine without the network."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    settings = UpdatesSettings(timeout_s=120)
    with pytest.raises(AuditError) as caught:
        audit(PythonTarget("demo", requirements=DEMO / "requirements.lock"), settings)
    assert caught.value.unreachable
    assert "could not reach pip-audit's default service (PyPI's vulnerability API)" in str(
        caught.value
    )
