"""Responsible for `upkeep site build|serve|publish`: the MkDocs site built, served with live
reload, or deployed as a version to the local gh-pages branch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import GlobalOptions, NonEmptyPath

if TYPE_CHECKING:
    from upkeep.config import Config


@click.group("site")
def site_group() -> None:
    """Build, serve or publish the site: dashboard, runbooks, plan, run reports (MkDocs)."""


@site_group.command("build")
@click.option(
    "--site-dir",
    type=NonEmptyPath(file_okay=False, path_type=Path),
    help=(
        "Write the site here [default: site.site_dir of upkeep.yml, "
        "else site_dir of mkdocs.yml, ./site]."
    ),
)
@click.option("--no-strict", is_flag=True, help="Do not fail on warnings (broken links).")
@click.option(
    "--fleet",
    "fleet_path",
    metavar="FILE",
    type=NonEmptyPath(dir_okay=False, path_type=Path),
    envvar="UPKEEP_FLEET",
    help="Add the fleet pages: a dashboard of every host of this fleet file (host x runbook, "
    "worst first) and a page per host, each run verified [$UPKEEP_FLEET].",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Read none of the caches earlier builds left under state_dir: verify every run and "
    "render every page again from the evidence (an auditor's build; slower).",
)
@click.pass_obj
def site_build_command(
    options: GlobalOptions,
    site_dir: Path | None,
    no_strict: bool,
    fleet_path: Path | None,
    no_cache: bool,
) -> int:
    """Build the site with mkdocs (strict: every link must resolve).

    The new site is built in a hidden folder inside the site folder and put in place only once
    the build has succeeded: a build that fails leaves the site as it was (exit 2 for a broken
    link, 3 when the system failed it, such as a full disk).

    With --fleet, the site of this config plus a "Fleet" section: each host's evidence is read
    from its config's evidence_dir, or from the folder or git evidence branch its `evidence:`
    in the fleet file names, and verified.

    \b
    Examples:
      upkeep site build
      upkeep site build --fleet fleet.yml --site-dir public/
      upkeep site build --no-cache --site-dir /tmp/audit   # trusts no cache
    """
    return build(
        options.load_config(), site_dir, strict=not no_strict, fleet=fleet_path, no_cache=no_cache
    )


@site_group.command("serve")
@click.option(
    "--dev-addr",
    default="127.0.0.1:8000",
    show_default=True,
    metavar="IP:PORT",
    callback=lambda ctx, param, value: dev_address(value),
    help="Address to serve on.",
)
@click.pass_obj
def site_serve_command(options: GlobalOptions, dev_addr: str) -> int:
    """Serve the site with live reload (Ctrl-C stops)."""
    return serve(options.load_config(), dev_addr)


@site_group.command("publish")
@click.argument("version")
@click.argument("alias", required=False, default="latest")
@click.pass_obj
def site_publish_command(options: GlobalOptions, version: str, alias: str) -> int:
    """Deploy the site as VERSION to the local gh-pages branch, moving ALIAS [latest] onto it.

    Nothing is pushed. The branch's root redirects to ALIAS.
    """
    return publish(options.load_config(), version, alias)


def dev_address(value: str) -> str:
    """`--dev-addr` checked as mkdocs reads it, IP:PORT (localhost, or [::1] for IPv6), with a
    port mkdocs can bind: click.BadParameter otherwise, before mkdocs starts and fails with a
    traceback."""
    import ipaddress

    host, _, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        if host != "localhost":
            ipaddress.ip_address(host)
        if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(port)
    except ValueError:
        raise click.BadParameter(
            f"expected IP:PORT, such as 127.0.0.1:8000 (an IP address or localhost, a port from "
            f"1 to 65535), got {value!r}",
            param_hint="--dev-addr",
        ) from None
    return value


def build(
    config: Config,
    site_dir: Path | None,
    *,
    strict: bool,
    fleet: Path | None = None,
    no_cache: bool = False,
) -> int:
    """Build the site into `site_dir` (default: mkdocs.yml's); exit code 0. A fleet file or
    host config that cannot be read is exit 2 (ConfigError) before mkdocs starts."""
    from upkeep.site.build import build_site

    if fleet is not None:
        from upkeep.site.fleet import read_fleet_hosts

        read_fleet_hosts(fleet)
    path = build_site(config, site_dir, strict=strict, fleet=fleet, no_cache=no_cache)
    print_out(f"site built in {path}")
    return 0


def serve(config: Config, dev_addr: str) -> int:
    """Serve the site on `dev_addr` until Ctrl-C; exit code 0."""
    from upkeep.site.build import serve_site

    serve_site(config, dev_addr)
    return 0


def publish(config: Config, version: str, alias: str) -> int:
    """Deploy the site as `version` with `alias` moved onto it; exit code 0."""
    from upkeep.site.publish import publish_version

    result = publish_version(config, version, alias)
    print_out(
        f"published {result.version} (alias {result.alias}) to branch {result.branch} "
        f"at {result.commit[:12]}; versions: " + ", ".join(v.version for v in result.versions)
    )
    return 0
