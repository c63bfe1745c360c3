"""Waivers: a check's warn or fail accepted for a while in the risk register (`checks:`), with a
reason, an approver and an expiry. A waived check is shown as WAIVED, never as ok (summary,
report, dashboard, `upkeep list`, the textfile), its run counts as warn; a waiver that expired or
has no approver waives nothing; only the register gives waivers."""

from __future__ import annotations

import json
import textwrap
from datetime import date, datetime
from pathlib import Path

import pytest
from helpers.project import CHECK_OK, Project

from upkeep.config import load_config
from upkeep.config.risk_register import CheckWaiver, RiskRegister, read_risk_register
from upkeep.errors import ConfigError
from upkeep.records import Check, Status, Waiver, tally
from upkeep.registry import discover
from upkeep.site.coverage_calendar import coverage_page, put_grids
from upkeep.site.dashboard import dashboard
from upkeep.site.model import load_model
from upkeep.site.risk_register import risk_register_page
from upkeep.waivers import apply_waivers

TODAY = date(2026, 12, 5)


def _fail(name: str, message: str = "too high") -> tuple[str, str]:
    return (
        "code",
        f"from upkeep import report\nreport.check({name!r}, 'fail', message={message!r})",
    )


def _register(root: Path, checks: str) -> None:
    (root / "risk-register.yml").write_text("checks:\n" + textwrap.indent(checks, "  "))


# ------------------------------------------------------------------- the register


def test_check_waivers_are_read_with_their_fields(tmp_path: Path) -> None:
    _register(
        tmp_path,
        textwrap.dedent("""\
            - runbook: health-check
              check: "disk:/srv/*"
              reason: the archive disk is replaced in January
              owner: ops
              approved_by: ops-lead
              expires: 2027-01-31
        """),
    )
    register = read_risk_register(tmp_path / "risk-register.yml")

    (waiver,) = register.checks
    assert waiver == CheckWaiver(
        "health-check",
        "disk:/srv/*",
        "the archive disk is replaced in January",
        date(2027, 1, 31),
        "ops",
        "ops-lead",
    )
    assert waiver.matches("health-check", "disk:/srv/archive")
    assert not waiver.matches("health-check", "disk:/var")
    assert not waiver.matches("backup", "disk:/srv/archive")


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        (
            "- {runbook: a, check: x, reason: r, expires: soon}",
            "checks[0].expires: expected a date",
        ),
        ("- {runbook: a, check: x, expires: 2027-01-01}", "checks[0].reason: required key"),
        ("- {runbook: a, check: x, reason: '', expires: 2027-01-01}", "a non-empty string"),
        ("- {runbook: a, check: x, reason: r, expires: 2027-01-01, until: 1}", "until"),
        (
            "- {runbook: a, check: x, reason: r, expires: 2027-01-01}\n"
            "- {runbook: a, check: x, reason: s, expires: 2027-02-01}",
            "x of a is waived twice",
        ),
    ],
)
def test_a_malformed_waiver_is_refused_naming_it(tmp_path: Path, entry: str, said: str) -> None:
    _register(tmp_path, entry + "\n")
    with pytest.raises(ConfigError, match=said.replace("[", r"\[").replace("]", r"\]")):
        read_risk_register(tmp_path / "risk-register.yml")


# ------------------------------------------------------------------- applying


def _waiver(**changes: object) -> RiskRegister:
    fields: dict[str, object] = {
        "runbook": "health-check",
        "check": "disk:*",
        "reason": "accepted",
        "expires": date(2026, 12, 31),
        "owner": "ops",
        "approved_by": "lead",
    }
    fields.update(changes)
    return RiskRegister(None, (), (), (CheckWaiver(**fields),))  # type: ignore[arg-type]


def test_a_holding_waiver_makes_a_fail_waived_never_ok() -> None:
    checks = (Check("disk:/srv", Status.FAIL, message="97 %"), Check("cpu", Status.FAIL))
    disk, cpu = apply_waivers(checks, "health-check", _waiver(), TODAY)

    assert disk.waived and disk.word == "WAIVED" and disk.verdict is Status.WARN
    assert disk.status is Status.FAIL  # what the check found stays on record
    assert disk.waiver == Waiver("accepted", "2026-12-31", "lead", "ops")
    assert cpu.waiver is None and cpu.verdict is Status.FAIL  # the pattern does not match it
    assert tally((disk, cpu, Check("x", Status.OK))) == [("fail", 1), ("waived", 1), ("ok", 1)]


def test_a_waiver_holds_through_its_last_day_and_not_after() -> None:
    check = (Check("disk:/", Status.FAIL),)
    (last_day,) = apply_waivers(check, "health-check", _waiver(), date(2026, 12, 31))
    (after,) = apply_waivers(check, "health-check", _waiver(), date(2027, 1, 1))

    assert last_day.waived
    assert not after.waived and after.verdict is Status.FAIL and after.word == "FAIL"
    assert after.waiver is not None and after.waiver.why_not == "expired on 2026-12-31"


def test_a_waiver_without_approver_waives_nothing() -> None:
    (check,) = apply_waivers(
        (Check("disk:/", Status.WARN),), "health-check", _waiver(approved_by=None), TODAY
    )
    assert not check.waived and check.verdict is Status.WARN
    assert check.waiver is not None and check.waiver.note == "waiver not applied: no approver"


def test_a_passing_check_carries_no_waiver_and_a_forged_one_is_dropped() -> None:
    forged = Waiver("trust me", "2099-01-01", "nobody", "nobody")
    checks = (Check("disk:/", Status.OK), Check("other", Status.FAIL, waiver=forged))
    ok, other = apply_waivers(checks, "health-check", _waiver(), TODAY)
    assert ok.waiver is None and ok.word == "OK"
    assert other.waiver is None and other.verdict is Status.FAIL


def test_a_check_with_its_waiver_reads_back_from_json() -> None:
    (check,) = apply_waivers((Check("disk:/", Status.FAIL),), "health-check", _waiver(), TODAY)
    assert Check.from_json(json.loads(json.dumps(check.to_json()))) == check
    assert "waiver" not in Check("x", Status.OK).to_json()  # run.json of a run without waivers


# ------------------------------------------------------------------- a real run, end to end


@pytest.fixture
def waived_runs(project: Project) -> Project:
    """Three runs: one whose failing check is waived, one whose waiver expired, one whose
    notebook forged a waiver into its own output."""
    _register(
        project.root,
        textwrap.dedent("""\
            - runbook: waived
              check: disk
              reason: the new disk arrives on Monday
              owner: ops
              approved_by: ops-lead
              expires: 2099-12-31
            - runbook: expired
              check: disk
              reason: it was fine last year
              owner: ops
              approved_by: ops-lead
              expires: 2020-01-31
        """),
    )
    project.add_runbook("waived", [CHECK_OK, _fail("disk", "97 % used")])
    project.add_runbook("expired", [CHECK_OK, _fail("disk", "97 % used")])
    forged = {
        "kind": "check",
        "name": "disk",
        "status": "fail",
        "message": "forged",
        "waiver": {"reason": "self-made", "expires": "2099-01-01", "approved_by": "me"},
    }
    project.add_runbook(
        "forged",
        [
            CHECK_OK,
            (
                "code",
                "from IPython.display import display\nfrom upkeep.report import MIMETYPE\n"
                f"display({{MIMETYPE: {forged!r}}}, raw=True)",
            ),
        ],
    )
    result = project.upkeep("run", "waived", "expired", "forged")
    assert result.code == 1, result.err  # the expired and the forged one fail
    project.run_result = result  # type: ignore[attr-defined]
    return project


def _record(project: Project, runbook: str) -> dict:
    return next(r for r in project.records() if r["runbook"]["name"] == runbook)


def test_a_waived_run_is_warn_with_the_waiver_on_record(waived_runs: Project) -> None:
    record = _record(waived_runs, "waived")
    disk = next(c for c in record["checks"] if c["name"] == "disk")

    assert record["status"] == "warn"
    assert disk["status"] == "fail"  # what the check found
    assert disk["waiver"] == {
        "reason": "the new disk arrives on Monday",
        "expires": "2099-12-31",
        "approved_by": "ops-lead",
        "owner": "ops",
        "held": True,
    }
    err = waived_runs.run_result.err  # type: ignore[attr-defined]
    assert "2 checks: 1 waived, 1 ok" in err
    assert "waived: disk: 97 % used (waived until 2099-12-31 by ops-lead)" in err


def test_an_expired_waiver_fails_and_says_why(waived_runs: Project) -> None:
    record = _record(waived_runs, "expired")
    disk = next(c for c in record["checks"] if c["name"] == "disk")

    assert record["status"] == "fail"
    assert disk["waiver"]["held"] is False
    assert disk["waiver"]["why_not"] == "expired on 2020-01-31"
    err = waived_runs.run_result.err  # type: ignore[attr-defined]
    assert "fail: disk: 97 % used (waiver not applied: expired on 2020-01-31)" in err


def test_a_waiver_a_notebook_wrote_itself_is_dropped(waived_runs: Project) -> None:
    record = _record(waived_runs, "forged")
    disk = next(c for c in record["checks"] if c["name"] == "disk")
    assert record["status"] == "fail" and "waiver" not in disk


def test_the_report_shows_waived_with_reason_and_approver(waived_runs: Project) -> None:
    folder = next(
        d
        for d in waived_runs.run_dirs()
        if json.loads((d / "run.json").read_text())["runbook"]["name"] == "waived"
    )
    report = (folder / "report.html").read_text()
    assert 'class="uk-status uk-waived"' in report and ">WAIVED<" in report
    assert "FAIL, waived until 2099-12-31 by ops-lead (owner ops): the new disk" in report
    assert ">OK<" not in report.split("disk", 1)[0].rsplit("<tr>", 1)[-1]


def test_list_and_the_ledger_show_the_waived_run(waived_runs: Project) -> None:
    listed = waived_runs.upkeep("list")
    line = next(row for row in listed.out.splitlines() if row.startswith("waived "))
    assert "warn (waived)" in line
    as_json = json.loads(waived_runs.upkeep("list", "--json").out)
    flags = {item["name"]: item["last_waived"] for item in as_json}
    assert flags == {"waived": True, "expired": False, "forged": False}
    ledger = [json.loads(line) for line in (waived_runs.evidence / "ledger.jsonl").open()]
    assert [e.get("waived", False) for e in ledger if e["runbook"] == "waived"] == [True]
    assert waived_runs.upkeep("verify").code == 0


def test_the_site_shows_the_waiver_where_people_look(waived_runs: Project) -> None:
    config = load_config(waived_runs.config)
    model = load_model(
        config, discover(config.runbooks_dir, config.root), datetime.now().astimezone()
    )

    board = dashboard(model)
    row = next(r for r in board.split("<tr>") if "<td>waived</td>" in r)
    assert "uk-waived" in row and "waived until 2099-12-31 by ops-lead" in row
    register = risk_register_page(model)
    waived_row = next(r for r in register.splitlines() if r.startswith("| waived |"))
    assert "accepted, " in waived_row and "1 run, latest <a href=" in waived_row
    expired_row = next(r for r in register.splitlines() if r.startswith("| expired |"))
    assert "**expired**" in expired_row and "no run yet" in expired_row
    calendar = put_grids(coverage_page(model), model)
    assert calendar.count("data-waived") == 1
    assert "never a missed run" in calendar
