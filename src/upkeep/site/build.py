"""Responsible for running MkDocs on the system's site: `build_site` and `serve_site`.

The site's sources are the `mkdocs.yml` beside upkeep.yml when there is one (a project that
keeps its own, as upkeep's checkout does), else the ones shipped in the package; `site:` in
upkeep.yml adds pages of the user's own (read by the plugin) and says where the site is built.
MkDocs runs in a child process (its own command line, as `nox -s docs` or `mike deploy` would run
it), with `UPKEEP_CONFIG` naming the config so the `upkeep` plugin reads the same system, and with
mkdocs-macros' INFO chatter (which modules and variables it found) kept out of the output: its
warnings and errors still show.
When upkeep is interrupted (Ctrl-C, or SIGTERM or SIGHUP, which the command line turns into the
same interruption) the child is stopped before upkeep ends: no server is left answering.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from upkeep.config import Config
from upkeep.config.cleanup import holds_kept
from upkeep.config.reader import lexical
from upkeep.errors import ConfigError, UpkeepError
from upkeep.package_files import SHIPPED_SITE_DIR
from upkeep.site import swap

MKDOCS_CONFIG_NAME = "mkdocs.yml"
STOP_GRACE_S = 10.0  # how long mkdocs has to stop after SIGTERM before it is killed
# mkdocs' own command line, with mkdocs-macros' logger (`mkdocs.plugins.mkdocs_macros.*`) at
# WARNING: mkdocs-macros has no setting that silences its INFO lines.
# Left in each site built (hidden: kept when the next build empties the folder), so that a
# folder holding other things is never taken for one.
SITE_MARKER = ".upkeep-site"
MARKER_TEXT = "A site built by `upkeep site build`: the next build empties this folder.\n"
# Where the plugin keeps its caches instead of state_dir, for one build (`--no-cache`).
SITE_STATE_VARIABLE = "UPKEEP_SITE_STATE"
# Where a build beside the site (`swap.staged`) tells the plugin the served site is: the run
# folders of the last build are taken from there.
SITE_PREVIOUS_VARIABLE = "UPKEEP_SITE_PREVIOUS"
# The pid of the upkeep that started mkdocs: gone already when mkdocs starts, it stops at once.
PARENT_VARIABLE = "UPKEEP_PARENT_PID"
# mkdocs' exit code when the system failed it (a full disk, a folder it may not write): said in
# one line, not a traceback.
EXIT_SYSTEM_FAILED = 74
# SIGTERM (how upkeep stops it) is taken as Ctrl-C: `mkdocs serve` then removes the temporary
# folder it serves from (/tmp/mkdocs_*), which a plain SIGTERM leaves behind.
# It also asks the kernel for SIGTERM when upkeep ends (PR_SET_PDEATHSIG, Linux): upkeep killed
# outright (SIGKILL) must not leave mkdocs writing into a site folder, or serving, on its own.
_MKDOCS_MAIN = f"""
import ctypes, logging, os, signal, sys
signal.signal(signal.SIGTERM, signal.default_int_handler)
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
except (AttributeError, OSError):
    pass
if os.getppid() != int(os.environ.get('{PARENT_VARIABLE}', os.getppid())):
    sys.exit(143)
logging.getLogger('mkdocs.plugins.mkdocs_macros').setLevel(logging.WARNING)
from mkdocs.__main__ import cli
try:
    sys.exit(cli(prog_name='mkdocs'))
except OSError as exc:
    if exc.errno is None:
        raise
    where = f': {{exc.filename}}' if exc.filename else ''
    print(f'mkdocs: {{exc.strerror}}{{where}}', file=sys.stderr)
    sys.exit({EXIT_SYSTEM_FAILED})
"""


class SiteBuildFailed(UpkeepError):
    """The system failed a site build (a full disk): exit code 3, as for a run."""

    exit_code = 3


def mkdocs_config(config: Config) -> Path:
    """`mkdocs.yml` beside upkeep.yml, else the one shipped with upkeep."""
    beside = config.root / MKDOCS_CONFIG_NAME
    if beside.is_file():
        return beside
    shipped = SHIPPED_SITE_DIR / MKDOCS_CONFIG_NAME
    if not shipped.is_file():
        raise UpkeepError(
            f"{beside}: not found, and this installation of upkeep has no site sources of its "
            f"own ({shipped}); expected a mkdocs.yml beside {config.path.name}, or reinstall upkeep"
        )
    return shipped


def site_folder(config: Config, site_dir: Path | None = None) -> Path | None:
    """Where the site is built: `site_dir` as asked, else `site.site_dir` of upkeep.yml, else
    `site` beside upkeep.yml for the shipped sources; None leaves it to the project's mkdocs.yml."""
    if site_dir is not None:
        return Path(site_dir).resolve()
    if config.site.site_dir is not None:
        return config.site.site_dir
    if mkdocs_config(config).parent != config.root:
        return config.root / "site"
    return None


def build_site(
    config: Config,
    site_dir: Path | None = None,
    strict: bool = True,
    *,
    quiet: bool = False,
    fleet: Path | None = None,
    no_cache: bool = False,
) -> Path:
    """Build the whole site (hand-written and generated pages, run reports); return its folder.
    `quiet` keeps mkdocs' messages unless the build fails (a build made for a review); `fleet`
    adds the pages of every host of that fleet file (the plugin reads it from UPKEEP_FLEET);
    `no_cache` reads none of the caches an earlier build left under state_dir (each run verified
    and rendered again, into caches of this build's own that are removed after it)."""
    path = mkdocs_config(config)
    args = ["build", "--config-file", str(path), "--strict" if strict else "--no-strict"]
    folder = site_folder(config, site_dir)
    target = folder if folder is not None else _configured_site_dir(path)
    why = site_dir_refusal(target, config)
    if why is not None:
        raise ConfigError(
            f"site folder: {why}; expected a folder of the site's own, empty or holding a site "
            "built before (a build replaces what it holds)"
        )
    if (unbuildable := _unbuildable_page(config)) is not None:
        raise ConfigError(f"site page {unbuildable}; the site is built from it")
    target = Path(os.path.realpath(target))
    cleared: list[str] = []
    try:
        with swap.staged(target, cleared) as staging:
            for line in cleared:
                print(f"upkeep: {line}", file=sys.stderr)
            args += ["--site-dir", str(staging)]
            if not no_cache:
                _mkdocs(config, args, "build", quiet=quiet, fleet=fleet, previous=target)
            else:
                # Beside the usual caches: the same filesystem, so run files still reach the
                # site by a hard link rather than a copy.
                config.state_dir.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory(
                    prefix=".site-no-cache-", dir=config.state_dir
                ) as own:
                    _mkdocs(
                        config,
                        args,
                        "build",
                        quiet=quiet,
                        fleet=fleet,
                        site_state=Path(own),
                        previous=target,
                    )
    except UpkeepError as exc:
        raise type(exc)(f"{exc}; the site in {target} is as it was") from None
    with contextlib.suppress(OSError):  # hidden: a build leaves the folder's hidden entries
        (target / SITE_MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    return target


def site_dir_refusal(folder: Path, config: Config) -> str | None:
    """Why a site build must not be given `folder`, which it empties first (every entry but
    hidden ones, so a `.git` of a gh-pages checkout stays), or None: one whose emptying would
    lose something kept (`cleanup.holds_kept`: a system directory itself, the project,
    upkeep's folders, what upkeep.yml names), as written or through its symlinks; one that is
    not a folder; or one that holds entries but no site built before (upkeep's marker, or
    MkDocs' index.html beside its sitemap or search index). A web server's document root in a
    system tree (/usr/share/nginx/html, /var/www/html) is fine when empty or a site."""
    written = lexical(folder.absolute())
    for path in dict.fromkeys((written, Path(os.path.realpath(written)))):
        why = holds_kept(path, config, leave=("site.site_dir",), keeps_hidden=True)
        if why is not None:
            return why
    try:
        names = set(os.listdir(written))
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return f"{written} is not a folder"
    except OSError as exc:
        return f"{written} cannot be listed ({exc.strerror})"
    shown = {name for name in names if not name.startswith(".")}
    built_before = SITE_MARKER in names or (
        "index.html" in shown and bool({"sitemap.xml", "search"} & shown)
    )
    if shown and not built_before:
        listed = ", ".join(sorted(shown)[:3]) + (", ..." if len(shown) > 3 else "")
        return f"{written} holds {listed} and no site built before"
    return None


def serve_site(config: Config, dev_addr: str = "127.0.0.1:8000") -> None:
    """Serve the site with live reload until interrupted."""
    path = mkdocs_config(config)
    _mkdocs(config, ["serve", "--config-file", str(path), "--dev-addr", dev_addr], "serve")


def _mkdocs(
    config: Config,
    args: list[str],
    what: str,
    *,
    quiet: bool = False,
    fleet: Path | None = None,
    site_state: Path | None = None,
    previous: Path | None = None,
) -> None:
    env = {**os.environ, "UPKEEP_CONFIG": str(config.path), "NO_MKDOCS_2_WARNING": "1"}
    env.pop("UPKEEP_FLEET", None)  # the fleet pages only when asked for
    env.pop(SITE_STATE_VARIABLE, None)
    env.pop(SITE_PREVIOUS_VARIABLE, None)
    env[PARENT_VARIABLE] = str(os.getpid())
    if site_state is not None:
        env[SITE_STATE_VARIABLE] = str(site_state)
    if previous is not None:
        env[SITE_PREVIOUS_VARIABLE] = str(previous)
    if fleet is not None:
        env["UPKEEP_FLEET"] = str(Path(fleet).resolve())
    output = subprocess.PIPE if quiet else None
    child = subprocess.Popen(
        [sys.executable, "-c", _MKDOCS_MAIN, *args],
        cwd=config.root,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if quiet else None,
    )
    try:
        said, _ = child.communicate()
    except BaseException:
        # Ctrl-C on a terminal reaches mkdocs too; a signal sent to upkeep alone (a service
        # manager's SIGTERM) must not leave a server running.
        _stop(child)
        raise
    if child.returncode == EXIT_SYSTEM_FAILED:
        reason = (said or b"").decode("utf-8", "replace").strip().splitlines()[-1:]
        raise SiteBuildFailed(
            f"mkdocs {what} failed: {reason[0]}"
            if reason
            else f"mkdocs {what} failed: the system refused it (its message is above)"
        )
    if child.returncode != 0:
        if said:
            tail = "\n".join(said.decode("utf-8", "replace").splitlines()[-20:])
            raise UpkeepError(f"mkdocs {what} failed (exit {child.returncode}):\n{tail}")
        raise UpkeepError(f"mkdocs {what} failed (exit {child.returncode}); its messages are above")


def _stop(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def docs_folders(config: Config) -> list[Path]:
    """The folders the site's pages come from: the site's own (mkdocs.yml's `docs_dir`), then
    the user's (`site.docs_dir`), whose pages replace those of the same path."""
    path = mkdocs_config(config)
    folders = [path.parent / str(_mkdocs_setting(path, "docs_dir") or "docs")]
    if config.site.docs_dir is not None:
        folders.append(config.site.docs_dir)
    return folders


def _unbuildable_page(config: Config) -> str | None:
    """The first page of the site's folders MkDocs cannot build from (a FIFO would hold it for
    good, a "billion laughs" front matter would run it out of memory, a page not in UTF-8 ends
    it in a traceback), and why; None when every page can be read."""
    from upkeep.docs_review.page_source import Unbuildable, front_matter, read_page

    for folder in docs_folders(config):
        for top, folders, names in os.walk(folder):  # MkDocs leaves hidden entries out
            folders[:] = sorted(name for name in folders if not name.startswith("."))
            for name in sorted(names):
                if name.endswith(".md") and not name.startswith("."):
                    path = Path(top) / name
                    try:
                        front_matter(read_page(path))
                    except Unbuildable as exc:
                        return f"{path}: {exc}"
                    except ValueError:  # front matter MkDocs reports itself, by page
                        continue
    return None


def _configured_site_dir(path: Path) -> Path:
    return (path.parent / str(_mkdocs_setting(path, "site_dir") or "site")).resolve()


def _mkdocs_setting(path: Path, key: str) -> object:
    import yaml

    # mkdocs.yml may hold !!python tags (Material's emoji); only plain settings are wanted here.
    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    return data.get(key) if isinstance(data, dict) else None
