"""Responsible for what one log line may show in evidence: the text of the first bytes kept of it,
cut where no value is left half-shown, secrets and personal data masked (`upkeep.masking`), at
most a few hundred bytes, and marked with the line's size when it was cut.
"""

from __future__ import annotations

from upkeep.masking import mask_sensitive
from upkeep.plain_text import shown
from upkeep.units import human_size

__all__ = [
    "ELLIPSIS",
    "EXAMPLE_BYTES",
    "LINE_HEAD_BYTES",
    "cut_mark",
    "decode_line",
    "readable_head",
    "shown_line",
    "within_bytes",
]

# What is kept of a matching line: its template and its examples are made from these bytes.
LINE_HEAD_BYTES = 1024
# What an example shows of a line (before the cut mark).
EXAMPLE_BYTES = 300
ELLIPSIS = "…"
# Where a value in a log line ends, and what may separate the groups of one (a card number's
# digits, an address's parts).
_VALUE_DELIMITERS = frozenset(" \t,;\"'{}[]()<>|")
_GROUP_SEPARATORS = frozenset("0123456789 \t.,:/-")


def decode_line(raw: bytes) -> str:
    """A raw line as text: invalid UTF-8 replaced, a CRLF line's carriage return dropped, every
    other control character shown as its picture (`plain_text.SHOWN_CONTROLS`): a line is shown
    in terminals, reports and the site, and must not act on any of them."""
    return shown(raw.decode("utf-8", "replace").rstrip("\r"))


def within_bytes(text: str, limit: int) -> str:
    """The longest start of `text` that takes at most `limit` bytes in UTF-8."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore")


def _drop_partial_tail(text: str) -> str:
    """`text` cut short without its last value, which the cut may have split, nor the digits and
    separators before that value (a card number's other groups)."""
    end = len(text)
    while end and text[end - 1] not in _VALUE_DELIMITERS:
        end -= 1
    while end and text[end - 1] in _GROUP_SEPARATORS:
        end -= 1
    return text[:end].rstrip()


def readable_head(head: bytes, length: int) -> tuple[str, bool]:
    """The text of a line's kept head, and whether the line was longer: then without the value
    the cut may have split, so that no detector misses a secret for seeing only part of it."""
    text = decode_line(head)
    if length <= len(head):
        return text, False
    return _drop_partial_tail(text), True


def cut_mark(length: int) -> str:
    """What ends an example cut short: `…«cut: 100.0 MiB line»`."""
    return f"{ELLIPSIS}«cut: {human_size(length)} line»"


def shown_line(head: bytes, length: int, *, ip_addresses: bool = False) -> str:
    """A matching line as an example in evidence: masked, at most EXAMPLE_BYTES of it, and
    marked with its size when cut. `head` is the first bytes kept of a line of `length` bytes."""
    text, cut = readable_head(head, length)
    masked = mask_sensitive(text, ip_addresses=ip_addresses)
    shown = within_bytes(masked, EXAMPLE_BYTES)
    if shown != masked:  # everything in it is masked already: cut anywhere but in a marker
        opened = shown.rfind("«")
        if opened > shown.rfind("»"):
            shown = shown[:opened]
        cut = True
    return shown.rstrip() + cut_mark(length) if cut else shown
