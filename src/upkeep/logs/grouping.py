"""Responsible for grouping the matching lines of a log by message: the stable finding key of a
template (`logs.templates` makes them), and `MessageTally`, which counts matching lines per level
and per template, keeps only the first bytes of each group's first and last line, and hands its
groups out as evidence may show them (`logs.excerpts`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from upkeep.logs.excerpts import ELLIPSIS, LINE_HEAD_BYTES, readable_head, shown_line
from upkeep.logs.templates import TemplateCache, mask_message
from upkeep.masking import mask_sensitive

__all__ = [
    "MAX_GROUPS",
    "OTHER_MESSAGES",
    "LineLevel",
    "MessageGroup",
    "MessageTally",
    "group_key",
]

MAX_GROUPS = 1000
OTHER_MESSAGES = "(other messages: too many distinct groups)"


class LineLevel(StrEnum):
    """What a matching log line reports, by the patterns it matched."""

    ERROR = "error"
    WARNING = "warning"


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
        self.cache = TemplateCache()
        self.bytes_scanned = 0

    def template(self, raw: bytes) -> str:
        """`mask_message` of the line's head, from the cache when a like line was masked before."""
        return self.cache.template(raw[:LINE_HEAD_BYTES])

    def add(self, level: LineLevel, raw: bytes, length: int | None = None) -> None:
        """Count one line; `raw` may be only the head of a line of `length` bytes."""
        self.counts[level] += 1
        length = len(raw) if length is None else length
        raw = raw[:LINE_HEAD_BYTES]
        template = self.cache.template(raw)
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
        templates = self.cache.templates(raws)
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
