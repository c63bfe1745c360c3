"""Tests for upkeep.logs.grouping: the per-template tally, and its groups as evidence shows them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.logs import grouping
from upkeep.logs.grouping import LineLevel

STAMP = "2026-11-16 02:15:00,123"


BATCHES = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(list(LineLevel)),
            st.sampled_from(
                [
                    *("a 1", "a 22", "b 1", "c x", "d 0x1f", "e ab12cd", "f", "é 3"),
                    '1.2.3.4 - - [t] "GET /a/1 HTTP/1.1" 502 9',
                    '1.2.3.4 - - [t] "GET /a/22 HTTP/1.1" 504 9',
                ]
            ),
        ),
        max_size=12,
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(BATCHES)
def test_tallying_in_batches_equals_tallying_line_by_line(
    batches: list[list[tuple[LineLevel, str]]],
) -> None:
    # MAX_GROUPS shrunk so that batches overflow into OTHER_MESSAGES too.
    original = grouping.MAX_GROUPS
    grouping.MAX_GROUPS = 3
    try:
        one, many = grouping.MessageTally(), grouping.MessageTally()
        for batch in batches:
            for level, line in batch:
                one.add(level, line.encode("utf-8"))
            for level in LineLevel:
                many.add_many(
                    level,
                    [line.encode("utf-8") for line_level, line in batch if line_level == level],
                )
    finally:
        grouping.MAX_GROUPS = original
    assert many.counts == one.counts
    for level in LineLevel:
        assert list(many.groups[level].items()) == list(one.groups[level].items())


# ---------------------------------------------------------------- what groups show


def test_groups_show_templates_and_examples_with_secrets_and_personal_data_masked() -> None:
    tally = grouping.MessageTally()
    lines = [
        f"{STAMP} ERROR login failed for alice@example.com password=hunter2",
        f"{STAMP} ERROR charge declined card=4111111111111111 Bearer abc.def",
        f"{STAMP} ERROR login failed for bob@example.org password=letmein",
    ]
    tally.add_many(LineLevel.ERROR, [line.encode() for line in lines])
    login, charge = tally.sorted_groups(LineLevel.ERROR)
    # Two templates that differed only in the masked values are one group.
    assert (login.template, login.count) == ("login failed for «email» password=«password»", 2)
    assert login.first.endswith("for «email» password=«password»")
    assert login.last == login.first  # the last line, masked the same way
    assert charge.template == "charge declined card=<N> Bearer «bearer-token»"
    assert charge.first.endswith("card=«card» Bearer «bearer-token»")
    text = repr(tally.sorted_groups(LineLevel.ERROR))
    for value in ("alice", "bob@", "hunter2", "letmein", "4111111111111111", "abc.def"):
        assert value not in text


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("users", ["ABA", "AAB", "BAA", "ABB"])
def test_a_merged_group_counts_all_and_shows_its_first_and_latest_line(
    users: str, batched: bool
) -> None:
    # Lines differing only in an e-mail address are one group once masked; its first example
    # is the first line, its last one the latest, whichever template they came from.
    tally = grouping.MessageTally()
    lines = [
        f"WARNING no mail for {'alice' if user == 'A' else 'bob'}@example.com, try {n}".encode()
        for n, user in enumerate(users, 1)
    ]
    if batched:
        tally.add_many(LineLevel.WARNING, lines[:2])
        tally.add_many(LineLevel.WARNING, lines[2:])
    else:
        for line in lines:
            tally.add(LineLevel.WARNING, line)
    [group] = tally.sorted_groups(LineLevel.WARNING)
    assert group.count == 3 and group.template == "no mail for «email», try <N>"
    assert (group.first, group.last) == (
        "WARNING no mail for «email», try 1",
        "WARNING no mail for «email», try 3",
    )


def test_a_tally_keeps_only_the_head_of_a_long_line() -> None:
    tally = grouping.MessageTally()
    long = b"ERROR " + b"abc " * 250_000  # a megabyte
    tally.add(LineLevel.ERROR, long)
    tally.add_many(LineLevel.ERROR, [long, b"ERROR " + b"xyz " * 250_000])
    kept = [value for group in tally.groups[LineLevel.ERROR].values() for value in group]
    assert all(len(v) <= grouping.LINE_HEAD_BYTES for v in kept if isinstance(v, bytes))
    keys = [*tally.cache.lines, *tally.cache.requests]
    assert all(len(key) <= grouping.LINE_HEAD_BYTES for key in keys)
    first = tally.sorted_groups(LineLevel.ERROR)[0]
    assert first.count == 2 and first.first.endswith("…«cut: 976.6 KiB line»")
    assert first.template.endswith("…")
