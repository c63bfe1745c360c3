"""`upkeep findings` and `upkeep ack` on a real evidence store (runs published as the runner
publishes them; no kernel needed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from helpers.project import CHECK_OK, Project
from test_findings import LOG, ORPHANS, run

from upkeep.evidence import EvidenceStore, verify


def _publish(project: Project, *records) -> None:
    store = EvidenceStore(project.evidence)
    for record in records:
        store.publish(store.new_staging(record.run_id), record)


def test_findings_lists_what_is_open_and_ack_closes_it_on_record(project: Project) -> None:
    _publish(
        project,
        run(0, LOG),
        run(0, ORPHANS, runbook="database-review"),
        run(1),  # no new log lines: the sticky log finding stays open
    )
    listed = project.upkeep_in_process("findings")
    assert listed.code == 0, listed.text
    lines = listed.out.splitlines()
    assert lines[0].split() == [
        "SEVERITY",
        "RUNBOOK",
        "KEY",
        "SINCE",
        "LAST",
        "SEEN",
        "SEEN",
        "FINDING",
    ]
    assert LOG.key in lines[1] and lines[1].startswith("FAIL")  # the most severe first
    assert ORPHANS.key in lines[2]

    acked = project.upkeep_in_process(
        "ack", LOG.key, "--reason", "upstream deploy at 02:00", "--author", "dana"
    )
    assert acked.code == 0, acked.text
    assert f"acknowledged {LOG.key} (health-check, open since" in acked.out and "dana" in acked.out
    still = json.loads(project.upkeep_in_process("findings", "--json").out)
    assert [f["key"] for f in still] == [ORPHANS.key]
    everything = json.loads(project.upkeep_in_process("findings", "--all", "--json").out)
    closed = next(f for f in everything if f["key"] == LOG.key)["closed"]
    assert (closed["how"], closed["by"], closed["reason"]) == (
        "acknowledged",
        "dana",
        "upstream deploy at 02:00",
    )
    report = verify(project.evidence)
    assert report.ok and report.decisions_checked == 1


def test_ack_refuses_what_is_not_an_open_finding_and_records_nothing(project: Project) -> None:
    _publish(project, run(0, LOG))
    refused = project.upkeep_in_process("ack", LOG.key, "log:app:nope", "--reason", "x")
    assert refused.code == 2
    assert "no open finding with key 'log:app:nope'" in refused.err
    empty = project.upkeep_in_process("ack", LOG.key, "--reason", "  ")
    assert empty.code == 2 and "--reason" in empty.err
    assert EvidenceStore(project.evidence).decisions() == []


def test_no_findings_is_said(project: Project) -> None:
    _publish(project, run(0))
    assert project.upkeep_in_process("findings").out.strip() == "no open findings"


@pytest.mark.slow
def test_real_runs_open_keep_and_clear_a_finding(project: Project) -> None:
    source = project.add_runbook(
        "orphan-review",
        [
            CHECK_OK,
            (
                "code",
                "from upkeep import report\n"
                "if mode == 'found':\n"
                "    report.finding('orphans:orders', '12 orphaned orders', sticky=True)\n"
                "elif mode == 'fixed':\n"
                "    report.cleared('orphans:orders', 'no orphan left')",
            ),
        ],
        params="mode: str = 'quiet'  # found, quiet or fixed",
    )
    assert source.is_file()
    for mode, still_open in (("found", True), ("quiet", True), ("fixed", False)):
        result = project.upkeep("run", "orphan-review", "-p", f"mode={mode}")
        assert result.code == 0, result.text
        listed = json.loads(project.upkeep_in_process("findings", "--all", "--json").out)
        assert [(f["key"], f["open"]) for f in listed] == [("orphans:orders", still_open)], mode
    assert listed[0]["closed"]["how"] == "cleared"
    assert listed[0]["closed"]["reason"] == "no orphan left"


def test_a_finding_that_would_reorder_the_terminal_is_shown_with_its_code_points(
    project: Project,
) -> None:
    """A right-to-left override in a finding made the rest of the line read backwards in a
    terminal (what a reader saw was not what it said)."""
    from test_findings import Finding, Severity

    sneaky = Finding("log:app:0badc0de", "user \u202enimda\u202c logged in", Severity.WARN)
    _publish(project, run(0, sneaky))
    listed = project.upkeep_in_process("findings")
    assert listed.code == 0, listed.text
    assert "user <U+202E>nimda<U+202C> logged in" in listed.out
    assert "\u202e" not in listed.out


def test_findings_json_gives_times_in_the_configured_zone_as_list_does(project: Project) -> None:
    # `list --json` said +01:00 and `findings --json` +00:00 for the same project.
    project.config.write_text(project.config.read_text().replace("UTC", "Europe/Berlin"))
    _publish(project, run(0, LOG))
    project.upkeep_in_process("ack", LOG.key, "--reason", "known", "--author", "dana")
    [found] = json.loads(project.upkeep_in_process("findings", "--all", "--json").out)
    times = [found["first_seen"], found["last_seen"], found["closed"]["at"]]
    assert all(datetime.fromisoformat(t).utcoffset() == timedelta(hours=1) for t in times), times
