"""Responsible for reading a runbook's cell tagged `parameters` the way papermill's inspection
does: papermill's translator decides which lines declare a parameter (its name, its annotation or
`# type:` comment, its help), and Python's own parser reads each declaration's default and help
exactly where papermill's line pattern cannot (a `#` inside a string). Lines papermill cannot
parse are kept as notes, never printed.
"""

from __future__ import annotations

import ast
import io
import logging
import re
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_TYPE_COMMENT = re.compile(r"^type:\s*(?P<type>\S*)\s*(?P<help>.*)$")
_UNPARSABLE = "Unable to parse line"
_UNPARSABLE_LINE = re.compile(r"^Unable to parse line (?P<line>\d+) (?P<text>'.*')\.?$", re.DOTALL)


@dataclass(frozen=True)
class DeclaredParam:
    """One parameter as the cell declares it: `annotation` is papermill's inferred type name
    ("None" when there is none), `default_source` the default as written."""

    name: str
    annotation: str
    default_source: str
    help: str


def read_parameters_cell(source: str) -> tuple[tuple[DeclaredParam, ...], tuple[str, ...]]:
    """The parameters the cell declares, in papermill's order, and a note for each line papermill
    could not read as a parameter."""
    inspected, notes = _papermill_inspection(source)
    statements = _assignments(source)
    comments = _comments(source) if statements else {}
    declared = []
    for param in inspected:
        statement = statements.get(param.name)
        if statement is None:
            # Not a top-level `name = value` Python can read (or the cell does not parse):
            # papermill's own reading stands.
            declared.append(
                DeclaredParam(
                    param.name, param.inferred_type_name, param.default, param.help.strip()
                )
            )
            continue
        annotation, help_text = _annotation_and_help(statement, comments)
        declared.append(
            DeclaredParam(
                name=param.name,
                annotation=annotation or param.inferred_type_name,
                default_source=ast.get_source_segment(source, statement.value) or param.default,
                help=help_text,
            )
        )
    return tuple(declared), notes


def _papermill_inspection(source: str) -> tuple[list[Any], tuple[str, ...]]:
    from papermill import translators
    from papermill.translators import PythonTranslator

    with _papermill_warnings(translators.logger) as warnings:
        inspected = PythonTranslator.inspect({"source": source})
    notes = tuple(
        f"line {match['line']} ({match['text']}) declares no parameter: papermill reads a "
        "parameter only from a line with a single '='"
        for match in map(_UNPARSABLE_LINE.match, warnings)
        if match is not None
    )
    return inspected, notes


@contextmanager
def _papermill_warnings(logger: logging.Logger) -> Iterator[list[str]]:
    """The 'Unable to parse line' warnings of papermill's translators' `logger`, kept instead
    of printed."""
    kept: list[str] = []

    def keep(record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(_UNPARSABLE):
            kept.append(message)
            return False
        return True

    logger.addFilter(keep)
    try:
        yield kept
    finally:
        logger.removeFilter(keep)


def _assignments(source: str) -> dict[str, ast.Assign | ast.AnnAssign]:
    """The last top-level assignment of each simple name, when the cell parses."""
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    found: dict[str, ast.Assign | ast.AnnAssign] = {}
    for statement in module.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target = statement.target
        else:
            continue
        if isinstance(target, ast.Name):
            found[target.id] = statement
    return found


def _annotation_and_help(
    statement: ast.Assign | ast.AnnAssign, comments: dict[int, str]
) -> tuple[str, str]:
    """The annotation (or `# type:` comment) and the help comment that ends the statement's
    last line, in papermill's precedence: an annotation first, then a type comment, else
    "None"."""
    comment = comments.get(statement.end_lineno or statement.lineno, "")
    type_comment = ""
    match = _TYPE_COMMENT.match(comment)
    if match:
        type_comment, comment = match["type"], match["help"]
    annotation = ""
    if isinstance(statement, ast.AnnAssign):
        node = statement.annotation
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            annotation = node.value  # c: "NoneType" = None
        else:
            annotation = ast.unparse(node)
    return annotation or type_comment or "None", comment.strip()


def _comments(source: str) -> dict[int, str]:
    """Each line's comment (1-based line number), without its `#`; the cell already parsed."""
    comments = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string[1:].strip()
    except (tokenize.TokenError, SyntaxError):
        return {}
    return comments
