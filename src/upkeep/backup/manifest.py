"""Responsible for the stored forms of a backup's description: manifest JSON and block list.

The block list says, block by block in snapshot order, where each block's bytes are stored:
`Entry(sha256, owner, piece, offset, length, stored, delta_at, kind, delta)` — `owner` indexes
the backup's chain (root first, the backup itself last), `piece` numbers a piece of that backup,
`offset`/`stored` locate the stored bytes inside the piece once decompressed, `length` is the
block's own size. A block of kind `RAW` is stored as it is. A changed block can instead be
stored relative to the base's block at position `delta_at` (`delta`, that block's entry): `XOR`
(its XOR with that block: a page where a value changed in place XORs to almost only zeros) or
`ZDELTA` (a zstd frame compressed with that block as dictionary: a page whose rows moved).
An incremental backup stores its list as a delta of its base's: runs copied from
the base, and literal entries for what is new, so that a backup in which 1% of the blocks
changed has a block list of about 1% of the full one.

A snapshot's digest (`Manifest.sha256`) is the sha256 of its blocks' sha256s, in order
(`block_list_digest`): a restore checks every block against its sha256 and this digest against
the manifest, which is as strong as a sha256 of the whole file and needs no second pass over it.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import struct
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from upkeep.backup.block_table import (
    ENTRY,
    ENTRY_HEAD,
    ENTRY_TAIL,
    RAW,
    BlockTable,
    Entry,
    FirstPositions,
)
from upkeep.backup.errors import BackupDamaged
from upkeep.backup.stores.interface import READABLE_FORMATS, BackupKind, Manifest, PieceRef

MANIFEST_NAME = "manifest.json"
_KINDS = frozenset(kind.value for kind in BackupKind)
INDEX_PIECE = "index.zst"
_MAGIC = b"UPKEEP-BLOCKS-1\n"
_COPY = struct.Struct("<QI")
_COUNT = struct.Struct("<I")


def piece_name(number: int) -> str:
    return f"p{number:06d}.zst"


def block_list_digest(entries: Sequence[Entry]) -> str:
    """The snapshot's digest: the sha256 of its blocks' sha256s in order (hex)."""
    if isinstance(entries, BlockTable):
        return hashlib.sha256(entries.hashes).hexdigest()
    return hashlib.sha256(b"".join(entry.sha256 for entry in entries)).hexdigest()


# ---------------------------------------------------------------- manifest JSON


def manifest_to_json(manifest: Manifest) -> bytes:
    value = asdict(manifest)
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def manifest_from_json(raw: bytes, where: str) -> Manifest:
    """Parse a manifest; `where` names it in the `BackupDamaged` raised for anything unexpected."""
    try:
        value: dict[str, Any] = json.loads(raw)
        pieces = tuple(PieceRef(**piece) for piece in value.pop("pieces"))
        kind = value.get("kind")
        if isinstance(kind, str) and kind in _KINDS:
            value["kind"] = BackupKind(kind)
        manifest = Manifest(pieces=pieces, **value)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BackupDamaged(f"{where}: not a readable backup manifest ({exc})") from None
    if not _aware_iso(manifest.created):
        raise BackupDamaged(
            f"{where}: created {manifest.created!r}; expected an ISO time with its UTC offset"
        )
    if manifest.format not in READABLE_FORMATS or not isinstance(manifest.kind, BackupKind):
        formats = " or ".join(str(number) for number in READABLE_FORMATS)
        raise BackupDamaged(
            f"{where}: manifest format {manifest.format!r}, kind {manifest.kind!r}; "
            f"expected format {formats} and kind full or incremental"
        )
    return manifest


def _aware_iso(text: object) -> bool:
    """Whether `text` is an ISO time with its UTC offset, as every backup's `created` is."""
    try:
        return isinstance(text, str) and datetime.fromisoformat(text).utcoffset() is not None
    except ValueError:
        return False


# ---------------------------------------------------------------- block list


class IndexBuilder:
    """Builds a backup's block list while its snapshot is read, deduplicating against its base.

    Call `known(sha256)` for each block in order: it returns True when the block is already stored
    (in the chain, or earlier in this backup) and has been listed; on False the caller stores the
    block and calls `stored(...)` with where it went. A block the base has is listed from the
    base's block at its own position when that one is equal, else from its first position in
    the base (a run of unchanged pages stays one run). The list itself is kept as what it is
    written as (runs copied from the base, literal entries) and as its sha256s, in order:
    `hashes`, `count` and `digest()`.
    """

    def __init__(self, base: Sequence[Entry], owner: int) -> None:
        self.base = base if isinstance(base, BlockTable) else BlockTable.of(base)
        self.owner = owner
        self.hashes = bytearray()  # the sha256s of the list so far, in order
        self.count = 0
        self._base_hashes = self.base.hashes
        self._first = FirstPositions(self.base) if len(self.base) else None
        self._ours: dict[bytes, Entry] = {}
        self._ops: list[bytes] = []
        self._literals: list[Entry] = []
        self._run_start = -1
        self._run_length = 0

    def digest(self) -> str:
        """The snapshot's digest (`block_list_digest` of the list built)."""
        return hashlib.sha256(self.hashes).hexdigest()

    def known(self, sha256: bytes) -> bool:
        if self._first is None:  # a full backup: only its own earlier blocks can match
            entry = self._ours.get(sha256)
            if entry is None:
                return False
            self._literal(entry)
            return True
        following = self._run_start + self._run_length
        if (
            self._run_length
            and following < len(self.base)
            and self._base_hashes[32 * following : 32 * following + 32] == sha256
        ):
            self._run_length += 1
            self.hashes += sha256
            self.count += 1
            return True
        # A block unchanged since the base is most often where it was (a SQLite page is): a run
        # from there, else from the block's first position in the base, if it has the block.
        where = 32 * self.count
        same_place = self._base_hashes[where : where + 32] == sha256
        position = self.count if same_place else self._first.first(sha256)
        if position is not None:
            self._end_run()
            self._flush_literals()
            self._run_start, self._run_length = position, 1
            self.hashes += sha256
            self.count += 1
            return True
        entry = self._ours.get(sha256)
        if entry is not None:
            self._literal(entry)
            return True
        return False

    def follow(self, hashes: Sequence[bytes], start: int) -> int:
        """How many of `hashes[start:]` continue the current run of base blocks (0 when no run
        is open); those are listed, exactly as that many `known` calls would list them."""
        if not self._run_length:
            return 0
        following = self._run_start + self._run_length
        base_hashes = self._base_hashes
        end = min(len(hashes), start + len(self.base) - following)
        if end <= start:
            return 0
        at, where = start, 32 * following
        # Scattered changes end a run within a few blocks: compare those one by one, then the
        # rest of the batch at once (a long run of unchanged blocks), one by one if it differs.
        probe = min(end, start + 8)
        while at < probe and base_hashes[where : where + 32] == hashes[at]:
            at += 1
            where += 32
        if at == probe < end:
            rest = b"".join(hashes[at:end])
            if base_hashes[where : where + len(rest)] == rest:
                at, where = end, where + len(rest)
            while at < end and base_hashes[where : where + 32] == hashes[at]:
                at += 1
                where += 32
        same = at - start
        if same:
            self._run_length += same
            self.hashes += base_hashes[32 * following : where]
            self.count += same
        return same

    def stored(
        self,
        sha256: bytes,
        piece: int,
        offset: int,
        length: int,
        *,
        stored: int | None = None,
        delta_at: int = -1,
        kind: int = RAW,
    ) -> None:
        """List a block just stored (`stored` bytes, relative to base block `delta_at`)."""
        delta = self.base[delta_at] if kind != RAW else None
        stored = length if stored is None else stored
        entry = Entry(sha256, self.owner, piece, offset, length, stored, delta_at, kind, delta)
        self._ours[sha256] = entry
        self._literal(entry)

    def encode(self) -> bytes:
        """The block list in its stored form (before compression)."""
        self._end_run()
        self._flush_literals()
        return _MAGIC + b"".join(self._ops)

    def _literal(self, entry: Entry) -> None:
        if self._run_length:
            self._end_run()
        self._literals.append(entry)
        self.hashes += entry.sha256
        self.count += 1

    def _end_run(self) -> None:
        if self._run_length:
            self._ops.append(b"C" + _COPY.pack(self._run_start, self._run_length))
            self._run_start, self._run_length = -1, 0

    def _flush_literals(self) -> None:
        if self._literals:
            packed = b"".join(ENTRY.pack(*entry[:8]) for entry in self._literals)
            self._ops.append(b"N" + _COUNT.pack(len(self._literals)) + packed)
            self._literals = []


def encode_pages(hashes: Sequence[bytes], owner: int, piece: int, page: int) -> bytes:
    """The stored form of pages stored as they are, one after the other, from a piece's start.

    One literal operation of a block list (`encode` joins such parts after `_MAGIC`); what a
    full backup of fixed-size pages lists, built without an `Entry` per page.
    """
    head = ENTRY_HEAD.pack(owner, piece)
    tails = _page_tails(len(hashes), page)
    return (
        b"N"
        + _COUNT.pack(len(hashes))
        + b"".join(itertools.chain.from_iterable(zip(hashes, itertools.repeat(head), tails)))
    )


@functools.lru_cache(maxsize=4)
def _page_tails(count: int, page: int) -> list[bytes]:
    """The fields after (sha256, owner, piece) of `count` raw pages from a piece's start."""
    return [ENTRY_TAIL.pack(at * page, page, page, -1, RAW) for at in range(count)]


def join_index(parts: Iterable[bytes]) -> bytes:
    """A block list in its stored form from operations made by `encode_pages`."""
    return _MAGIC + b"".join(parts)


def decode_index(raw: bytes, base: Sequence[Entry], where: str) -> BlockTable:
    """The full block list from its stored form and the base backup's full block list."""
    if not raw.startswith(_MAGIC):
        raise BackupDamaged(f"{where}: not a block list (bad header)")
    if not isinstance(base, BlockTable):
        base = BlockTable.of(base)
    entries = BlockTable()
    view, at = memoryview(raw), len(_MAGIC)
    try:
        while at < len(raw):
            op, at = raw[at : at + 1], at + 1
            if op == b"C":
                start, count = _COPY.unpack_from(view, at)
                at += _COPY.size
                if start + count > len(base):
                    raise BackupDamaged(f"{where}: copies blocks its base does not have")
                entries.extend_from(base, start, count)
            elif op == b"N":
                (count,) = _COUNT.unpack_from(view, at)
                at += _COUNT.size
                literals = raw[at : at + count * ENTRY.size]
                if len(literals) != count * ENTRY.size:
                    raise BackupDamaged(f"{where}: truncated block list (a literal run)")
                entries.extend_literals(literals, count, base, where)
                at += count * ENTRY.size
            else:
                raise BackupDamaged(
                    f"{where}: unknown block list operation {op!r} at byte {at - 1}"
                )
    except struct.error as exc:
        raise BackupDamaged(f"{where}: truncated block list ({exc})") from None
    return entries
