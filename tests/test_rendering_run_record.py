"""upkeep.rendering.run_record: one set of rules for showing a run record, in the report and on
the site's run page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from upkeep.records import Check, Finding, RunbookRef, RunRecord, Severity, Status
from upkeep.rendering.run_record import badge, duration, environment, number, when, worst_first

STARTED = datetime(2026, 11, 27, 2, 15, tzinfo=UTC)


def test_a_status_is_a_word_with_a_class_never_a_colour_alone() -> None:
    assert badge(Status.FAIL) == '<span class="uk-status uk-fail">FAIL</span>'
    assert badge(Severity.INFO) == '<span class="uk-status uk-info">INFO</span>'
    assert badge(None) == '<span class="uk-status uk-never">NEVER RUN</span>'


def test_numbers_durations_and_times_in_human_units_and_one_zone() -> None:
    assert number(87.1, "%") == "87.1%" and number(12, "") == "12" and number(None) == ""
    assert [duration(s) for s in (4.25, 185, 3725)] == ["4.2 s", "3 min 05 s", "1 h 02 min"]
    berlin = ZoneInfo("Europe/Berlin")
    assert when(STARTED, berlin) == "2026-11-27 03:15:00 CET"
    assert when(STARTED, UTC) == "2026-11-27 02:15:00 UTC"


def test_worst_first_keeps_the_recorded_order_among_equals() -> None:
    checks = [Check("a", Status.OK), Check("b", Status.FAIL), Check("c", Status.OK)]
    checks += [Check("d", Status.WARN)]
    assert [c.name for c in worst_first(checks)] == ["b", "d", "a", "c"]
    findings = [Finding("i", "x", Severity.INFO), Finding("f", "y", Severity.FAIL)]
    assert [f.key for f in worst_first(findings)] == ["f", "i"]


def test_the_sections_escape_everything_a_run_recorded() -> None:
    record = RunRecord(
        "run-1",
        RunbookRef("x", sha256="ab" * 32),
        Status.FAIL,
        STARTED,
        STARTED,
        STARTED,
        parameters={"token": "env:<b>T</b>"},
        secret_parameters=("token",),
        checks=(Check("<script>", Status.FAIL, message="<img onerror=1>"),),
    )
    template = (
        '{% import "run_record.html.j2" as r %}{{ r.checks(record.checks) }}'
        "{{ r.parameters(record) }}"
    )
    html = environment(UTC).from_string(template).render(record=record)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img onerror=1&gt;" in html
    assert "(secret: the reference, never the value)" in html
    assert re.search(r'<td><span class="uk-status uk-fail">FAIL</span></td><td>&lt;script', html)


def test_a_run_id_in_a_message_links_to_that_runs_folder_and_the_rest_stays_text() -> None:
    named = "20261101T000500Z-maintenance-review-1a2b"
    record = RunRecord(
        "20270101T000000Z-quarterly-review-0001",
        RunbookRef("quarterly-review"),
        Status.OK,
        STARTED,
        STARTED,
        STARTED,
        checks=(Check("q:reviews", Status.OK, message=f"drew on {named} <b>and</b> run-1"),),
        findings=(Finding("plan:x", f"seen in {named}", Severity.INFO),),
    )
    html = environment(UTC).get_template("run_record.html.j2").module
    checks, findings = str(html.checks(record.checks)), str(html.findings(record.findings))
    link = f'<a href="../../../2026/11/{named}/">{named}</a>'
    assert f"drew on {link} &lt;b&gt;and&lt;/b&gt; run-1" in checks
    assert f"seen in {link}" in findings
