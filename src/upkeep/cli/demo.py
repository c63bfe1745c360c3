"""Responsible for `upkeep demo`: the embedded demo system built, or rebuilt, under its root,
and its HTTP service run in the foreground on request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import GlobalOptions

if TYPE_CHECKING:
    from upkeep.config import Config


@click.command("demo")
@click.option("--force", is_flag=True, help="Rebuild the demo system from scratch.")
@click.option("--serve", is_flag=True, help="Run the demo HTTP service in the foreground.")
@click.pass_obj
def demo_command(options: GlobalOptions, force: bool, serve: bool) -> int:
    """Create or refresh the embedded demo system under var/demo/."""
    return build_demo_system(options.load_config(), force=force, serve=serve)


def build_demo_system(config: Config, *, force: bool, serve: bool) -> int:
    """Build the demo system unless it is built (or with `force`), then serve it until Ctrl-C
    when asked to; ConfigError when the config has no demo section. Exit code 0."""
    from upkeep import demo
    from upkeep.errors import ConfigError

    if config.demo is None:
        raise ConfigError(f"{config.path}: demo: not configured (add a demo: section with root)")
    if force or not demo.demo_is_built(config):
        path = demo.build_demo(config, force=force)
        print_out(f"demo system built under {path}")
    else:
        print_out(f"demo system is already built under {config.demo.root} (--force rebuilds)")
    if serve:
        print_out(f"serving http://127.0.0.1:{config.demo.http_port}/health (Ctrl-C stops)")
        demo.serve_forever(config)
    return 0
