"""Responsible for grouping the matching lines of a log by message: masking a line's variable
parts into a template, the stable finding key of a template, and `MessageTally`, which counts
matching lines per level and per template with the masking cached and batched for speed, keeps
only the first bytes of each group's first and last line, and hands its groups out as evidence
may show them (`logs.excerpts`).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from upkeep.logs.excerpts import (
    ELLIPSIS,
    LINE_HEAD_BYTES,
    decode_line,
    readable_head,
    shown_line,
    within_bytes,
)
from upkeep.masking import mask_sensitive

__all__ = [
    "HEX_STAND_IN",
    "MAX_CACHED_TEMPLATES",
    "MAX_GROUPS",
    "OTHER_MESSAGES",
    "LineLevel",
    "MessageGroup",
    "MessageTally",
    "decode_line",
    "group_key",
    "mask_message",
]

MAX_GROUPS = 1000
TEMPLATE_BYTES = 300
OTHER_MESSAGES = "(other messages: too many distinct groups)"


class LineLevel(StrEnum):
    """What a matching log line reports, by the patterns it matched."""

    ERROR = "error"
    WARNING = "warning"


_PREFIX = re.compile(
    r"""^\s*
    (?:\[?\d{4}-\d{2}-\d{2}[T\ ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?\s+
      |[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\s+)?
    (?:[\[<(]?(?:TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|CRIT(?:ICAL)?|FATAL|ALERT|EMERG)
       [\]>)]?:?\s+)?""",
    re.VERBOSE,
)
# Every rule treats all digits alike (no `0x`, only `\d[xX]`): `MessageTally` relies on it.
_VARIABLE = re.compile(
    r"""(?P<STR>(?<!\w)"(?:[^"\\]|\\.)*"|(?<!\w)'(?:[^'\\]|\\.)*')
    |(?P<UUID>\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b)
    |(?P<IP>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b)
    |(?P<HEX>\b\d[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b)
    |(?P<N>\d+(?:\.\d+)?)""",
    re.VERBOSE,
)


def mask_message(line: str) -> str:
    """The line's message with its timestamp/level prefix removed and variable parts masked.

    "2025-11-16 02:15:00,123 ERROR timeout after 31s for id 812" -> "timeout after <N>s for id <N>"
    """
    message = _PREFIX.sub("", line, count=1)
    masked = " ".join(_VARIABLE.sub(lambda match: f"<{match.lastgroup}>", message).split())
    template = within_bytes(masked, TEMPLATE_BYTES)
    return template if template == masked else template + ELLIPSIS


def group_key(log_name: str, template: str) -> str:
    """A finding key that stays the same for the same message across runs."""
    return f"log:{log_name}:{hashlib.sha256(template.encode('utf-8')).hexdigest()[:8]}"


@dataclass(frozen=True)
class MessageGroup:
    """Lines that differ only in numbers, ids, addresses, quoted values or the secrets and
    personal data masked in them; `first` and `last` are examples as evidence shows them."""

    template: str
    level: LineLevel
    count: int
    first: str
    last: str


# Masking treats every digit alike, so lines equal up to their digits share a template:
# a cache keyed by the line with its digits zeroed skips most of the regex work.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
MAX_CACHED_TEMPLATES = 10_000
# A hex id (request, trace, session) makes each line unique. Masking turns a whole word of six
# or more hex digits, at least one a digit and one a letter, into <HEX> (or part of <STR>),
# so a second cache key replaces every such word with one stand-in. Only words between
# delimiters that no masking rule reaches across count (no `.`, `-` or word character).
_HEX_WORD = re.compile(
    rb"(?<![^\s=(\[{,;/\"'<>#@|:])(?=[0-9a-fA-F]*0)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}"
    rb"(?![^\s,;)\]}\"'/>&|#:])"
)
HEX_STAND_IN = b"0a0a0a"


def _shown_template(head: bytes, length: int) -> str:
    """The template of a line as evidence shows it: made from its text with secrets and personal
    data masked, marked when the line was cut. Its digits and IP addresses are masked anyway,
    so neither a Luhn check nor the log's IP setting changes it (nor its finding key)."""
    text, cut = readable_head(head, length)
    template = mask_message(mask_sensitive(text, ip_addresses=False, cards=False))
    return template + ELLIPSIS if cut and not template.endswith(ELLIPSIS) else template


class MessageTally:
    """Counts matching lines per level and groups them by masked message (template).

    Of a line only its first LINE_HEAD_BYTES count: its template is made from them, and they are
    all that a group keeps of its first and last line, with the line's length.
    """

    def __init__(self) -> None:
        self.counts = {LineLevel.ERROR: 0, LineLevel.WARNING: 0}
        # template -> [count, first head, last head, first length, last length, last ordinal]:
        # decoded, masked and cut only once, at the end
        self.groups: dict[LineLevel, dict[str, list]] = {
            LineLevel.ERROR: {},
            LineLevel.WARNING: {},
        }
        self.templates: dict[bytes, str] = {}
        self.bytes_scanned = 0

    def template(self, raw: bytes) -> str:
        """`mask_message` of the line's head, from the cache when a like line was masked before."""
        raw = raw[:LINE_HEAD_BYTES]
        key = raw.translate(_DIGITS_TO_ZERO)
        template = self.templates.get(key)
        if template is None:
            key = _HEX_WORD.sub(HEX_STAND_IN, key)
            template = self.templates.get(key)
            if template is None:
                template = mask_message(decode_line(raw))
                if len(self.templates) < MAX_CACHED_TEMPLATES:
                    self.templates[key] = template
        return template

    def add(self, level: LineLevel, raw: bytes, length: int | None = None) -> None:
        """Count one line; `raw` may be only the head of a line of `length` bytes."""
        self.counts[level] += 1
        length = len(raw) if length is None else length
        raw = raw[:LINE_HEAD_BYTES]
        # The cache's first key inline: this runs for every matching line.
        template = self.templates.get(raw.translate(_DIGITS_TO_ZERO)) or self.template(raw)
        groups = self.groups[level]
        group = groups.get(template)
        if group is None and len(groups) >= MAX_GROUPS:
            template = OTHER_MESSAGES  # bounded memory for a log full of unique messages
            group = groups.get(template)
        if group is None:
            groups[template] = [1, raw, raw, length, length, self.counts[level]]
        else:
            group[0] += 1
            group[2], group[4], group[5] = raw, length, self.counts[level]

    def _templates(self, raws: list[bytes]) -> list[str]:
        """`template` of each of `raws`, each regex and translate run once over all of them
        joined by newlines (no line holds one; masking treats it as any other whitespace)."""
        keys = b"\n".join(raws).translate(_DIGITS_TO_ZERO).split(b"\n")
        templates = list(map(self.templates.get, keys))
        missing = [i for i, template in enumerate(templates) if template is None]
        if missing:
            joined = b"\n".join([keys[i] for i in missing])
            hex_keys = _HEX_WORD.sub(HEX_STAND_IN, joined).split(b"\n")
            for i, key in zip(missing, hex_keys, strict=True):
                template = self.templates.get(key)
                if template is None:
                    template = mask_message(decode_line(raws[i]))
                    if len(self.templates) < MAX_CACHED_TEMPLATES:
                        self.templates[key] = template
                templates[i] = template
        return templates

    def add_many(self, level: LineLevel, raws: list[bytes]) -> None:
        """`add` for each of `raws` in turn, with the per-line work done by C code: one
        translate for all cache keys, `map` for the lookups, `Counter` and dicts for the
        counts, first and last lines."""
        if not raws:
            return
        lengths = list(map(len, raws))
        if max(lengths) > LINE_HEAD_BYTES:
            raws = [raw[:LINE_HEAD_BYTES] for raw in raws]
        seen = self.counts[level]
        self.counts[level] += len(raws)
        templates = self._templates(raws)
        last = dict(zip(templates, range(len(raws)), strict=True))  # the last index of each wins
        first = dict(zip(reversed(templates), range(len(raws) - 1, -1, -1), strict=True))
        groups = self.groups[level]
        # template -> [count, first index, last index] in this batch, in order of first
        # appearance, overflowing into OTHER_MESSAGES exactly where `add` would.
        batch: dict[str, list[int]] = {}
        size = len(groups)
        for template, count in Counter(templates).items():
            target = template
            if template not in groups:
                if size >= MAX_GROUPS:
                    target = OTHER_MESSAGES
                if target not in groups and target not in batch:
                    size += 1
            entry = batch.get(target)
            if entry is None:
                batch[target] = [count, first[template], last[template]]
            else:  # only OTHER_MESSAGES: several templates' lines
                entry[0] += count
                entry[1] = min(entry[1], first[template])
                entry[2] = max(entry[2], last[template])
        for template, (count, first_index, last_index) in batch.items():
            group = groups.get(template)
            if group is None:
                groups[template] = [
                    count,
                    raws[first_index],
                    raws[last_index],
                    lengths[first_index],
                    lengths[last_index],
                    seen + last_index + 1,
                ]
            else:
                group[0] += count
                group[2], group[4], group[5] = (
                    raws[last_index],
                    lengths[last_index],
                    seen + last_index + 1,
                )

    def sorted_groups(
        self, level: LineLevel, *, ip_addresses: bool = False
    ) -> tuple[MessageGroup, ...]:
        """The groups of `level` as evidence may show them, the most frequent first: templates
        and examples with secrets and personal data masked (IP addresses too with
        `ip_addresses`), examples cut to a few hundred bytes. Groups whose templates differ
        only in what was masked are one group."""
        # shown template -> [count, first head, first length, last head, last length, ordinal]
        shown: dict[str, list] = {}
        tallied = self.groups[level]
        for template, (count, first, last, first_length, last_length, ordinal) in tallied.items():
            if template != OTHER_MESSAGES:
                template = _shown_template(first, first_length)
            merged = shown.get(template)
            if merged is None:
                shown[template] = [count, first, first_length, last, last_length, ordinal]
            else:
                merged[0] += count
                if ordinal > merged[5]:
                    merged[3:] = [last, last_length, ordinal]
        examples: dict[tuple[bytes, int], str] = {}  # a group of one line: first is last

        def example(head: bytes, length: int) -> str:
            text = examples.get((head, length))
            if text is None:
                text = examples[head, length] = shown_line(head, length, ip_addresses=ip_addresses)
            return text

        groups = [
            MessageGroup(
                template, level, count, example(first, first_length), example(last, last_length)
            )
            for template, (count, first, first_length, last, last_length, _) in shown.items()
        ]
        return tuple(sorted(groups, key=lambda group: -group.count))
