"""Responsible for values as people read and type them: a byte count as a size in binary units
(`1.4 MiB`, never `1.44e+06B`), any recorded number with its unit (a byte count shown as a size),
and the words read as yes and no. The one place these are decided: the command line, the
procedures runbooks call, the reports and the site all use it. Only the standard library, since
runbooks' kernels import it.
"""

from __future__ import annotations

__all__ = [
    "BYTE_UNITS",
    "FALSE_WORDS",
    "TRUE_WORDS",
    "counted",
    "human_size",
    "number",
    "parse_bool",
    "quantity",
]

BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
# Read as yes and no wherever a person types a yes/no value (`-p dry_run=yes`), in any case.
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def human_size(size: float) -> str:
    """A byte count as people read it: `512 B`, `1.5 KiB`, `1.4 MiB`, ... up to EiB, one decimal
    past bytes; a negative count (a size that shrank) keeps its sign."""
    sign = "-" if size < 0 else ""
    rest = abs(float(size))
    if round(rest) < 1024:
        return f"{sign}{rest:.0f} B"
    for unit in BYTE_UNITS[1:]:
        rest /= 1024
        if round(rest, 1) < 1024 or unit == BYTE_UNITS[-1]:
            break
    return f"{sign}{rest:.1f} {unit}"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun in the number it takes: `1 source`, `3 sources`, `0 rows`;
    `plural` where adding an s is wrong (`1 entry`, `2 entries`)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def number(value: float) -> str:
    """A recorded number as people read it: `12`, `87.1`, `0.25`, `1234567` (never `1.23457e+06`);
    only a very small fraction keeps an exponent."""
    if float(value).is_integer() and abs(value) < 1e18:
        return str(int(value))
    text = f"{value:g}"
    if "e" in text and abs(value) >= 1:
        text = f"{value:.1f}"
    return text


def quantity(value: float | None, unit: str = "") -> str:
    """A recorded value with its unit, as the checks and metrics of a run carry them: a byte
    count (unit `B`) as a size, anything else as its number and unit, a word unit set apart
    (`87.1%`, `12 ms` for unit `ms`, `3 rows`); empty for no value."""
    if value is None:
        return ""
    if unit.strip() == "B":
        return human_size(value)
    if unit[:1].isalpha():
        unit = " " + unit
    return f"{number(value)}{unit}"


def parse_bool(text: str) -> bool:
    """`true`/`yes`/`on`/`1` or `false`/`no`/`off`/`0`, in any case; ValueError otherwise."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false (or yes, no, on, off, 1, 0), got {text!r}")
