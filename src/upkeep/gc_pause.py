"""Responsible for pausing Python's cyclic garbage collector around work that makes a great many
objects and no reference cycles: a scan or clean of a tree of 100,000 files, the site reading
years of run records. Every 700 allocations trigger a collection, and the older generations'
collections scan the whole growing heap: about 15 % of such work's CPU time. Reference counting
frees everything as usual meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector paused for the block, then as it was (a caller's own pause kept),
    whether the block ends or fails."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
