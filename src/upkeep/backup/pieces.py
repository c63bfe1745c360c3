"""Responsible for a backup's pieces: blocks packed into zstd pieces on worker threads, and any
block of a chain read back from them.

`PieceWriter` appends blocks to the current piece and hands each full piece to a worker thread,
which compresses it, writes it as a new fsynced file in the staging directory and sha256's it
(zstd and hashlib release the GIL, so reading the snapshot goes on meanwhile); a whole piece of
fixed-size pages can be handed over at once, its pages hashed on the worker too. `BlockReader`
fetches a chain's pieces through the store (each checked against its sha256), decompresses each
once and keeps the recent ones, and resolves a block stored as a delta against its predecessor.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import zstandard

from upkeep.backup.block_table import RAW, Entry
from upkeep.backup.delta import apply_delta
from upkeep.backup.errors import BackupDamaged
from upkeep.backup.manifest import piece_name
from upkeep.backup.stores.interface import BackupStore, Manifest, PieceRef, write_synced

__all__ = ["PIECE_CACHE", "BlockReader", "PieceWriter", "page_hashes", "write_piece"]

# Decompressed pieces kept for blocks to come: a chain's blocks jump between the pieces of its
# members; 16 pieces of 8 MiB bound the memory while keeping re-reads rare.
PIECE_CACHE = 16


class PieceWriter:
    """Packs blocks into pieces of `piece_size` bytes, compressing and writing full pieces on
    `workers` threads.

    `add` packs single blocks; `add_pages` hands over a whole piece of fixed-size pages, hashed
    on the worker too (a full backup), whose page hashes `finish_pages` returns in order.
    """

    def __init__(self, directory: Path, level: int, *, piece_size: int, workers: int) -> None:
        self.directory = directory
        self.level = level
        self.piece_size = piece_size
        self.workers = workers
        self.buffer = bytearray()
        self.number = 0
        self.blocks = 0
        self.pending: deque[Future[PieceRef] | Future[tuple[PieceRef, list[bytes]]]] = deque()
        self.done: list[PieceRef] = []
        self.hashes: list[tuple[int, list[bytes]]] = []
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="upkeep-backup")

    def __enter__(self) -> PieceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)

    def add(self, block: memoryview | bytes) -> tuple[int, int]:
        buffer = self.buffer
        offset = len(buffer)
        buffer += block
        self.blocks += 1
        number = self.number
        if offset >= self.piece_size - len(block):
            self._submit()
        return number, offset

    def add_pages(self, data: bytes, page: int) -> None:
        """Store `data` (whole pages) as a piece of its own, hashing its pages on the worker."""
        if self.buffer:
            self._submit()
        path = self.directory / piece_name(self.number)
        self.number += 1
        self.blocks += len(data) // page
        self.pending.append(self.pool.submit(_hash_and_write_piece, path, data, page, self.level))
        self._bound()

    def finish(self) -> list[PieceRef]:
        if self.buffer:
            self._submit()
        while self.pending:
            self._collect()
        return self.done

    def finish_pages(self) -> list[tuple[int, list[bytes]]]:
        """(piece number, its page hashes) of every `add_pages` piece, in order."""
        self.finish()
        return self.hashes

    def write_named(self, name: str, data: bytes) -> PieceRef:
        return write_piece(self.directory / name, bytes(data), self.level)

    def _submit(self) -> None:
        path = self.directory / piece_name(self.number)
        data, self.buffer = self.buffer, bytearray()  # handed over whole: no copy
        self.number += 1
        self.pending.append(self.pool.submit(write_piece, path, data, self.level))
        self._bound()

    def _bound(self) -> None:
        # Bound the memory held by pieces waiting for a thread; surface a write error early.
        while len(self.pending) > 2 * self.workers:
            self._collect()

    def _collect(self) -> None:
        result = self.pending.popleft().result()
        if isinstance(result, PieceRef):
            self.done.append(result)
        else:
            ref, hashes = result
            # Every pending job is one piece, numbered in submission order: this one's number.
            self.hashes.append((len(self.done), hashes))
            self.done.append(ref)


def write_piece(path: Path, data: bytes | bytearray, level: int) -> PieceRef:
    """Compress `data` into the new file `path`, fsynced; its size and sha256 as stored."""
    compressed = zstandard.ZstdCompressor(level=level).compress(data)
    write_synced(path, compressed)
    return PieceRef(path.name, len(compressed), hashlib.sha256(compressed).hexdigest())


def page_hashes(data: memoryview | bytes, page: int) -> list[bytes]:
    """The sha256 of each `page`-byte page of `data`, in order."""
    view, sha256 = memoryview(data), hashlib.sha256
    return [sha256(view[at : at + page]).digest() for at in range(0, len(view), page)]


def _hash_and_write_piece(
    path: Path, data: bytes, page: int, level: int
) -> tuple[PieceRef, list[bytes]]:
    hashes = page_hashes(data, page)
    return write_piece(path, data, level), hashes  # looked up at call time: tests wrap it


class BlockReader:
    """The content of any block of a chain, each piece fetched, checked and decompressed once.

    At most `cache_pieces` decompressed pieces are kept (never more than PIECE_CACHE): a reader
    that walks the chain in snapshot order needs one per member of the chain.
    """

    def __init__(
        self, store: BackupStore, chain: Sequence[Manifest], *, cache_pieces: int = PIECE_CACHE
    ) -> None:
        self.store = store
        self.chain = chain
        self.cache_pieces = max(1, min(cache_pieces, PIECE_CACHE))
        self.cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self.read: set[tuple[str, str]] = set()
        self.decompressor = zstandard.ZstdDecompressor()

    def block(self, entry: Entry) -> bytes:
        """The block's content (a block stored as a delta is resolved against its predecessor)."""
        stored = self.piece(entry.owner, entry.piece)[entry.offset : entry.offset + entry.stored]
        where = f"{self.chain[entry.owner].id}/{piece_name(entry.piece)}"
        if len(stored) != entry.stored:
            raise BackupDamaged(f"{where}: shorter than its block list says")
        if entry.kind == RAW:
            return stored
        assert entry.delta is not None  # decode_index gives every delta its predecessor
        return apply_delta(entry.kind, stored, self.block(entry.delta), entry.length, where)

    def piece(self, owner: int, number: int) -> bytes:
        key = (owner, number)
        data = self.cache.get(key)
        if data is not None:
            self.cache.move_to_end(key)
            return data
        member = self.chain[owner]
        name = piece_name(number)
        try:
            data = self.decompressor.decompress(self.store.read_piece(member, name))
        except zstandard.ZstdError as exc:
            raise BackupDamaged(f"{member.id}/{name}: does not decompress ({exc})") from None
        self.read.add((member.id, name))
        self.cache[key] = data
        if len(self.cache) > self.cache_pieces:
            self.cache.popitem(last=False)
        return data
