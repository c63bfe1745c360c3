"""The `upkeep …` commands a runbook shows, found in its Markdown and parsed against the real
command line: an option that no longer exists and a subcommand that never did are found, with
the runbook and the command named; placeholders and shell around a command are not."""

from __future__ import annotations

import json

import click
from helpers.project import REPO, SHIPPED_RUNBOOKS

from upkeep.cli import main
from upkeep.docs_review.commands import ShownCommand, check_command, check_commands, shown_commands

MARKDOWN = """## By hand

Run `upkeep run backup --jobs 2` or `upkeep findings --all`; see `upkeep.yml`.

```sh
$ upkeep ack log:app:1a2b --reason "known" --author alice   # a comment --bogus
UPKEEP_CONFIG=/etc/upkeep.yml upkeep verify --json | jq .ok
upkeep backlog set BL-1a2b3c4d --owner alice \\
    --due 2027-01-31 --by YOUR_NAME --reason "disk"
upkeep run backup --parallel 4
upkeep sitemap build
upkeep COMMAND --help
upkeep log
upkeep --config {{ config_file }} show backup
```
"""


def _shown(text: str) -> ShownCommand:
    return next(c for c in shown_commands("backup", [MARKDOWN]) if c.text.startswith(text))


def test_commands_are_found_in_code_blocks_and_inline_code() -> None:
    texts = [c.text for c in shown_commands("backup", [MARKDOWN])]
    assert texts[:3] == [
        "upkeep run backup --jobs 2",
        "upkeep findings --all",
        "upkeep ack log:app:1a2b --reason known --author alice",
    ]
    assert "upkeep verify --json" in texts
    assert "upkeep --config VALUE show backup" in texts  # a `{{ key }}` is one value
    joined = next(t for t in texts if t.startswith("upkeep backlog set"))
    assert "--due 2027-01-31" in joined  # the continued line is one command
    assert not any(t.startswith("upkeep.yml") for t in texts)
    assert _shown("upkeep ack").words == (
        "ack",
        "log:app:1a2b",
        "--reason",
        "known",
        "--author",
        "alice",
    )  # the comment is not part of it
    assert _shown("upkeep verify").words == ("verify", "--json")  # nor what it is piped into


def test_an_option_that_no_longer_exists_is_found() -> None:
    problems = check_commands(main, shown_commands("backup", [MARKDOWN]))
    found = {(p.command.runbook, p.command.text): p.problem for p in problems}
    assert found == {
        ("backup", "upkeep run backup --parallel 4"): (
            "`upkeep run`: No such option '--parallel'. Did you mean '--param'?"
        ),
        ("backup", "upkeep sitemap build"): found[("backup", "upkeep sitemap build")],
    }
    assert found[("backup", "upkeep sitemap build")].startswith(
        "`upkeep` has no subcommand 'sitemap' (it has: "
    )


def test_a_command_parses_against_the_cli_as_it_is_now() -> None:
    @click.group()
    def cli() -> None:
        pass

    @cli.command("run")
    @click.option("--jobs", type=int)
    def run(jobs: int) -> None:
        pass

    def shown(*words: str) -> ShownCommand:
        return ShownCommand("x", " ".join(("upkeep", *words)), words)

    assert check_command(cli, shown("run", "--jobs", "2")) is None
    assert check_command(cli, shown("run", "--jobs", "N")) is None  # a placeholder value
    assert check_command(cli, shown("run", "--jobs=2", "--help")) is None
    assert check_command(cli, shown("run", "--parallel", "2")) == (
        "`upkeep run`: No such option '--parallel'."
    )
    assert check_command(cli, shown("run", "--jobs")) == (
        "`upkeep run`: Option '--jobs' requires an argument."
    )
    assert check_command(cli, shown("COMMAND", "--help")) is None


def test_every_command_the_shipped_runbooks_show_parses() -> None:
    commands = []
    for name, relpath in SHIPPED_RUNBOOKS.items():
        nb = json.loads((REPO / "runbooks" / relpath).read_text())
        cells = [c["source"] for c in nb["cells"] if c["cell_type"] == "markdown"]
        commands += shown_commands(name, cells)
    assert len(commands) >= 50
    assert check_commands(main, commands) == []
