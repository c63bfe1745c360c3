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
from typing import Any, NamedTuple

from upkeep.backup.errors import BackupDamaged
from upkeep.backup.stores.interface import READABLE_FORMATS, BackupKind, Manifest, PieceRef

MANIFEST_NAME = "manifest.json"
_KINDS = frozenset(kind.value for kind in BackupKind)
INDEX_PIECE = "index.zst"
_MAGIC = b"UPKEEP-BLOCKS-1\n"
_COPY = struct.Struct("<QI")
_COUNT = struct.Struct("<I")
_ENTRY = struct.Struct("<32sHIIIIqB")
# An entry is sha256 + _HEAD + _TAIL (no padding with "<"): pages are encoded in those parts.
_HEAD = struct.Struct("<HI")
_TAIL = struct.Struct("<IIIqB")
assert _ENTRY.size == 32 + _HEAD.size + _TAIL.size
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


def piece_name(number: int) -> str:
    return f"p{number:06d}.zst"


def block_list_digest(entries: Sequence[Entry]) -> str:
    """The snapshot's digest: the sha256 of its blocks' sha256s in order (hex)."""
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
    if manifest.format not in READABLE_FORMATS or not isinstance(manifest.kind, BackupKind):
        formats = " or ".join(str(number) for number in READABLE_FORMATS)
        raise BackupDamaged(
            f"{where}: manifest format {manifest.format!r}, kind {manifest.kind!r}; "
            f"expected format {formats} and kind full or incremental"
        )
    return manifest


# ---------------------------------------------------------------- block list


class IndexBuilder:
    """Builds a backup's block list while its snapshot is read, deduplicating against its base.

    Call `known(sha256)` for each block in order: it returns True when the block is already stored
    (in the chain, or earlier in this backup) and has been listed; on False the caller stores the
    block and calls `stored(...)` with where it went.
    """

    def __init__(self, base: Sequence[Entry], owner: int) -> None:
        self.base = base
        self.owner = owner
        self.entries: list[Entry] = []
        self._base_at: dict[bytes, int] = {}
        for position, entry in enumerate(base):
            self._base_at.setdefault(entry.sha256, position)
        self._base_hashes = [entry.sha256 for entry in base]
        self._ours: dict[bytes, Entry] = {}
        self._ops: list[bytes] = []
        self._literals: list[Entry] = []
        self._run_start = -1
        self._run_length = 0

    def known(self, sha256: bytes) -> bool:
        if not self.base:  # a full backup: only its own earlier blocks can match
            entry = self._ours.get(sha256)
            if entry is None:
                return False
            self._literal(entry)
            return True
        following = self._run_start + self._run_length
        if (
            self._run_length
            and following < len(self.base)
            and self.base[following].sha256 == sha256
        ):
            self._run_length += 1
            self.entries.append(self.base[following])
            return True
        position = self._base_at.get(sha256)
        if position is not None:
            self._end_run()
            self._flush_literals()
            self._run_start, self._run_length = position, 1
            self.entries.append(self.base[position])
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
        end = min(len(hashes), start + len(base_hashes) - following)
        at = start
        while at < end and base_hashes[following + at - start] == hashes[at]:
            at += 1
        same = at - start
        if same:
            self._run_length += same
            self.entries.extend(self.base[following : following + same])
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
        self.entries.append(entry)

    def _end_run(self) -> None:
        if self._run_length:
            self._ops.append(b"C" + _COPY.pack(self._run_start, self._run_length))
            self._run_start, self._run_length = -1, 0

    def _flush_literals(self) -> None:
        if self._literals:
            packed = b"".join(_ENTRY.pack(*entry[:8]) for entry in self._literals)
            self._ops.append(b"N" + _COUNT.pack(len(self._literals)) + packed)
            self._literals = []


def encode_pages(hashes: Sequence[bytes], owner: int, piece: int, page: int) -> bytes:
    """The stored form of pages stored as they are, one after the other, from a piece's start.

    One literal operation of a block list (`encode` joins such parts after `_MAGIC`); what a
    full backup of fixed-size pages lists, built without an `Entry` per page.
    """
    head = _HEAD.pack(owner, piece)
    tails = _page_tails(len(hashes), page)
    return (
        b"N"
        + _COUNT.pack(len(hashes))
        + b"".join(itertools.chain.from_iterable(zip(hashes, itertools.repeat(head), tails)))
    )


@functools.lru_cache(maxsize=4)
def _page_tails(count: int, page: int) -> list[bytes]:
    """The fields after (sha256, owner, piece) of `count` raw pages from a piece's start."""
    return [_TAIL.pack(at * page, page, page, -1, RAW) for at in range(count)]


def join_index(parts: Iterable[bytes]) -> bytes:
    """A block list in its stored form from operations made by `encode_pages`."""
    return _MAGIC + b"".join(parts)


def decode_index(raw: bytes, base: Sequence[Entry], where: str) -> list[Entry]:
    """The full block list from its stored form and the base backup's full block list."""
    if not raw.startswith(_MAGIC):
        raise BackupDamaged(f"{where}: not a block list (bad header)")
    entries: list[Entry] = []
    view, at = memoryview(raw), len(_MAGIC)
    try:
        while at < len(raw):
            op, at = raw[at : at + 1], at + 1
            if op == b"C":
                start, count = _COPY.unpack_from(view, at)
                at += _COPY.size
                if start + count > len(base):
                    raise BackupDamaged(f"{where}: copies blocks its base does not have")
                entries.extend(base[start : start + count])
            elif op == b"N":
                (count,) = _COUNT.unpack_from(view, at)
                at += _COUNT.size
                for fields in _ENTRY.iter_unpack(view[at : at + count * _ENTRY.size]):
                    entries.append(_literal_entry(fields, base, where))
                at += count * _ENTRY.size
            else:
                raise BackupDamaged(
                    f"{where}: unknown block list operation {op!r} at byte {at - 1}"
                )
    except struct.error as exc:
        raise BackupDamaged(f"{where}: truncated block list ({exc})") from None
    return entries


def _literal_entry(fields: tuple[Any, ...], base: Sequence[Entry], where: str) -> Entry:
    delta_at, kind = fields[6], fields[7]
    if kind == RAW:
        return Entry(*fields)
    if kind not in (XOR, ZDELTA) or not 0 <= delta_at < len(base):
        raise BackupDamaged(f"{where}: a block of kind {kind} refers to base block {delta_at}")
    return Entry(*fields, base[delta_at])
