"""Alerts: when a target is told (worse, recovered, reminders), what a message says (the failing
checks, the triage table's first action, who is on call, the run page), real delivery through
apprise to a local HTTP receiver and a local SMTP server, the local inbox, a failed delivery
retried, and no secret in any message or output."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers.project import REPO, Project

from upkeep.alerts.decide import Told, decide
from upkeep.alerts.triage import first_action, triage_rows
from upkeep.records import Status

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ON = frozenset({Status.FAIL, Status.ERROR})
CANARY = "s3cr3t-canary-7d1f0a"  # a token in the receiver's URL, and a secret parameter


# --- when a target is told ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "previous", "told", "expected"),
    [
        (Status.OK, None, None, None),
        (Status.FAIL, None, None, "worse"),  # a first run that fails
        (Status.FAIL, Status.OK, None, "worse"),
        (Status.FAIL, Status.WARN, None, "worse"),  # warn does not alert this target
        (Status.ERROR, Status.FAIL, Told("r0", "worse", NOW), "worse"),  # worse than before
        (Status.FAIL, Status.FAIL, Told("r0", "worse", NOW - timedelta(hours=1)), None),
        (Status.FAIL, Status.FAIL, Told("r0", "worse", NOW - timedelta(hours=4)), "reminder"),
        (Status.FAIL, Status.ERROR, Told("r0", "worse", NOW - timedelta(hours=1)), None),
        (Status.FAIL, Status.FAIL, None, "reminder"),  # failing, and nobody was ever told
        (Status.OK, Status.FAIL, Told("r0", "worse", NOW), "recovered"),
        (Status.WARN, Status.FAIL, Told("r0", "reminder", NOW), "recovered"),
        (Status.OK, Status.FAIL, None, None),  # nobody was told it failed
        (Status.OK, Status.OK, Told("r0", "recovered", NOW), None),
        (Status.FAIL, Status.FAIL, Told("r1", "worse", NOW - timedelta(hours=5)), "reminder"),
        (Status.FAIL, Status.FAIL, Told("r1", "worse", NOW - timedelta(minutes=5)), None),
    ],
)
def test_a_target_is_told_when_it_got_worse_recovered_or_stays_failing(
    status: Status, previous: Status | None, told: Told | None, expected: str | None
) -> None:
    assert decide(ON, "r1", status, previous, told, timedelta(hours=4), NOW) == expected


def test_without_reminders_a_failing_runbook_is_told_once() -> None:
    told = Told("r0", "worse", NOW - timedelta(days=3))
    assert decide(ON, "r1", Status.FAIL, Status.FAIL, told, None, NOW) is None


def test_the_first_action_comes_from_the_row_naming_the_check() -> None:
    rows = triage_rows(REPO / "runbooks" / "daily" / "backup.ipynb")
    row = first_action(rows, "backup:orders:restore")
    assert row is not None
    assert row.first_action.startswith("delete nothing;")
    assert row.escalate_to.startswith("database owner")
    pieces = first_action(rows, "backup-store:pieces")
    assert pieces is not None and pieces.escalate_to == "platform on-call"
    assert first_action(rows, "backup:orders:something-else") is None


# --- real delivery ----------------------------------------------------------------------------


class _Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[tuple[str, dict]] = []
        self.failing = False


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.server.failing:
            self.send_response(500)
        else:
            self.server.posts.append((self.path, json.loads(body)))
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Mailbox]]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


PROBE_CELLS = [
    (
        "markdown",
        "# Probe\n\n## Triage\n\n| check | what it means | first action | escalate to |\n"
        "|---|---|---|---|\n"
        "| `probe:<thing>` fails | the thing is broken | restart the **thing** service |"
        " **ops on-call** |\n",
    ),
    (
        "code",
        "from upkeep import report\nfrom upkeep.secrets import resolve\n"
        "report.check('probe:disk', outcome, message=f'disk said {resolve(token)}')\n"
        "report.check('probe:other', 'ok', message='fine')",
    ),
]


def _alerting_project(make_project, tmp_path: Path, receiver: _Receiver, smtp_port: int) -> Project:
    url_file = tmp_path / "mail-url"
    url_file.write_text(
        f"mailto://127.0.0.1:{smtp_port}?from=upkeep@example.org&to=ops@example.org&mode=insecure\n"
    )
    project = make_project(
        f"""\
        version: 1
        timezone: Europe/Berlin
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        alerts:
          remind_every: 4h
          site_url: https://ops.example.org/upkeep
          targets:
            - {{name: chat, url: 'env:CHAT_URL', schedule: ops-oncall}}
            - {{name: mail, url: 'file:{url_file}'}}
            - {{name: inbox, inbox: alerts-inbox, statuses: [warn, fail, error]}}
        """
    )
    (project.root / "oncall.yml").write_text(
        "schedules:\n  - name: ops-oncall\n    layers:\n      - {name: solo, people: [ana],"
        " start: '2026-01-05 09:00'}\n"
    )
    project.add_runbook(
        "probe",
        PROBE_CELLS,
        params='outcome = "ok"\ntoken = "env:PROBE_TOKEN"\n',
        meta={"parameters": {"token": {"secret": True}}},
    )
    return project


def _mail_text(mail) -> str:
    return "".join(
        part.get_payload(decode=True).decode()
        for part in mail.walk()
        if part.get_content_type() == "text/plain"
    )


def _env(receiver: _Receiver) -> dict[str, str]:
    host, port = receiver.server_address[:2]
    return {"CHAT_URL": f"json://{host}:{port}/hook/{CANARY}", "PROBE_TOKEN": CANARY}


def _inbox(project: Project) -> list[dict]:
    folder = project.root / "alerts-inbox"
    return (
        [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
        if folder.exists()
        else []
    )


@pytest.mark.slow
def test_targets_are_told_when_a_runbook_fails_and_when_it_recovers_and_never_twice(
    make_project, tmp_path: Path, receiver: _Receiver, smtp: tuple[int, _Mailbox]
) -> None:
    port, mailbox = smtp
    project = _alerting_project(make_project, tmp_path, receiver, port)
    env = _env(receiver)

    first = project.upkeep("run", "probe", env=env)
    assert first.code == 0, first.text
    assert receiver.posts == [] and mailbox.messages == [] and _inbox(project) == []

    failed = project.upkeep("run", "probe", "-p", "outcome=fail", env=env)
    assert failed.code == 1, failed.text
    for target in ("chat", "mail", "inbox"):
        assert f"upkeep: alert: told {target} that probe got worse" in failed.err
    told = [
        json.loads(line) for line in (project.evidence / "ledger.jsonl").read_text().splitlines()
    ]
    decisions = [line["decision"] for line in told if "decision" in line]
    reasons = {decision["reason"] for decision in decisions if decision["type"] == "notification"}
    assert "told inbox that probe got worse (was OK)" in reasons  # the name once, not twice
    [(path, post)] = receiver.posts
    assert path == f"/hook/{CANARY}"
    assert post["title"] == "[FAIL] probe got worse (was OK)"
    body = post["message"]
    run_id = project.records()[-1]["run_id"]
    month = run_id[:4] + "/" + run_id[4:6]
    assert f"run {run_id}" in body
    assert "- FAIL probe:disk: disk said" in body and "probe:other" not in body
    assert "First action: restart the thing service" in body
    assert "Escalate to: ops on-call" in body
    assert "On call: ana" in body
    assert f"Run page: https://ops.example.org/upkeep/runs/{month}/{run_id}/" in body
    [(recipients, mail)] = mailbox.messages
    assert recipients == ["ops@example.org"]
    assert mail["Subject"] == "[FAIL] probe got worse (was OK)"
    assert "First action: restart the thing service" in _mail_text(mail)
    [inboxed] = _inbox(project)
    assert (inboxed["kind"], inboxed["status"], inboxed["run_id"]) == ("worse", "fail", run_id)

    again = project.upkeep("run", "probe", "-p", "outcome=fail", env=env)
    assert again.code == 1 and "upkeep: alert:" not in again.err  # reminded in 4 h, not now
    assert len(receiver.posts) == 1 and len(mailbox.messages) == 1

    recovered = project.upkeep("run", "probe", env=env)
    assert recovered.code == 0
    assert [p["title"] for _, p in receiver.posts][-1] == "[OK] probe recovered (was FAIL)"
    assert mailbox.messages[-1][1]["Subject"] == "[OK] probe recovered (was FAIL)"
    assert [m["kind"] for m in _inbox(project)] == ["worse", "recovered"]

    # Every message sent is a record in the ledger, which still verifies.
    ledger = [
        json.loads(line) for line in (project.evidence / "ledger.jsonl").read_text().splitlines()
    ]
    sent = [line["decision"] for line in ledger if line.get("kind") == "record"]
    assert [(d["details"]["target"], d["details"]["kind"]) for d in sent] == [
        ("chat", "worse"),
        ("mail", "worse"),
        ("inbox", "worse"),
        ("chat", "recovered"),
        ("mail", "recovered"),
        ("inbox", "recovered"),
    ]
    assert sent[0]["details"]["on_call"] == "ana"
    assert project.upkeep("verify").code == 0

    # No secret anywhere: not the token in the receiver's URL, not the secret parameter.
    every_text = [first.text, failed.text, again.text, recovered.text]
    every_text += [json.dumps(p) for _, p in receiver.posts]
    every_text += [m.as_string() for _, m in mailbox.messages]
    every_text += [p.read_text(errors="replace") for p in project.evidence_files()]
    every_text += [json.dumps(m) for m in _inbox(project)]
    assert not [text for text in every_text[1:] if CANARY in text.replace(f"/hook/{CANARY}", "")]
    assert all(CANARY not in text for text in every_text[:4])


@pytest.mark.slow
def test_a_failed_delivery_is_said_recorded_and_retried_without_the_url(
    make_project, tmp_path: Path, receiver: _Receiver, smtp: tuple[int, _Mailbox]
) -> None:
    port, _ = smtp
    project = _alerting_project(make_project, tmp_path, receiver, port)
    env = _env(receiver)
    receiver.failing = True
    failed = project.upkeep("run", "probe", "-p", "outcome=fail", env=env)
    assert failed.code == 1  # the run's own exit code: the delivery does not change it
    assert (
        "upkeep: alerts: not delivered: chat: the service behind env:CHAT_URL did not accept it"
        in failed.err
    )
    assert CANARY not in failed.text
    ledger = [
        json.loads(line) for line in (project.evidence / "ledger.jsonl").read_text().splitlines()
    ]
    records = [line["decision"] for line in ledger if line.get("kind") == "record"]
    assert [(d["type"], d["details"]["target"]) for d in records] == [
        ("notification-failed", "chat"),
        ("notification", "mail"),
        ("notification", "inbox"),
    ]
    assert CANARY not in json.dumps(ledger)

    receiver.failing = False
    retried = project.upkeep("alerts", "send", env=env)
    assert retried.code == 0, retried.text
    assert "told chat that probe got worse" in retried.out
    assert "mail" not in retried.out  # delivered the first time: not sent twice
    [(_, post)] = receiver.posts
    assert post["title"] == "[FAIL] probe got worse"  # the first run: nothing before it
    assert project.upkeep("alerts", "send", env=env).out.strip() == "nothing to send"


def test_a_reminder_goes_out_once_the_interval_has_passed(make_project, tmp_path: Path) -> None:
    from upkeep.alerts import alert
    from upkeep.config import load_config
    from upkeep.evidence import EvidenceStore

    project = make_project(
        """\
        version: 1
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        alerts:
          remind_every: 30m
          targets:
            - {name: inbox, inbox: alerts-inbox}
        """
    )
    _ledger_with_runs(project, [Status.OK, Status.FAIL])
    config = load_config(str(project.config))
    store = EvidenceStore(config.evidence_dir)
    start = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    assert [s.kind for s in alert(config, store, start)] == ["worse"]
    assert alert(config, store, start + timedelta(minutes=29)) == []
    assert [s.kind for s in alert(config, store, start + timedelta(minutes=30))] == ["reminder"]
    assert alert(config, store, start + timedelta(minutes=45)) == []
    assert [m["kind"] for m in _inbox(project)] == ["worse", "reminder"]
    assert "[FAIL] probe is still failing (was OK)" in [m["title"] for m in _inbox(project)]


def _ledger_with_runs(project: Project, statuses: list[Status]) -> None:
    """Runs of `probe` with these statuses, published through the evidence API."""
    from upkeep.evidence import EvidenceStore
    from upkeep.records import Check, RunbookRef, RunRecord

    store = EvidenceStore(project.evidence)
    for index, status in enumerate(statuses):
        started = datetime(2026, 12, 4, 3, index, tzinfo=UTC)
        record = RunRecord(
            run_id=f"{started:%Y%m%dT%H%M%SZ}-probe-{index:04x}",
            runbook=RunbookRef("probe", "Probe", "runbooks/daily/probe.ipynb"),
            status=status,
            started_at=started,
            ended_at=started + timedelta(seconds=5),
            as_of=started,
            checks=(Check("probe:disk", status),),
        )
        store.publish(store.new_staging(record.run_id), record)


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        (
            "alerts:\n  targets:\n    - {name: chat, url: 'json://example.org/hook/abc'}\n",
            "alerts.targets[0].url: expected a secret reference such as env:UPKEEP_ALERT_URL",
        ),
        (
            "alerts:\n  targets:\n    - {name: chat}\n",
            "alerts.targets[0]: expected exactly one of url",
        ),
        (
            "alerts:\n  targets:\n    - {name: chat, inbox: x, statuses: [ok]}\n",
            "alerts.targets[0].statuses: expected statuses among warn, fail, error",
        ),
        (
            "alerts:\n  targets:\n    - {name: chat, inbox: x, schedule: nights}\n",
            "alerts.targets[0].schedule: no on-call schedule 'nights'; expected one of: none",
        ),
        ("alerts:\n  remind_every: sometimes\n", "alerts.remind_every: expected a period"),
        ("alerts:\n  site_url: ops.example.org\n", "alerts.site_url: expected the published"),
    ],
)
def test_a_malformed_alerts_section_is_refused_naming_the_key(
    make_project, alerts: str, message: str
) -> None:
    project = make_project("version: 1\nrunbooks_dir: runbooks\n" + alerts)
    result = project.upkeep_in_process("check")
    assert result.code == 2
    assert message in result.err
    assert "example.org/hook/abc" not in result.err  # a literal URL is not echoed


def test_the_shipped_config_has_a_local_target_that_names_who_is_on_call() -> None:
    from upkeep.config import load_config

    config = load_config(str(REPO / "upkeep.yml"))
    [target] = config.alerts.targets
    assert target.inbox is not None and target.url is None
    assert target.schedule in {s.name for s in config.oncall.schedules}
