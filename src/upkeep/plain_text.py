"""Responsible for showing text that runs and people wrote where it must not act: control
characters (an escape sequence that retitles or clears a terminal, a carriage return that
overwrites a line, a NUL, a backspace) as their Unicode pictures (ESC as ␛), and a line of it
on one line.
"""

from __future__ import annotations

import re

__all__ = ["CUT_MARK", "HIDDEN", "SHOWN_CONTROLS", "cut", "one_line", "shown"]

# What ends a text cut at its length, so that nobody takes what is left for the whole of it.
CUT_MARK = "…"

# What a name or title people read must not hold: control characters, the zero-width space and
# byte-order mark (invisible), and the bidirectional marks, overrides and isolates (they reorder
# what is shown). The zero-width non-joiner and joiner (U+200C, U+200D) stay: Persian and Indic
# names and emoji sequences need them.
HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

# A tab stays a tab; C1 controls (U+0080 to U+009F, ESC [ in one character to some terminals)
# become U+FFFD; the bidirectional overrides, embeddings and isolates, which reorder what a
# terminal shows after them (a finding that reads backwards), are written as their code points.
SHOWN_CONTROLS: dict[int, int | str] = {
    **{code: 0x2400 + code for code in range(0x20) if code != 0x09},
    0x7F: 0x2421,
    **{code: 0xFFFD for code in range(0x80, 0xA0)},
    **{code: f"<U+{code:04X}>" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))},
}


def shown(text: str) -> str:
    """`text` with every control character but the tab shown as its picture."""
    return text.translate(SHOWN_CONTROLS)


def cut(text: str, limit: int) -> str:
    """`text` when it fits in `limit` characters, else its start ending in CUT_MARK, `limit`
    characters in all (the scrubber repairs a secret the cut fell in: `redact.Scrubber`)."""
    return text if len(text) <= limit else text[: limit - len(CUT_MARK)] + CUT_MARK


def one_line(text: str) -> str:
    """`text` on one line: runs of whitespace (line breaks too) as one space, and every other
    control character shown as its picture."""
    return shown(" ".join(text.split()))


def is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8: bytes that were not UTF-8 (an argument, an
    environment variable, a file name) are kept by Python as lone surrogates, which cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
