"""upkeep.units: sizes in human units, recorded values with their unit, the words for yes and no;
and that it is the one place sizes are formatted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from upkeep import units
from upkeep.logs.excerpts import cut_mark

SOURCE = Path(units.__file__).parent


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1024**2 - 1, "1.0 MiB"),  # rounded to one decimal, it is a MiB, not "1024.0 KiB"
        (1_440_000, "1.4 MiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
        (5000 * 1024**3, "4.9 TiB"),
        (-2048, "-2.0 KiB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert units.human_size(size) == text


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1_440_000.0, "B", "1.4 MiB"),  # was `1.44e+06B`
        (1_440_000, " B", "1.4 MiB"),  # the unit as earlier evidence wrote it
        (87.1, "%", "87.1%"),
        (12, "ms", "12 ms"),
        (3, " rows", "3 rows"),
        (2.5, " days", "2.5 days"),
        (1_234_567.0, "", "1234567"),  # a count stays a count, never `1.23457e+06`
        (12_345_678.9, "", "12345678.9"),
        (-5.25, "%", "-5.25%"),
        (None, "B", ""),
    ],
)
def test_a_recorded_value_with_its_unit(value: float | None, unit: str, text: str) -> None:
    assert units.quantity(value, unit) == text


@pytest.mark.parametrize("word", ["true", "yes", "on", "1", "True", "YES", " On "])
def test_the_words_for_yes(word: str) -> None:
    assert units.parse_bool(word) is True


@pytest.mark.parametrize("word", ["false", "no", "off", "0", "False", "NO"])
def test_the_words_for_no(word: str) -> None:
    assert units.parse_bool(word) is False


def test_anything_else_is_neither_and_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match=r"expected true or false .*got 'maybe'"):
        units.parse_bool("maybe")


def test_a_cut_log_line_is_marked_with_its_size_by_the_same_formatter() -> None:
    assert cut_mark(100 * 1024**2) == f"…«cut: {units.human_size(100 * 1024**2)} line»"


def test_no_other_module_formats_sizes_or_values_with_units_itself() -> None:
    """There were three size formatters (the console's, cleaning's, log excerpts') and values
    written as `{value:g}{unit}` (`1.44e+06B`) in four places: one module decides now."""
    own = re.compile(r"""["'](KiB|MiB|GiB)["']|:g\}\{[a-z_.]*unit\}""")
    offenders = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if path != SOURCE / "units.py" and own.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_a_kernel_imports_it_cheaply_nothing_but_the_standard_library() -> None:
    code = (
        "import sys; before = set(sys.modules); import upkeep.units; "
        "print(sorted(set(sys.modules) - before))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    modules = set(loaded.strip().strip("[]").replace("'", "").split(", ")) - {""}
    outside = {
        name
        for name in modules
        if name.split(".")[0] not in sys.stdlib_module_names
        and name not in ("upkeep", "upkeep.units")
    }
    assert "upkeep.units" in modules and outside == set()


@pytest.mark.parametrize(
    ("count", "noun", "plural", "expected"),
    [
        (1, "source", None, "1 source"),
        (0, "row", None, "0 rows"),
        (3, "orphaned row", None, "3 orphaned rows"),
        (1, "vulnerability", "vulnerabilities", "1 vulnerability"),
        (2, "vulnerability", "vulnerabilities", "2 vulnerabilities"),
    ],
)
def test_a_count_takes_its_noun_in_the_number_it_needs(
    count: int, noun: str, plural: str | None, expected: str
) -> None:
    assert units.counted(count, noun, plural) == expected
