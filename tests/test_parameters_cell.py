"""Reading the cell tagged `parameters`: papermill's inspection decides what is a parameter;
each default and help is read exactly, even where papermill's line pattern cuts it."""

from __future__ import annotations

from papermill.translators import PythonTranslator

from upkeep.parameters_cell import DeclaredParam, read_parameters_cell

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
