"""Tests for upkeep.report: what a runbook records, and that its messages are masked first."""

from __future__ import annotations

import pytest

from upkeep import report


def test_check_and_finding_messages_are_masked_in_the_record_and_the_printed_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    check = report.check(
        "service:api",
        "fail",
        message="GET https://ops:s3cr3tpw@api.example.com/health: 401 for ops@example.com",
    )
    found = report.finding("orders:card", "order 7 paid with 4111 1111 1111 1111, token=abc123")
    printed = capsys.readouterr().out
    assert check["message"] == (
        "GET https://ops:«basic-auth-credentials»@api.example.com/health: 401 for «email»"
    )
    assert found["message"] == "order 7 paid with «card», token=«token»"
    for value in ("s3cr3tpw", "ops@example.com", "4111 1111", "abc123"):
        assert value not in printed
    assert "«card»" in printed and "«email»" in printed


def test_names_keys_and_clean_messages_are_recorded_as_given() -> None:
    check = report.check("disk:/", "ok", value=12.5, limit=80, unit="%", message="9.1 GiB free")
    assert (check["name"], check["message"]) == ("disk:/", "9.1 GiB free")
    found = report.finding("log:app:1a2b3c4d", "3 x timeout after <N>s", severity="info")
    assert (found["key"], found["message"]) == ("log:app:1a2b3c4d", "3 x timeout after <N>s")


def test_a_clearance_and_a_sticky_finding_are_recorded_for_the_runner() -> None:
    done = report.cleared("orphans:orders", "0 left; mail a@example.org")
    assert done == {
        "kind": "cleared",
        "key": "orphans:orders",
        "message": "0 left; mail «email»",
    }
    assert report.finding("log:a:1", "boom", severity="fail", sticky=True)["sticky"] is True
    assert "sticky" not in report.finding("log:a:2", "boom")


def test_values_are_printed_in_human_units(capsys: pytest.CaptureFixture[str]) -> None:
    report.check("cleaning:total", "ok", value=1_440_000, limit=2 << 20, unit="B")
    report.metric("service_latency_ms", 12, unit="ms")
    printed = capsys.readouterr().out
    assert "[OK  ] cleaning:total: 1.4 MiB (limit 2.0 MiB)" in printed  # was `1.44e+06B (...)`
    assert "metric service_latency_ms = 12 ms" in printed


def test_a_summary_is_one_masked_line_for_the_runner(capsys: pytest.CaptureFixture[str]) -> None:
    said = report.summary("removed 12 entries,\n  freeing 1.4 MiB; mailed ops@example.com")
    assert said == {
        "kind": report.SUMMARY,
        "text": "removed 12 entries, freeing 1.4 MiB; mailed «email»",
    }
    assert f"[SUM ] {said['text']}" in capsys.readouterr().out
    assert report.summary("x" * 1000)["text"] == "x" * (report.SUMMARY_CHARS - 1) + "…"


def test_a_results_message_is_cut_at_its_length() -> None:
    """A command's whole output put in a message went into every list, table and alert."""
    long = "line of a log\n" * 1000
    cut = long[: report.MESSAGE_CHARS - 1] + "…"  # the mark says it was cut
    assert report.check("apt", "fail", message=long)["message"] == cut
    assert len(report.finding("apt:held", long)["message"]) == report.MESSAGE_CHARS
    assert len(report.cleared("apt:held", long)["message"]) == report.MESSAGE_CHARS
