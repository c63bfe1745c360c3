"""Responsible for reading a runbook's cell tagged `parameters` as papermill's inspection reads it,
without importing papermill: the lines that declare a parameter are chosen by papermill's rules
(see `declaration_lines`), and Python's own parser (`ast`, `tokenize`) reads each declaration's
annotation, default and help exactly where papermill's line pattern cannot (a `#` inside a
string). Lines papermill cannot read are kept as notes, never printed.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

_TYPE_COMMENT = re.compile(r"^type:\s*(?P<type>\S*)\s*(?P<help>.*)$")
# papermill's form of one declaration, once its lines are joined: `name`, an optional
# `: annotation` (quoted or not, letters, digits, brackets, commas and spaces only), `=`, the
# default up to the first `#`, and after that `type: T` and the help.
_DECLARATION = re.compile(
    r"""^(?P<name>\w+)\s*
    (?::\s*["']?(?P<annotation>\w[\w\[\],\s]*)["']?\s*)?
    =\s*(?P<default>.*?)
    (?:\s*\#\s*(?:type:\s*(?P<type_comment>\S*)\s*)?(?P<help>.*))?$""",
    re.VERBOSE,
)


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
    inspected, notes = declaration_lines(source)
    statements = _assignments(source)
    comments = _Comments(source)
    declared = []
    for param in inspected:
        statement = statements.get(param.name)
        if statement is None:
            # Not a top-level `name = value` Python can read (or the cell does not parse):
            # papermill's own reading stands.
            declared.append(param)
            continue
        annotation, help_text = _annotation_and_help(statement, comments)
        declared.append(
            DeclaredParam(
                name=param.name,
                annotation=annotation or param.annotation,
                default_source=ast.get_source_segment(source, statement.value)
                or param.default_source,
                help=help_text,
            )
        )
    return tuple(declared), notes


def declaration_lines(source: str) -> tuple[list[DeclaredParam], tuple[str, ...]]:
    """What papermill's `PythonTranslator.inspect` returns for the cell, read by its rules: blank
    and comment lines are skipped; a line with an `=` starts a declaration, which runs on over
    the lines without one (a list over several lines), their comments dropped but the last
    line's; a line with more than one `=` declares nothing (it is noted); a declaration that does
    not fit papermill's form is ignored."""
    groups: list[list[str]] = [[]]
    notes = []
    for number, line in enumerate(source.splitlines(), start=1):
        if not line.strip() or line.strip().startswith("#"):
            continue
        equals = line.count("=")
        if equals:
            groups.append([])
        if equals > 1:
            notes.append(
                f"line {number} ('{line}') declares no parameter: papermill reads a "
                "parameter only from a line with a single '='"
            )
            continue
        groups[-1].append(line)
    declared = []
    for group in groups:
        match = _DECLARATION.match(_joined(group))
        if match is not None:
            declared.append(
                DeclaredParam(
                    name=match["name"],
                    annotation=(match["annotation"] or match["type_comment"] or "None").strip(),
                    default_source=match["default"].strip(),
                    help=(match["help"] or "").strip(),
                )
            )
    return declared, tuple(notes)


def _joined(lines: list[str]) -> str:
    """A declaration's lines as one: each stripped, the comments of all but the last cut."""
    *leading, last = lines or [""]
    return "".join(line.partition("#")[0].strip() for line in leading) + last.strip()


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
    statement: ast.Assign | ast.AnnAssign, comments: _Comments
) -> tuple[str, str]:
    """The annotation (or `# type:` comment) and the help comment that ends the statement's
    last line, in papermill's precedence: an annotation first, then a type comment, else
    "None"."""
    comment = comments.ending(statement)
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


class _Comments:
    """The comment that ends a statement's last line. Most statements end their line, or a
    comment follows them: that is read off the line. Otherwise (`x = 1; y()  # help`) Python's
    tokenizer finds the line's comment; it is started only then, since building its patterns
    costs more than reading a whole cell."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._lines = source.encode("utf-8").splitlines()  # ast's offsets are UTF-8 bytes
        self._tokenized: dict[int, str] | None = None

    def ending(self, statement: ast.stmt) -> str:
        number = statement.end_lineno or statement.lineno
        end = statement.end_col_offset
        if end is not None and number <= len(self._lines):
            rest = self._lines[number - 1][end:].decode("utf-8", "replace").strip()
            if not rest:
                return ""
            if rest.startswith("#"):
                return rest[1:].strip()
        if self._tokenized is None:
            self._tokenized = _comments(self._source)
        return self._tokenized.get(number, "")


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
