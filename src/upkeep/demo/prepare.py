"""Responsible for getting the demo ready for a run: `prepared` builds it when the config has a
`demo:` section and it is not built yet, and serves its HTTP health service while the runs go on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from upkeep.config import Config


@contextlib.contextmanager
def prepared(
    config: Config, *, start_service: bool, notify: Callable[[str], None]
) -> Iterator[None]:
    """For the duration of a `with` block: the demo built (`notify` says so before a build,
    which takes a moment) and, if `start_service`, its health service up. Nothing at all when
    the config has no `demo:` section: it points at a real system."""
    if config.demo is None:
        yield
        return
    from upkeep.demo.build import build_demo, demo_is_built
    from upkeep.demo.service import DemoService

    if not demo_is_built(config):
        notify(f"building the demo system under {config.demo.root} ...")
        build_demo(config)
    service = DemoService(config) if start_service else contextlib.nullcontext()
    with service:
        yield
