"""Tests for upkeep.logs.excerpts: what one log line may show in evidence."""

from __future__ import annotations

import pytest

from upkeep.logs.excerpts import EXAMPLE_BYTES, LINE_HEAD_BYTES, cut_mark, shown_line

STAMP = "2026-11-16 02:15:00,123"


def test_a_short_line_is_shown_whole_with_its_secrets_masked() -> None:
    line = f"{STAMP} ERROR login for bob@example.com with password=hunter2\r".encode()
    assert shown_line(line, len(line)) == (
        f"{STAMP} ERROR login for «email» with password=«password»"
    )


def test_a_long_line_shows_a_few_hundred_bytes_and_how_long_it_was() -> None:
    line = (f"{STAMP} ERROR upstream sent " + "abc " * 500).encode()
    shown = shown_line(line[:LINE_HEAD_BYTES], len(line))
    assert shown.endswith(cut_mark(len(line))) and cut_mark(len(line)) == "…«cut: 2.0 KiB line»"
    assert len(shown.removesuffix(cut_mark(len(line))).encode()) <= EXAMPLE_BYTES
    assert shown.startswith(f"{STAMP} ERROR upstream sent abc abc")
    huge = 100 << 20
    assert shown_line(line[:LINE_HEAD_BYTES], huge).endswith("…«cut: 100.0 MiB line»")


@pytest.mark.parametrize(
    ("value", "shown_part"),
    [
        ("4111 1111 1111 1111", "card="),  # a card number's groups
        ("bob.jones@example.org", "user="),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.sig", "token="),
    ],
)
def test_a_value_split_by_the_cut_is_not_shown_in_part(value: str, shown_part: str) -> None:
    # Only the line's head was kept, and it ends inside the value: what remains of the value is
    # no longer recognisable as one, so it is dropped, not shown.
    line = f"ERROR failed {shown_part}{value} and more".encode()
    head = line[: line.index(value.encode()) + len(value) - 3]
    shown = shown_line(head, len(line) + 10_000)
    kept = shown.removesuffix(cut_mark(len(line) + 10_000))
    assert kept in ("ERROR failed", f"ERROR failed {shown_part}")  # `user=bob...` is one value


def test_the_cut_never_splits_a_marker() -> None:
    filler = "y" * (EXAMPLE_BYTES - 20)
    line = f"{filler} password=hunter2 and more words after it".encode()
    shown = shown_line(line, len(line))
    assert "«" not in shown.removesuffix(cut_mark(len(line)))
    assert shown.endswith(cut_mark(len(line)))


def test_ip_addresses_are_masked_in_examples_when_asked() -> None:
    line = b"WARNING failed login for 'bob' from 192.168.3.7"
    assert shown_line(line, len(line)).endswith("192.168.3.7")
    assert shown_line(line, len(line), ip_addresses=True).endswith("from «ip»")


def test_invalid_utf8_and_multibyte_text_are_cut_on_a_character() -> None:
    line = ("ERROR " + "é" * 400).encode() + b"\xff"
    shown = shown_line(line, len(line))
    text = shown.removesuffix(cut_mark(len(line)))
    assert text.startswith("ERROR éé") and len(text.encode()) <= EXAMPLE_BYTES
