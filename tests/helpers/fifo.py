"""A FIFO where a regular file is expected: the code under test must refuse it at once, and a
test must fail, not hang, when the code waits for a writer instead."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

WAIT_S = 30.0


def without_waiting_on(fifo: Path, action: Callable[[], T]) -> T:
    """What `action` returns (or raises), run on a thread; a test failure when it is still
    waiting after WAIT_S, once the FIFO has been opened and closed to let it go."""
    outcome: list[T] = []
    raised: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(action())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test's thread
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(WAIT_S)
    if worker.is_alive():
        with fifo.open("wb"):  # the waiting reader sees its end and goes
            pass
        worker.join()
        pytest.fail(f"waited for a writer to the FIFO {fifo.name}")
    if raised:
        raise raised[0]
    return outcome[0]
