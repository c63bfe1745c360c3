"""A staging folder held by another process, as a runner going on holds its own: the process
takes the folder's `flock` the way `upkeep run` does and keeps it until the test is done, then
is killed by its own pid."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOLDS_ITS_FOLDER = """\
import sys
from pathlib import Path
from upkeep.evidence.in_progress import hold
held = hold(Path(sys.argv[1]))
print("held", flush=True)
__import__("time").sleep(120)
"""


@contextmanager
def held_by_another_process(folder: Path) -> Iterator[None]:
    """`folder`'s flock held by a process of its own for as long as the block runs."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDS_ITS_FOLDER, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.kill()
        holder.wait()
