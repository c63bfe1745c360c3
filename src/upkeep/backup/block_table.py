"""Responsible for a block list held in memory: its entries and the compact table of them.

A block list says, block by block in snapshot order, where each block's bytes are stored (see
`upkeep.backup.manifest` for its stored form): `Entry(sha256, owner, piece, offset, length,
stored, delta_at, kind, delta)`. A full list of a gigabyte is a quarter of a million entries, so
it is held as a `BlockTable` (columns, not objects), and `FirstPositions` finds where a sha256
first occurs in one without a dict of every sha256.
"""

from __future__ import annotations

import bisect
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, overload

from upkeep.backup.errors import BackupDamaged

ENTRY = struct.Struct("<32sHIIIIqB")
# An entry is sha256 + ENTRY_HEAD + ENTRY_TAIL (no padding with "<"): pages are encoded in
# those parts.
ENTRY_HEAD = struct.Struct("<HI")
ENTRY_TAIL = struct.Struct("<IIIqB")
assert ENTRY.size == 32 + ENTRY_HEAD.size + ENTRY_TAIL.size
RAW, XOR, ZDELTA = 0, 1, 2


class Entry(NamedTuple):
    """Where one block of a snapshot is stored, and how (see the module docstring)."""

    sha256: bytes
    owner: int
    piece: int
    offset: int
    length: int
    stored: int
    delta_at: int = -1
    kind: int = RAW
    delta: Entry | None = None


class BlockTable(Sequence[Entry]):
    """A full block list held compactly: about 50 bytes a block instead of ~310 as `Entry`s.

    The sha256s are one bytes object, the other fields of blocks stored as they are (`RAW`)
    arrays; an `Entry` is made when a block is asked for. Blocks stored as deltas keep their
    `Entry` (it holds its base's entry, from a block list no longer held). A gigabyte of 4 KiB
    pages is 13 MB this way: an incremental backup holds its base's list while it runs.
    """

    def __init__(self) -> None:
        self.hashes = bytearray()
        self.owners = array("H")
        self.pieces = array("I")
        self.offsets = array("I")
        self.lengths = array("I")
        self.stored = array("I")
        self.deltas: dict[int, Entry] = {}  # by position: the blocks stored as deltas
        self._delta_order: list[int] | None = None  # their positions sorted, once asked for

    @classmethod
    def of(cls, entries: Iterable[Entry]) -> BlockTable:
        table = cls()
        for entry in entries:
            table.append(entry)
        return table

    def append(self, entry: Entry) -> None:
        if entry.kind != RAW:
            self.deltas[len(self.owners)] = entry
            self._delta_order = None
        self._append(*entry[:6])

    def _append(
        self, sha256: bytes, owner: int, piece: int, offset: int, length: int, stored: int
    ) -> None:
        self.hashes += sha256
        self.owners.append(owner)
        self.pieces.append(piece)
        self.offsets.append(offset)
        self.lengths.append(length)
        self.stored.append(stored)

    def extend_from(self, base: BlockTable, start: int, count: int) -> None:
        """Append `count` blocks of `base` from position `start` (a run copied from the base)."""
        end = start + count
        at = len(self.owners)
        self.hashes += base.hashes[32 * start : 32 * end]
        self.owners += base.owners[start:end]
        self.pieces += base.pieces[start:end]
        self.offsets += base.offsets[start:end]
        self.lengths += base.lengths[start:end]
        self.stored += base.stored[start:end]
        if base.deltas:
            for position in base.delta_positions(start, end):
                self.deltas[at + position - start] = base.deltas[position]
            self._delta_order = None

    def extend_literals(self, packed: bytes, count: int, base: BlockTable, where: str) -> None:
        """Append `count` entries in their stored form (`ENTRY` each), column by column.

        A column is gathered by strided slices (one per byte of the field), not entry by entry:
        a full backup's list of a quarter of a million pages decodes in milliseconds. The few
        blocks stored as deltas are then made `Entry`s with their base's entry.
        """
        if count < _COLUMNS_FROM:  # a few literals between copied runs: entry by entry
            for fields in ENTRY.iter_unpack(packed):
                if fields[7] == RAW:
                    self._append(*fields[:6])
                else:
                    self.append(literal_entry(fields, base, where))
            return
        at = len(self.owners)
        self.hashes += _column(packed, count, 0, 32)
        for target, offset, width in (
            (self.owners, 32, 2),
            (self.pieces, 34, 4),
            (self.offsets, 38, 4),
            (self.lengths, 42, 4),
            (self.stored, 46, 4),
        ):
            values = array(target.typecode)
            values.frombytes(_column(packed, count, offset, width))
            if sys.byteorder == "big":  # stored little-endian
                values.byteswap()
            target.extend(values)
        kinds = packed[58 :: ENTRY.size]
        if kinds.count(RAW) == count:
            return
        for index, kind in enumerate(kinds):
            if kind != RAW:
                fields = ENTRY.unpack_from(packed, index * ENTRY.size)
                self.deltas[at + index] = literal_entry(fields, base, where)
        self._delta_order = None

    def delta_positions(self, start: int, end: int) -> list[int]:
        """Positions in [start, end) of blocks stored as deltas, in order."""
        if self._delta_order is None:  # sorted once: a base is copied from run by run
            self._delta_order = sorted(self.deltas)
        positions = self._delta_order
        return positions[bisect.bisect_left(positions, start) : bisect.bisect_left(positions, end)]

    def sha256_at(self, position: int) -> bytes:
        return bytes(self.hashes[32 * position : 32 * position + 32])

    def __len__(self) -> int:
        return len(self.owners)

    @overload
    def __getitem__(self, position: int) -> Entry: ...

    @overload
    def __getitem__(self, position: slice) -> list[Entry]: ...

    def __getitem__(self, position: int | slice) -> Entry | list[Entry]:
        if isinstance(position, slice):
            return [self[at] for at in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError(position)
        delta = self.deltas.get(position)
        if delta is not None:
            return delta
        return Entry(
            self.sha256_at(position),
            self.owners[position],
            self.pieces[position],
            self.offsets[position],
            self.lengths[position],
            self.stored[position],
        )

    def __iter__(self) -> Iterator[Entry]:
        hashes, deltas, new = bytes(self.hashes), self.deltas, tuple.__new__
        columns = zip(
            self.owners, self.pieces, self.offsets, self.lengths, self.stored, strict=True
        )
        for position, (owner, piece, offset, length, stored) in enumerate(columns):
            delta = deltas.get(position) if deltas else None
            if delta is not None:
                yield delta
            else:
                at = 32 * position  # `Entry(...)`, without its Python-level __new__
                fields = (hashes[at : at + 32], owner, piece, offset, length, stored, -1, RAW, None)
                yield new(Entry, fields)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content


# From this many literals in one run, a column of strided slices beats unpacking entry by entry.
_COLUMNS_FROM = 64


def _column(packed: bytes, count: int, offset: int, width: int) -> bytearray:
    """The `width`-byte field at `offset` of each of `count` packed `ENTRY`s, one after another."""
    column = bytearray(count * width)
    for byte in range(width):
        column[byte::width] = packed[offset + byte :: ENTRY.size]
    return column


assert array("H").itemsize == 2 and array("I").itemsize == 4  # the stored widths


class FirstPositions:
    """The first position of each sha256 of a `BlockTable`, found by binary search.

    A sorted array of 8-byte keys (the sha256's first 4 bytes, then the position) instead of a
    dict of sha256 to position: 8 bytes a block instead of about 100. A bitmap of the heads
    (4 bytes a block) answers most lookups of a block the base lacks, which is what every
    changed block asks, without the search.
    """

    def __init__(self, table: BlockTable) -> None:
        self.table = table
        count = len(table)
        if count >= 1 << 32:
            raise BackupDamaged(f"a block list of {count} blocks is more than this reader takes")
        heads = [head for (head,) in struct.iter_unpack("=I28x", table.hashes)]  # first 4 bytes
        bits = max(1 << 16, 1 << (32 * count).bit_length())  # 32 bits a block or more: ~3% false
        self.mask = bits - 1
        self.bitmap = bytearray(bits >> 3)
        bitmap, mask = self.bitmap, self.mask
        for head in heads:
            bitmap[(head & mask) >> 3] |= 1 << (head & 7)
        self.keys = array("Q", sorted(head << 32 | at for at, head in enumerate(heads)))

    def first(self, sha256: bytes) -> int | None:
        head = int.from_bytes(sha256[:4], sys.byteorder)
        if not self.bitmap[(head & self.mask) >> 3] & (1 << (head & 7)):
            return None
        keys, hashes = self.keys, self.table.hashes
        at = bisect.bisect_left(keys, head << 32)
        while at < len(keys) and keys[at] >> 32 == head:
            position = keys[at] & 0xFFFFFFFF
            if hashes[32 * position : 32 * position + 32] == sha256:
                return position  # keys sort by position within a head: the first
            at += 1
        return None


def literal_entry(fields: tuple[Any, ...], base: Sequence[Entry], where: str) -> Entry:
    delta_at, kind = fields[6], fields[7]
    if kind == RAW:
        return Entry(*fields)
    if kind not in (XOR, ZDELTA) or not 0 <= delta_at < len(base):
        raise BackupDamaged(f"{where}: a block of kind {kind} refers to base block {delta_at}")
    return Entry(*fields, base[delta_at])
