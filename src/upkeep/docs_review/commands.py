"""Responsible for the `upkeep …` commands a runbook shows a person: found in its Markdown (code
blocks and inline code), and each parsed against the command line as it is now by click's own
parser, at the level of `--help`: every subcommand exists, every option is one the command has
and gets the value it needs. Values and arguments are not checked: runbooks write placeholders
(RUN_ID, YOUR_NAME) where a person fills in."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

import click

_FENCE = re.compile(r"^(`{3,}|~{3,})")
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*")
_SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>&1", "(", ")"})
_PLACEHOLDER = re.compile(r"…|\.\.\.|[A-Z][A-Z0-9_]*(?:…|\.\.\.)?|<[^<>]+>")
_CONFIG_VALUE = re.compile(r"\{\{.*?\}\}")  # `{{ logs.app.path }}`: this system's value on the site
PROGRAM = "upkeep"


@dataclass(frozen=True)
class ShownCommand:
    runbook: str
    text: str  # the command as the runbook shows it, without a comment or a pipe after it
    words: tuple[str, ...]  # its words after `upkeep`


@dataclass(frozen=True)
class CommandProblem:
    command: ShownCommand
    problem: str


def shown_commands(runbook: str, markdown_cells: Iterable[str]) -> list[ShownCommand]:
    """Every `upkeep …` command in the runbook's Markdown, in order, each once."""
    found: dict[str, ShownCommand] = {}
    for cell in markdown_cells:
        for line in _command_texts(cell):
            words = _words(line)
            if words is None:
                continue
            text = shlex.join((PROGRAM, *words))  # without the comment or pipe after it
            found.setdefault(text, ShownCommand(runbook, text, words))
    return list(found.values())


def _command_texts(markdown: str) -> Iterable[str]:
    fenced: str | None = None
    pending = ""
    for line in markdown.splitlines():
        marker = _FENCE.match(line.strip())
        if marker:
            fenced = None if fenced and line.strip().startswith(fenced) else marker.group(1)
            continue
        if fenced:
            line = pending + line.strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            yield from _from_shell_line(line)
        else:
            for span in _INLINE.findall(line):
                yield from _from_shell_line(span)


def _from_shell_line(line: str) -> Iterable[str]:
    line = line.strip().removeprefix("$ ").strip()
    words = line.split()
    while words and _ASSIGNMENT.fullmatch(words[0]):
        words.pop(0)
    if len(words) >= 2 and words[0] == PROGRAM:
        yield " ".join(words)


def _words(text: str) -> tuple[str, ...] | None:
    """The words of the command after `upkeep`, up to a shell operator or comment; None when it
    cannot be split as a shell would (an open quote)."""
    text = _CONFIG_VALUE.sub("VALUE", text)  # one word, as the site fills it in
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = list(lexer)
    except ValueError:
        return None
    command = []
    for word in words[1:]:
        if word in _SHELL_OPERATORS or set(word) <= set("|&;<>()"):
            break
        command.append(word)
    return tuple(command)


def check_command(cli: click.Group, shown: ShownCommand) -> str | None:
    """Why `shown` does not parse against `cli`, or None: each level's words go through click's
    own parser (options and their arity, as `--help` would see them; no value is converted, so a
    placeholder such as `--jobs N` passes), then the next word must name a subcommand."""
    context = click.Context(cli, info_name=PROGRAM)
    command: click.Command = cli
    path = [PROGRAM]
    words = list(shown.words)
    while True:
        try:
            _, rest, _ = command.make_parser(context).parse_args(args=words)
        except click.UsageError as exc:
            return f"`{' '.join(path)}`: {exc.format_message()}"
        if not isinstance(command, click.Group) or not rest:
            return None  # a group named alone (`upkeep log`) is prose naming it
        name, words = rest[0], rest[1:]
        if _is_placeholder(name):
            return None  # `upkeep COMMAND --help`: which command is not said
        sub = command.get_command(context, name)
        if sub is None:
            known = ", ".join(sorted(command.list_commands(context)))
            return f"`{' '.join(path)}` has no subcommand {name!r} (it has: {known})"
        context = click.Context(sub, info_name=name, parent=context)
        command = sub
        path.append(name)


def check_commands(cli: click.Group, commands: Iterable[ShownCommand]) -> list[CommandProblem]:
    problems = []
    for shown in commands:
        problem = check_command(cli, shown)
        if problem is not None:
            problems.append(CommandProblem(shown, problem))
    return problems


def _is_placeholder(word: str) -> bool:
    """A word a person replaces: `…`, `COMMAND`, `NAME...`, `<runbook>`."""
    return bool(_PLACEHOLDER.fullmatch(word))
