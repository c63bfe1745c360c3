"""Reading the cell tagged `parameters`: papermill's rules decide what is a parameter (upkeep
reads them without importing papermill, and these tests hold it to papermill's own inspection,
over every shipped runbook, papermill's test notebooks, tricky cells and generated ones); each
default and help is read exactly, even where papermill's line pattern cuts it."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import papermill
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from papermill.translators import PythonTranslator

from upkeep.package_files import SHIPPED_RUNBOOKS_DIR
from upkeep.parameters_cell import (
    DeclaredParam,
    _Comments,
    _comments,
    declaration_lines,
    read_parameters_cell,
)

REPO = Path(__file__).resolve().parent.parent
PAPERMILL_NOTEBOOKS = Path(papermill.__file__).parent / "tests" / "notebooks"

# papermill's own complex_parameters.ipynb, as its wheel ships it.
PAPERMILL_COMPLEX = """msg = None
a: float = 2.25 # Variable a
b = [
    'Hello', # First element
# Dummy comment
    'World'
] # type: List[str] Nice list

# Interesting c variable
c: "NoneType" = None
# Not introspectable line
d = a == 3
# Broken name definition
= 2
"""


def test_the_same_parameters_as_papermill_where_the_cell_does_not_parse() -> None:
    declared, notes = read_parameters_cell(PAPERMILL_COMPLEX)
    assert declared == (
        DeclaredParam("msg", "None", "None", ""),
        DeclaredParam("a", "float", "2.25", "Variable a"),
        DeclaredParam("b", "List[str]", "['Hello','World']", "Nice list"),
        DeclaredParam("c", "NoneType", "None", ""),
    )
    assert [p.name for p in PythonTranslator.inspect({"source": PAPERMILL_COMPLEX})] == [
        p.name for p in declared
    ]
    assert notes == (
        "line 12 ('d = a == 3') declares no parameter: papermill reads a parameter only from "
        "a line with a single '='",
    )


def test_a_hash_inside_a_string_is_part_of_the_default_not_the_help() -> None:
    source = 'colour = "#ff0000"  # the colour\nchannel: str = "#ops"  # type: str where to post'
    [papermill_colour, _] = PythonTranslator.inspect({"source": source})
    assert papermill_colour.default == '"'  # papermill's line pattern cuts at the first '#'
    declared, _ = read_parameters_cell(source)
    assert declared == (
        DeclaredParam("colour", "None", '"#ff0000"', "the colour"),
        DeclaredParam("channel", "str", '"#ops"', "where to post"),
    )


def test_a_multi_line_default_keeps_its_help_and_type_comment() -> None:
    source = "names = [\n    'a',  # first\n    'b',\n]  # type: List[str] who to greet\n"
    [declared], _ = read_parameters_cell(source)
    assert declared.annotation == "List[str]" and declared.help == "who to greet"
    assert declared.default_source.startswith("[") and declared.default_source.endswith("]")


def test_expressions_and_annotations_are_kept_as_written() -> None:
    source = (
        "since = datetime.now() - timedelta(1)  # window start\n"
        "pair = (1, 2)\n"
        "n: Optional[int] = None\n"
        "k: int = None\n"
    )
    declared, notes = read_parameters_cell(source)
    assert declared == (
        DeclaredParam("since", "None", "datetime.now() - timedelta(1)", "window start"),
        DeclaredParam("pair", "None", "(1, 2)", ""),
        DeclaredParam("n", "Optional[int]", "None", ""),
        DeclaredParam("k", "int", "None", ""),
    )
    assert notes == ()


def test_what_papermill_does_not_see_is_no_parameter() -> None:
    """`int | None` and dotted annotations do not match papermill's pattern: papermill would not
    list them, so upkeep does not either."""
    declared, _ = read_parameters_cell("a: int | None = None\nb: typing.Optional[int] = 1\nc = 3")
    assert [p.name for p in declared] == ["c"]


def _parameters_cells() -> list[tuple[str, str]]:
    """(notebook, source of its cell tagged `parameters`) for every shipped runbook, every
    runbook of this repository and every notebook papermill tests itself with."""
    paths = [
        *sorted(SHIPPED_RUNBOOKS_DIR.rglob("*.ipynb")),
        *sorted((REPO / "runbooks").rglob("*.ipynb")),
        *sorted(PAPERMILL_NOTEBOOKS.glob("*.ipynb")),
    ]
    cells = []
    for path in paths:
        for cell in json.loads(path.read_text())["cells"]:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                source = cell["source"]
                cells.append((path.name, "".join(source) if isinstance(source, list) else source))
    return cells


# Cells where papermill's line rules and Python's parser part ways.
TRICKY_CELLS = [
    "a = 1\nb: int = 2  # two\nc: 'str' = \"x\"  # type: str the help\n",
    "names = [\n    'a',  # first\n\n    # between\n    'b',\n]  # type: List[str] who\n",
    "d = {\n  'k': 1, # one\n  'l': [2,\n 3]}\ne = 4",
    "since = datetime.now() - timedelta(days=1)  # two '=' on the line\nx = a == b\n",
    "x: Optional[int] = None\ny: Dict[str, int] = {}\nz: int | None = None\nw: t.Any = 1\n",
    "colour = '#ff0000'  # the colour\nurl = 'http://h/?a=b'\n",
    "%matplotlib inline\nmsg = None\n= 2\n1x = 3\n",
    "def f(x=1):\n    return x\ny = f()\n",
    "if True:\n    nested = 1\nflat = 2  #\n",
    "a = 1; b = 2\nc = (\n  3)\n",
    "\u00e9t\u00e9 = 'summer'  # a non-ASCII name\n\tindented = 1\r\ncrlf = 2\r\n",
    "x = 1  # type:\ny = 2 #type:int   spaced help  \nz = 3 # type: List[ int ] odd\n",
    "first = [\n    1,\n    2,\n",  # never closed: the cell does not parse
    'a: "int" = 1\nb : float=2.5#tight\nc=\n',
    "",
    "# only a comment\n\n",
]


def _papermill_reading(source: str, caplog: pytest.LogCaptureFixture) -> tuple[list, list]:
    """papermill's inspection of the cell, and the lines it warned it could not parse."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="papermill.translators"):
        inspected = PythonTranslator.inspect({"source": source})
    warned = [r.getMessage() for r in caplog.records if r.name == "papermill.translators"]
    return [DeclaredParam(*p) for p in inspected], warned


def _assert_same_as_papermill(source: str, caplog: pytest.LogCaptureFixture) -> None:
    declared, notes = declaration_lines(source)
    inspected, warned = _papermill_reading(source, caplog)
    assert declared == inspected, source
    assert [note.split(" declares no parameter")[0] for note in notes] == [
        message.removeprefix("Unable to parse ").removesuffix(".").replace(" '", " ('", 1) + ")"
        for message in warned
    ], source


def test_every_shipped_and_papermill_cell_reads_as_papermill_reads_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cells = _parameters_cells()
    assert len(cells) >= 20, "the corpus lost its notebooks"
    for _, source in cells:
        _assert_same_as_papermill(source, caplog)


@pytest.mark.parametrize("source", TRICKY_CELLS)
def test_tricky_cells_read_as_papermill_reads_them(
    source: str, caplog: pytest.LogCaptureFixture
) -> None:
    _assert_same_as_papermill(source, caplog)


_LINES = st.sampled_from(
    [
        "a = 1",
        "b: int = 2  # help",
        "c: 'List[str]' = []",
        "d = [",
        "    'x',  # item",
        "]  # type: list the d",
        "e = f(x=1)",
        "# a comment",
        "",
        "   ",
        "g: int | None = None",
        "h = '#'  # hash",
        "i=3#type:int",
        "= 4",
        "    5,",
        "j: Dict[str, int] = {'a': 1}",
        "k = None # type:",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_generated_cells_read_as_papermill_reads_them(lines: list[str], newline: str) -> None:
    source = newline.join(lines)
    declared, notes = declaration_lines(source)
    inspected = [DeclaredParam(*p) for p in PythonTranslator.inspect({"source": source})]
    assert declared == inspected
    assert len(notes) == sum(line.count("=") > 1 for line in lines if line.strip())


def test_a_cell_that_does_not_parse_keeps_papermills_reading() -> None:
    """`%magic` or a broken line: Python cannot parse the cell, so every parameter is what
    papermill's line pattern reads (its default cut at a `#`), as it was before."""
    source = "%matplotlib inline\ncolour = '#ff'  # the colour\nn: int = 3  # count\n"
    declared, notes = read_parameters_cell(source)
    assert declared == (
        DeclaredParam("colour", "None", "'", "ff'  # the colour"),
        DeclaredParam("n", "int", "3", "count"),
    )
    assert notes == ()


COMMENT_CELLS = [
    "x = 1; y()  # after two statements\n",
    "x = 1;  # after a semicolon\n",
    "x = 1; s = '#not'  # but this\n",
    "été = 'ça'  # after non-ASCII text\nnames = ['ü',\n  'ö']  # type: List[str] umlauts\n",
    "a = 1\r\nb = 2  # crlf\r\n",
    "a = (1,\n     2)\n",
    "a = 1 # one\nb = 2#two\n",
]


def _assert_comments_as_the_tokenizer_reads_them(source: str) -> None:
    try:
        module = ast.parse(source)
    except SyntaxError:
        return
    comments, tokenized = _Comments(source), _comments(source)
    for statement in module.body:
        line = statement.end_lineno or statement.lineno
        assert comments.ending(statement) == tokenized.get(line, ""), (source, line)


@pytest.mark.parametrize("source", COMMENT_CELLS + TRICKY_CELLS)
def test_a_statements_comment_is_the_one_the_tokenizer_finds(source: str) -> None:
    _assert_comments_as_the_tokenizer_reads_them(source)


def test_every_shipped_cell_has_the_comments_the_tokenizer_finds() -> None:
    for _, source in _parameters_cells():
        _assert_comments_as_the_tokenizer_reads_them(source)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*_LINES.elements, "x = 'é'; y = 2  # both"]), max_size=8))
def test_generated_cells_have_the_comments_the_tokenizer_finds(lines: list[str]) -> None:
    _assert_comments_as_the_tokenizer_reads_them("\n".join(lines))
