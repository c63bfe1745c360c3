"""Responsible for what every part of the demo needs from the config: its `demo:` settings, and
`DemoError`, the error the demo raises when it cannot be built or served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from upkeep.errors import UpkeepError

if TYPE_CHECKING:
    from upkeep.config import Config, DemoSettings


class DemoError(UpkeepError):
    """The demo system cannot be built or its service cannot be started."""


def demo_settings(config: Config) -> DemoSettings:
    """The config's `demo:` section; DemoError when it has none."""
    if config.demo is None:
        raise DemoError(f"{config.path}: no `demo:` section, so there is no demo system to use")
    return config.demo
