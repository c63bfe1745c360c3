"""Tests for upkeep.backup.chunking: content-defined chunk boundaries of a dump."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.backup.chunking import DEFAULT_SIZES, ChunkSizes, chunk_ends, chunk_ends_of_file


def noise(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def chunks(data: bytes, ends: list[int]) -> list[bytes]:
    starts = [0, *ends[:-1]]
    return [data[start:end] for start, end in zip(starts, ends, strict=True)]


def digests(data: bytes, ends: list[int]) -> list[str]:
    return [hashlib.sha256(chunk).hexdigest() for chunk in chunks(data, ends)]


def test_boundaries_are_deterministic_and_the_same_from_a_file(tmp_path: Path) -> None:
    data = noise(3 << 20)
    path = tmp_path / "dump"
    path.write_bytes(data)
    first = list(chunk_ends(data))
    assert first == list(chunk_ends(data))
    assert first == list(chunk_ends_of_file(path))
    assert len(first) > 10  # really cut, not one chunk


def test_boundaries_are_pinned_so_an_upgrade_that_moves_them_is_noticed() -> None:
    """Restores never depend on where chunks end (the block list records it), but deduplication
    against older backups does: a pyfastcdc release that cuts elsewhere must be a deliberate
    upgrade, not a surprise that makes the next incremental as large as a full backup."""
    ends = list(chunk_ends(noise(64 << 10, seed=7)))
    assert ends == [2795, 8237, 14979, 18016, 23555, 27873, 38769, 47934, 55167, 59447, 62834,
                    65536]  # fmt: skip


def test_chunks_cover_the_input_and_respect_the_sizes() -> None:
    data = noise(4 << 20, seed=2)
    ends = list(chunk_ends(data))
    lengths = [b - a for a, b in zip([0, *ends], ends, strict=False)]
    assert ends[-1] == len(data)
    assert all(length > 0 for length in lengths)
    assert all(DEFAULT_SIZES.minimum <= n <= DEFAULT_SIZES.maximum for n in lengths[:-1])
    assert lengths[-1] <= DEFAULT_SIZES.maximum
    # The mean is near average + minimum (FastCDC skips `minimum` bytes before cutting).
    mean = sum(lengths) / len(lengths)
    assert DEFAULT_SIZES.average <= mean <= DEFAULT_SIZES.average + 2 * DEFAULT_SIZES.minimum


def test_repetitive_input_is_cut_at_the_maximum() -> None:
    data = b"\0" * (1 << 20)  # no content to cut on: every chunk is as long as allowed
    ends = list(chunk_ends(data))
    assert ends == list(range(DEFAULT_SIZES.maximum, len(data) + 1, DEFAULT_SIZES.maximum))


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (lambda d: d[:1000] + noise(100, seed=9) + d[1000:], "insert 100 bytes near the start"),
        (lambda d: d[:5000] + d[5300:], "delete 300 bytes near the start"),
        (lambda d: d[: 2 << 20] + b"x" + d[(2 << 20) + 1 :], "change one byte in the middle"),
    ],
)
def test_an_edit_changes_only_the_chunks_around_it(edit, what: str) -> None:
    original = noise(8 << 20, seed=3)
    edited = edit(original)
    before = set(digests(original, list(chunk_ends(original))))
    after = digests(edited, list(chunk_ends(edited)))
    new = [d for d in after if d not in before]
    assert 1 <= len(new) <= 2, f"{what}: {len(new)} of {len(after)} chunks are new"


def test_fixed_blocks_would_not_survive_the_same_insertion() -> None:
    """The contrast that makes content-defined chunking worth it (and this data a fair test)."""
    original = noise(8 << 20, seed=3)
    edited = original[:1000] + noise(100, seed=9) + original[1000:]
    block = DEFAULT_SIZES.average
    fixed = list(range(block, len(original), block)) + [len(original)]
    fixed_edited = list(range(block, len(edited), block)) + [len(edited)]
    before = set(digests(original, fixed))
    assert all(d not in before for d in digests(edited, fixed_edited))


def test_empty_and_tiny_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert list(chunk_ends(b"")) == []
    assert list(chunk_ends_of_file(empty)) == []
    assert list(chunk_ends(b"abc")) == [3]


def test_sizes_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="minimum <= average <= maximum"):
        ChunkSizes(minimum=64 << 10, average=16 << 10, maximum=256 << 10)
    with pytest.raises(ValueError, match="maximum in"):
        ChunkSizes(minimum=64, average=256, maximum=512)


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=40_000),
    sizes=st.sampled_from(
        [ChunkSizes(64, 256, 1024), ChunkSizes(256, 1024, 4096), ChunkSizes(1024, 1024, 1024)]
    ),
)
def test_any_input_is_covered_within_the_bounds(data: bytes, sizes: ChunkSizes) -> None:
    ends = list(chunk_ends(data, sizes))
    assert b"".join(chunks(data, ends)) == data if ends else data == b""
    lengths = [b - a for a, b in zip([0, *ends], ends, strict=False)]
    assert all(sizes.minimum <= n <= sizes.maximum for n in lengths[:-1])
    assert all(0 < n <= sizes.maximum for n in lengths)
