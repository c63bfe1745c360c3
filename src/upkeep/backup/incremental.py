"""Responsible for taking one backup, full or incremental, from an engine into a store.

The engine gives a consistent snapshot to read (`DatabaseEngine.reading`): a file it wrote into
the backup's staging directory, or, for SQLite in rollback-journal mode, the database file itself
while a read transaction keeps it unchanged. It is read once, cut at the engine's block
boundaries and each block sha256'd. A block already stored in the chain (or
earlier in this backup) is only listed; a new one is packed into a piece (`pieces.PieceWriter`),
stored relative to the base's block at the same position when that is much smaller (`delta`).
A full backup of fixed-size pages (SQLite) has nothing to compare with, so each read of the
snapshot becomes one piece as it is, hashed, compressed and written by one worker job, with no
per-page work left on the reading thread. The snapshot's digest is the sha256 of its blocks'
sha256s in order (`manifest.block_list_digest`): no second pass over the snapshot is needed.
An incremental that turns out to be mostly new (FULL_WHEN_NEW) is taken as a full from the same
snapshot; the manifest's `extra["decision"]` and the result's reason say so.
"""

from __future__ import annotations

import hashlib
import os
import secrets as random_source
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import zstandard

from upkeep import __version__
from upkeep.backup.block_table import BlockTable
from upkeep.backup.delta import encode_delta
from upkeep.backup.engines.interface import DatabaseEngine, SnapshotReading
from upkeep.backup.errors import BackupDamaged, BackupError
from upkeep.backup.manifest import (
    INDEX_PIECE,
    IndexBuilder,
    decode_index,
    encode_pages,
    join_index,
)
from upkeep.backup.pieces import BlockReader, PieceWriter, page_hashes
from upkeep.backup.samples import DEFAULT_SAMPLE_ROWS
from upkeep.backup.stores.interface import (
    BackupKind,
    BackupStore,
    Manifest,
    PieceRef,
    walk_chain,
)

__all__ = [
    "FULL_WHEN_NEW",
    "BackupResult",
    "block_list",
    "chain_of",
    "new_backup_id",
    "take_backup",
]

# Pieces of 8 MiB (before compression) keep a piece's compression one job for one thread and
# bound what a restore decompresses to fetch one block; reads of 16 MiB amortise syscalls.
# A full backup of fixed-size pages reads one piece at a time: each read is one worker job.
PIECE_SIZE = 8 << 20
READ_SIZE = 16 << 20
# One worker more than cores: a worker waiting for its piece's fsync leaves a core idle otherwise.
WORKERS = max(1, min(4, os.cpu_count() or 1)) + 1
SNAPSHOT_NAME = "snapshot"
# An incremental whose new blocks hold more than this share of the snapshot's bytes is taken as
# a full instead (and says so): it would store most of the file anyway, comparing every block
# with its base costs more than compressing it, and a restore would read the whole chain.
FULL_WHEN_NEW = 0.5
# ... unless the snapshot is smaller than one piece: then either costs next to nothing, and the
# backups follow the policy's chain as configured.
FULL_WHEN_NEW_FROM = PIECE_SIZE
# A changed block is stored as a delta of its base's block while at most this share of the
# blocks read so far changed (judged after the first DELTA_SAMPLE blocks). Changes scattered
# wider than that are stored whole: a delta costs a read of the base's pieces and ~30 us of
# Python per block on the reading thread, which made an incremental after 1% of the rows changed
# at random (a quarter of the pages) slower than a full backup.
DELTA_MAX_CHANGED = 0.1
DELTA_SAMPLE = 2048
CHUNK_BATCH = 256  # content-defined chunks handed to the storing loop at a time


@dataclass(frozen=True)
class BackupResult:
    """One published backup and how long it took to make."""

    manifest: Manifest
    duration_s: float
    reason: str


def new_backup_id(database: str, now: datetime) -> str:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{database}-{stamp}-{random_source.token_hex(2)}"


def chain_of(store: BackupStore, manifest: Manifest | None) -> list[Manifest]:
    """`manifest` and the backups it is based on, root (the full backup) first."""
    if manifest is None:
        return []
    by_id = {m.id: m for m in store.manifests(manifest.database)}
    chain, missing = walk_chain(manifest, by_id)
    if missing is not None:
        raise BackupDamaged(
            f"backup {chain[-1].id} is based on {missing}, which is not in the store"
            " (or is damaged)"
        )
    return chain[::-1]


def block_list(store: BackupStore, chain: Sequence[Manifest]) -> BlockTable:
    """The full block list of the last backup of `chain`, each index piece checked on the way."""
    entries = BlockTable()
    for manifest in chain:
        raw = zstandard.ZstdDecompressor().decompress(store.read_piece(manifest, manifest.index))
        entries = decode_index(raw, entries, f"{manifest.id}/{manifest.index}")
    if entries and max(entries.owners) >= len(chain):
        raise BackupDamaged(f"{chain[-1].id}/{chain[-1].index}: names a backup outside its chain")
    return entries


def take_backup(
    engine: DatabaseEngine,
    store: BackupStore,
    *,
    base: Manifest | None,
    compression_level: int,
    reason: str = "",
    now: datetime | None = None,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
) -> BackupResult:
    """Snapshot `engine`'s database and publish it in `store`, as an incremental on `base`.

    The manifest records the row counts and the sample hashes (`sample_rows` per table; 0: none)
    taken from the snapshot.

    Nothing is published unless every piece was written and fsynced: on any error (a full disk
    included) the staging directory is removed and the error raised.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    backup_id = new_backup_id(engine.database.name, now)
    chain = chain_of(store, base)
    base_entries = block_list(store, chain) if chain else BlockTable()
    staging = store.new_staging(backup_id)
    decision = ""
    try:
        with engine.reading(staging / SNAPSHOT_NAME, sample_rows=sample_rows) as reading:
            try:
                listed, pieces, index, new_blocks = _write(
                    reading, engine, store, chain, base_entries, staging, compression_level
                )
            except _MostlyNew as exc:
                # The delta would be most of the file: a full costs less to take and to restore.
                decision = (
                    f"taken as a full backup: {exc.share:.1%} of the snapshot was new on"
                    f" {chain[-1].id} (more than {FULL_WHEN_NEW:.0%})"
                )
                for child in staging.iterdir():
                    if child.name != SNAPSHOT_NAME:
                        child.unlink()
                chain, base_entries = [], BlockTable()
                listed, pieces, index, new_blocks = _write(
                    reading, engine, store, chain, base_entries, staging, compression_level
                )
            snapshot = reading.finished()
        manifest = Manifest(
            id=backup_id,
            engine=snapshot.engine,
            database=snapshot.database,
            server_version=snapshot.server_version,
            # Microseconds: backups taken within one second still sort in the order taken.
            created=now.astimezone(UTC).isoformat(timespec="microseconds"),
            kind=BackupKind.INCREMENTAL if chain else BackupKind.FULL,
            base=chain[-1].id if chain else None,
            chain_root=chain[0].id if chain else backup_id,
            size=listed.size,
            sha256=listed.digest,
            stored_bytes=sum(p.size for p in pieces) + index.size,
            block_size=snapshot.block_size,
            block_count=listed.block_count,
            index=INDEX_PIECE,
            pieces=(*pieces, index),
            row_counts=dict(snapshot.row_counts),
            compression=compression_level,
            upkeep_version=__version__,
            extra={
                "new_blocks": new_blocks,
                **({"decision": decision} if decision else {}),
                **({"deltas": listed.deltas} if listed.deltas else {}),
            },
            samples=snapshot.samples.to_json() if snapshot.samples else None,
        )
        store.put(staging, manifest)
    except BaseException as exc:
        store.discard(staging)
        if isinstance(exc, OSError):
            raise BackupError(
                f"backup of database {engine.database.name!r} failed and was discarded: {exc}"
            ) from exc
        raise
    reason = f"{reason}; {decision}" if reason and decision else reason or decision
    return BackupResult(manifest, time.perf_counter() - started, reason)


def _new_limit(size: int) -> int | None:
    """How many bytes of new blocks make an incremental of a `size`-byte snapshot a full."""
    return int(FULL_WHEN_NEW * size) if size >= FULL_WHEN_NEW_FROM else None


class _MostlyNew(Exception):
    """More than FULL_WHEN_NEW of the snapshot's bytes are in blocks new to the chain."""

    def __init__(self, share: float) -> None:
        super().__init__(f"{share:.0%} of the snapshot is new")
        self.share = share


def _write(
    reading: SnapshotReading,
    engine: DatabaseEngine,
    store: BackupStore,
    chain: Sequence[Manifest],
    base_entries: BlockTable,
    staging: Path,
    level: int,
) -> tuple[_Listed, list[PieceRef], PieceRef, int]:
    """The snapshot's pieces written into `staging`: what was listed, the pieces, the index
    piece and how many blocks were stored. Raises `_MostlyNew` (pieces left for the caller to
    remove) as soon as an incremental turns out to be mostly new."""
    writer = PieceWriter(staging, level, piece_size=PIECE_SIZE, workers=WORKERS)
    with writer:
        if reading.block_size and not chain:
            listed = _store_full_pages(reading, reading.block_size, writer)
        else:
            listed = _store_blocks(
                reading,
                _hashed_blocks(reading, engine, writer.pool),
                IndexBuilder(base_entries, owner=len(chain)),
                writer,
                # The base is read in snapshot order, each member's pieces in turn: one piece
                # per member at a time is all the cache needs (and all the memory it holds).
                BlockReader(store, chain, cache_pieces=len(chain) + 1),
                new_limit=_new_limit(reading.size) if chain else None,
            )
        pieces = writer.finish()
        index = writer.write_named(INDEX_PIECE, listed.index)
    return listed, pieces, index, writer.blocks


@dataclass(frozen=True)
class _Listed:
    """What storing a snapshot's blocks gave: its size, block list (stored form) and digest."""

    size: int
    index: bytes
    digest: str
    block_count: int
    deltas: str = ""  # when deltas stopped being made, and why


def _store_full_pages(reading: SnapshotReading, page: int, writer: PieceWriter) -> _Listed:
    """A full backup of fixed-size pages: every read becomes one piece, hashed on a worker.

    With no base there is nothing to compare a page with, so nothing per page happens here;
    pages repeated within the snapshot are stored again (zstd makes the repeats cheap).
    """
    if PIECE_SIZE % page:
        raise BackupError(
            f"snapshot {reading.path}: page size {page} does not divide the piece size"
        )
    size = reading.size
    for chunk in _reads(reading, page):
        writer.add_pages(chunk, page)
    pieces = writer.finish_pages()
    hashes = [block_hash for _, piece_hashes in pieces for block_hash in piece_hashes]
    return _Listed(
        size,
        join_index(encode_pages(piece_hashes, 0, number, page) for number, piece_hashes in pieces),
        hashlib.sha256(b"".join(hashes)).hexdigest(),
        len(hashes),
    )


def _store_blocks(
    reading: SnapshotReading,
    batches: Iterable[tuple[list[memoryview], list[bytes]]],
    builder: IndexBuilder,
    writer: PieceWriter,
    previous: BlockReader,
    new_limit: int | None = None,
) -> _Listed:
    """Store the blocks not yet stored in the chain, given in batches with their sha256s;
    `_MostlyNew` once the new blocks add up to more than `new_limit` bytes."""
    # The hot loop of an incremental backup (a quarter of a million pages per GB): locals, and
    # a run of blocks the base has at the same positions is listed in one call (`follow`).
    known, follow, add, stored = builder.known, builder.follow, writer.add, builder.stored
    base_lengths = builder.base.lengths
    base_count = len(base_lengths)
    size = new = changed = position = 0
    limit = reading.size if new_limit is None else new_limit
    deltas, stopped = base_count > 0, ""
    for blocks, hashes in batches:
        at, count = 0, len(hashes)
        while at < count:
            same = follow(hashes, at)
            if same:
                size += sum(len(block) for block in blocks[at : at + same])
                at += same
                position += same
                continue
            block, block_hash = blocks[at], hashes[at]
            at += 1
            position += 1
            length = len(block)
            size += length
            if known(block_hash):
                continue
            new += length
            if new > limit:
                raise _MostlyNew(new / reading.size)
            changed += 1
            if deltas and position > DELTA_SAMPLE and changed > DELTA_MAX_CHANGED * position:
                deltas = False
                stopped = (
                    f"changed blocks stored whole from block {position - 1}: {changed} of the"
                    f" first {position} had changed (scattered, more than {DELTA_MAX_CHANGED:.0%})"
                )
            where = position - 1
            if deltas and where < base_count and base_lengths[where] == length:
                kind, data = encode_delta(block, previous.block(builder.base[where]), writer.level)
                piece, offset = add(data)
                stored(
                    block_hash, piece, offset, length, stored=len(data), delta_at=where, kind=kind
                )
            else:
                piece, offset = add(block)
                stored(block_hash, piece, offset, length)
    if size != reading.size:
        raise BackupError(f"block boundaries of {reading.path} end at {size}, before its end")
    return _Listed(size, builder.encode(), builder.digest(), builder.count, stopped)


def _hashed_blocks(
    reading: SnapshotReading, engine: DatabaseEngine, pool: ThreadPoolExecutor
) -> Iterator[tuple[list[memoryview], list[bytes]]]:
    """The snapshot's blocks with their sha256s, in batches: fixed pages a read at a time,
    hashed on `pool`; content-defined chunks in batches of CHUNK_BATCH, hashed here."""
    page = reading.block_size
    if not page:
        sha256 = hashlib.sha256
        blocks: list[memoryview] = []
        snapshot = reading.finished()  # a snapshot file cut by content: complete already
        for block in _blocks(snapshot.path, engine.boundaries(snapshot)):
            blocks.append(block)
            if len(blocks) == CHUNK_BATCH:
                yield blocks, [sha256(b).digest() for b in blocks]
                blocks = []
        if blocks:
            yield blocks, [sha256(b).digest() for b in blocks]
        return
    pending: deque[tuple[memoryview, Future[list[bytes]]]] = deque()
    chunks = _reads(reading, page)  # whole pages: a page never straddles two reads
    while True:
        chunk = next(chunks, b"")  # three held at a time: bounded like a full's
        if chunk:
            view = memoryview(chunk)
            pending.append((view, pool.submit(page_hashes, view, page)))
        # Keep two reads ahead of the loop that consumes them, no more.
        while pending and (len(pending) > 2 or not chunk):
            view, hashes = pending.popleft()
            yield [view[at : at + page] for at in range(0, len(view), page)], hashes.result()
        if not chunk:
            return


def _reads(reading: SnapshotReading, page: int) -> Iterator[bytes]:
    """The snapshot in reads of PIECE_SIZE bytes (the last one shorter), whole pages each."""
    if reading.size % page:
        raise BackupError(
            f"snapshot {reading.path} is {reading.size} bytes, not a whole number of"
            f" {page}-byte pages"
        )
    for offset in range(0, reading.size, PIECE_SIZE):
        length = min(PIECE_SIZE, reading.size - offset)
        chunk = reading.read_at(offset, length)
        while len(chunk) < length:  # pread may return less than asked (a signal): read on
            more = reading.read_at(offset + len(chunk), length - len(chunk))
            if not more:
                raise BackupError(
                    f"snapshot {reading.path} ended at {offset + len(chunk)}"
                    f" bytes while it was read; expected {reading.size}"
                )
            chunk += more
        yield chunk


def _blocks(path: Path, ends: Iterator[int]) -> Iterator[memoryview]:
    """The file's blocks, cut at `ends`, read in large reads."""
    data, data_start, block_start = b"", 0, 0
    with path.open("rb") as handle:
        for end in ends:
            while end > data_start + len(data):
                more = handle.read(READ_SIZE)
                if not more:
                    raise BackupError(f"block boundary {end} lies past the end of {path}")
                data, data_start = data[block_start - data_start :] + more, block_start
            view = memoryview(data)
            yield view[block_start - data_start : end - data_start]
            block_start = end
        if handle.read(1):
            raise BackupError(f"block boundaries of {path} end at {block_start}, before its end")
    return
