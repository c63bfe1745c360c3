"""Tests for upkeep.logs.grouping: masking, templates and the per-template tally."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.logs import grouping
from upkeep.logs.grouping import LineLevel

STAMP = "2026-11-16 02:15:00,123"


def test_mask_merges_lines_that_differ_only_in_numbers() -> None:
    a = grouping.mask_message(f"{STAMP} ERROR   [web] timeout after 31s for id 812")
    b = grouping.mask_message("2026-11-17T08:00:01.5Z ERROR timeout after 32s for id 9")
    assert a == "[web] timeout after <N>s for id <N>"
    assert b == "timeout after <N>s for id <N>"


def test_mask_hides_ids_addresses_and_quoted_values() -> None:
    line = (
        "WARNING request 6a48e215-b407-feb4-dc7b-0428c22369ed from 10.0.3.17:443"
        " token c198f0b3ec user 'bob' said \"hi 2\""
    )
    assert (
        grouping.mask_message(line) == "request <UUID> from <IP> token <HEX> user <STR> said <STR>"
    )
    assert grouping.mask_message("can't open 3 files") == "can't open <N> files"


MASK_PIECES = st.sampled_from(
    [
        *("ab12cd", "9F8A7B6C", "facade1", "decade", "123456", "0x1f", "12", "1.5", "10.0.0.1"),
        *("6a48e215-b407-feb4-dc7b-0428c22369ed", "ERROR", "Abc", "g", "_", "é", "\\"),
        *(" ", ":", "-", ".", "'", '"', "=", "(", ")", "/", ",", "<", "#"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(MASK_PIECES, max_size=12).map("".join), max_size=20),
    st.permutations("abcdef").map("".join),
)
def test_cached_templates_are_what_masking_each_line_gives(lines: list[str], swap: str) -> None:
    # One tally for all lines, each also with its hex letters swapped around and turned into
    # digits: a cache key shared by two lines that mask differently fails here.
    letters = str.maketrans("abcdefABCDEF", swap + swap.upper())
    digits = str.maketrans("abcdefABCDEF", "123456123456")
    tally = grouping.MessageTally()
    variants = [line.translate(letters) for line in lines] + [x.translate(digits) for x in lines]
    for line in lines + variants:
        assert tally.template(line.encode("utf-8")) == grouping.mask_message(line), line


BATCHES = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(list(LineLevel)),
            st.sampled_from(["a 1", "a 22", "b 1", "c x", "d 0x1f", "e ab12cd", "f", "é 3"]),
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
