"""Parameter validation against the declared specs of a real notebook's parameters cell."""

from __future__ import annotations

import json

import pytest
from helpers.project import CHECK_OK, REPO, Project

from upkeep import params, registry
from upkeep.errors import ParameterError, RunbookError


@pytest.fixture
def runbook(project: Project) -> registry.Runbook:
    project.add_runbook(
        "typed",
        [CHECK_OK],
        params="""
        count: int = 3  # how many
        ratio: float = 0.5  # a ratio
        enabled: bool = True  # switch
        mode: str = "quiet"  # output mode
        names: list = ["a"]  # some names
        opts: dict = {}  # options
        token: str = "env:TOKEN"  # API token
        untyped = 7
    """,
        meta={
            "parameters": {
                "count": {"min": 1, "max": 10},
                "mode": {"choices": ["quiet", "loud"]},
                "token": {"secret": True},
            }
        },
    )
    return registry.discover(project.root / "runbooks", project.root)["typed"]


def test_specs_come_from_papermill_inspection(runbook: registry.Runbook) -> None:
    specs = {p.name: p for p in runbook.params}
    assert [p.name for p in runbook.params] == [
        "count",
        "ratio",
        "enabled",
        "mode",
        "names",
        "opts",
        "token",
        "untyped",
    ]
    assert (specs["count"].type, specs["count"].default, specs["count"].help) == (
        "int",
        3,
        "how many",
    )
    assert (specs["count"].minimum, specs["count"].maximum) == (1, 10)
    assert specs["untyped"].type == "int"
    assert specs["names"].type == "list" and specs["names"].default == ["a"]
    assert specs["token"].secret


@pytest.mark.parametrize("second", ["dry_run=no", "dry_run=yes", " dry_run =no"])
def test_a_parameter_given_twice_is_refused_without_echoing_either_value(second: str) -> None:
    with pytest.raises(params.ParameterError) as refused:
        params.parse_assignments(["dry_run=yes", "count=3", second])
    assert str(refused.value) == "-p: parameter 'dry_run' is given twice; give it once"


def test_values_are_converted_to_declared_types(runbook: registry.Runbook, tmp_path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret-value\n")
    given = params.parse_assignments(
        ["count=7", "ratio=2", "enabled=no", "names=[x, y]", "opts={a: 1}", f"token=file:{secret}"]
    )
    values = params.validate(runbook, given)
    assert values == {
        "count": 7,
        "ratio": 2.0,
        "enabled": False,
        "mode": "quiet",
        "names": ["x", "y"],
        "opts": {"a": 1},
        "token": f"file:{secret}",
        "untyped": 7,
    }


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("count=0", "expected a value >= 1"),
        ("count=1.5", "expected an integer"),
        ("count=1_0", "expected an integer"),  # int() reads 10, as Python code would
        ("count=\u0665", "expected an integer"),  # an Arabic-Indic five: int() reads 5
        ("ratio=1_0.5", "expected a finite number"),
        ("ratio=fast", "expected a finite number"),
        ("enabled=maybe", "expected true or false"),
        ("mode=LOUD", "expected one of quiet, loud"),
        ("names=just-text", "expected a list"),
        ("token=s3cr3t", "is secret"),
        ("token=env:lower-case-bad!", "is secret"),
        ("colour=red", "unknown parameter 'colour'"),
        ("ratio=nan", "expected a finite number"),
        ("ratio=inf", "expected a finite number"),
        ("names=2026-01-01", "expected a list"),
        ("names=[.nan]", "expected a list of plain values"),
        ("opts={a: 2026-01-01}", "expected a mapping of plain values"),
        ("token=env:UPKEEP_TEST_SURELY_UNSET", "environment variable is not set"),
        ("token=file:/nonexistent/secret", "cannot read secret file"),
        ("token=env:UPKEEP_TEST_SHORT", "too short to scrub"),
    ],
)
def test_bad_values_are_refused(
    runbook: registry.Runbook, assignment: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN", "default-token-value")
    monkeypatch.setenv("UPKEEP_TEST_SHORT", "abc")
    with pytest.raises(ParameterError) as caught:
        params.validate(runbook, params.parse_assignments([assignment]))
    assert message in str(caught.value) and "runbook typed" in str(caught.value)


def test_due_runs_do_not_require_secrets_to_resolve(runbook: registry.Runbook) -> None:
    values = params.validate(runbook, {}, require_secrets=False)  # TOKEN is not set
    assert values["token"] == "env:TOKEN"
    with pytest.raises(ParameterError, match="environment variable is not set"):
        params.validate(runbook, {})


def test_a_due_run_still_refuses_a_secret_too_short_to_scrub(
    runbook: registry.Runbook, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `run --due` skipped the length check with the resolution, and the run printed it as is.
    monkeypatch.setenv("TOKEN", "xyz")
    with pytest.raises(ParameterError, match="shorter than 4 characters, too short to scrub"):
        params.validate(runbook, {}, require_secrets=False, refuse_short=True)
    # Discovering runbooks (list, check, site build) reads no secret: valid whatever TOKEN is.
    assert params.validate(runbook, {}, require_secrets=False)["token"] == "env:TOKEN"


def _refusal(project: Project, name: str) -> str:
    """Why the registry refuses runbook `name`; every other runbook stays usable."""
    project.add_runbook("fine", [CHECK_OK], params="a: int = 1")
    found = registry.discover(project.root / "runbooks", project.root)
    assert list(found) == ["fine"] and list(found.invalid) == [name]
    with pytest.raises(RunbookError) as caught:
        found.require(name)
    assert str(caught.value) == found.invalid[name].message
    return found.invalid[name].message


def test_min_max_on_a_non_number_is_refused(project: Project) -> None:
    project.add_runbook(
        "odd", [CHECK_OK], params="name: str = 'x'", meta={"parameters": {"name": {"min": 1}}}
    )
    assert "min and max apply to int and float" in _refusal(project, "odd")


@pytest.mark.parametrize(
    ("declared", "names", "why"),
    [
        ("hosts: str = ''", "hosts", "names must be one of databases"),
        ("databases: list = []", "databases", "names applies to str parameters, not list"),
    ],
)
def test_names_takes_a_known_section_and_a_str_parameter(
    project: Project, declared: str, names: str, why: str
) -> None:
    name = declared.split(":")[0]
    project.add_runbook(
        "odd", [CHECK_OK], params=declared, meta={"parameters": {name: {"names": names}}}
    )
    assert why in _refusal(project, "odd")


def test_a_folder_parameter_takes_an_existing_folder_of_the_project_or_nothing(
    project: Project,
) -> None:
    project.add_runbook(
        "reads-a-site",
        [CHECK_OK],
        params="site_dir: str = ''",
        meta={"parameters": {"site_dir": {"folder": True}}},
    )
    runbook = registry.discover(project.root / "runbooks", project.root).require("reads-a-site")
    (project.root / "built").mkdir()
    assert params.validate(runbook, {"site_dir": "built"}, root=project.root) == {
        "site_dir": "built"
    }
    assert params.validate(runbook, {}, root=project.root) == {"site_dir": ""}
    (project.root / "a-file").write_text("x")
    for wrong in ("a-file", "missing"):
        with pytest.raises(ParameterError, match=f"{wrong} is not a folder"):
            params.validate(runbook, {"site_dir": wrong}, root=project.root)
    # Discovery (no root given) reads no disk for it.
    assert params.validate(runbook, {"site_dir": "missing"}) == {"site_dir": "missing"}


def test_a_folder_parameter_refuses_a_folder_outside_the_project_or_without_what_it_holds(
    project: Project,
) -> None:
    project.add_runbook(
        "reads-a-site",
        [CHECK_OK],
        params="site_dir: str = ''",
        meta={"parameters": {"site_dir": {"folder": True, "holds": "index.html"}}},
    )
    runbook = registry.discover(project.root / "runbooks", project.root).require("reads-a-site")
    folder = "an existing folder inside the project (relative to it) holding index.html"
    assert folder in runbook.param("site_dir").describe_constraints()  # type: ignore[union-attr]
    (project.root / "built").mkdir()
    for outside in ("../../..", "/etc", "built/../.."):
        with pytest.raises(ParameterError) as refused:
            params.validate(runbook, {"site_dir": outside}, root=project.root)
        assert str(refused.value) == (
            f"runbook reads-a-site: parameter site_dir: {outside!r} is outside the project "
            f"({project.root}); expected {folder}, or empty"
        )
    with pytest.raises(ParameterError, match="built holds no index.html; expected"):
        params.validate(runbook, {"site_dir": "built"}, root=project.root)
    (project.root / "built" / "index.html").write_text("<p>a site</p>")
    given = {"site_dir": "built"}
    assert params.validate(runbook, given, root=project.root) == given
    own = {"site_dir": str(project.root / "built")}  # written in full, inside the project
    assert params.validate(runbook, own, root=project.root) == own


def test_holds_is_a_file_name_beside_folder(project: Project) -> None:
    for constraint in ({"holds": "index.html"}, {"folder": True, "holds": "../index.html"}):
        project.add_runbook(
            "odd",
            [CHECK_OK],
            params="site_dir: str = ''",
            meta={"parameters": {"site_dir": constraint}},
        )
        assert "holds must be a file name" in _refusal(project, "odd")


def test_secret_default_must_be_a_reference(project: Project) -> None:
    project.add_runbook(
        "leaky",
        [CHECK_OK],
        params='password: str = "hunter2"',
        meta={"parameters": {"password": {"secret": True}}},
    )
    assert "secret parameter" in _refusal(project, "leaky")


def test_a_secret_whose_default_the_runbook_computes_is_refused(project: Project) -> None:
    project.add_runbook(
        "computed",
        [CHECK_OK],
        params='password = os.environ["PW"]',
        meta={"parameters": {"password": {"secret": True}}},
    )
    assert "secret parameter" in _refusal(project, "computed")


def test_constraint_for_undeclared_parameter_is_refused(project: Project) -> None:
    project.add_runbook(
        "odd", [CHECK_OK], params="a: int = 1", meta={"parameters": {"b": {"min": 0}}}
    )
    assert "parameters.b: no such parameter" in _refusal(project, "odd")


@pytest.mark.parametrize(
    ("declaration", "constraint", "expected"),
    [
        ('mode: str = "x"', {"choices": ["a", "b"]}, "parameter mode: expected one of a, b"),
        ("n: int = 20", {"max": 10}, "parameter n: expected a value <= 10"),
        ("flag: bool = 1", {}, "parameter flag: expected true or false, got 1"),
        ("n: int = 'many'", {}, "parameter n: expected an integer, got 'many'"),
    ],
)
def test_a_default_that_does_not_fit_its_declaration_refuses_the_runbook(
    project: Project, declaration: str, constraint: dict, expected: str
) -> None:
    """Refused when the registry reads it, so `list`, `show` and `run` all agree."""
    name = declaration.split(":")[0]
    project.add_runbook(
        "odd", [CHECK_OK], params=declaration, meta={"parameters": {name: constraint}}
    )
    message = _refusal(project, "odd")
    assert message.startswith("runbook odd (runbooks/daily/odd.ipynb): ")
    assert expected in message and "its default" in message


def test_parameters_cell_saved_as_list_of_lines(project: Project) -> None:
    """Jupyter saves a cell's source as a list of lines; the registry must read that too."""
    path = project.add_runbook("lines", [CHECK_OK], params="a: int = 1  # first\nb: str = 'x'")
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        cell["source"] = cell["source"].splitlines(keepends=True)
    path.write_text(json.dumps(nb))
    runbook = registry.discover(project.root / "runbooks", project.root)["lines"]
    assert [(p.name, p.type, p.default, p.help) for p in runbook.params] == [
        ("a", "int", 1, "first"),
        ("b", "str", "x", ""),
    ]


@pytest.fixture
def papermill_forms(project: Project) -> registry.Runbook:
    """The declarations issue 20 found papermill accepting and upkeep refusing."""
    project.add_runbook(
        "forms",
        [CHECK_OK],
        params="""
        msg = None
        c: "NoneType" = None
        pair = (1, 2)
        since = datetime.now()  # when to start
        colour = "#ff0000"  # the colour
        n: int = None  # how many
        o: Optional[int] = None
        u: Union[None, float] = 0.5
    """,
    )
    return registry.discover(project.root / "runbooks", project.root)["forms"]


def test_papermills_parameter_forms_are_accepted_with_a_clear_type(
    papermill_forms: registry.Runbook,
) -> None:
    shown = [(p.name, p.type_label, p.default_label, p.help) for p in papermill_forms.params]
    assert shown == [
        ("msg", "any", "None", ""),
        ("c", "any", "None", ""),
        ("pair", "any", "(1, 2)", ""),
        ("since", "any", "datetime.now()", "when to start"),
        ("colour", "str", "'#ff0000'", "the colour"),
        ("n", "Optional[int]", "None", "how many"),
        ("o", "Optional[int]", "None", ""),
        ("u", "Optional[float]", "0.5", ""),
    ]


def test_defaults_the_runbook_computes_are_left_to_it(papermill_forms: registry.Runbook) -> None:
    """A tuple or a call cannot be written back as a parameter: the runbook's own cell keeps
    it, so it is neither injected nor recorded."""
    assert params.validate(papermill_forms, {}) == {
        "msg": None,
        "c": None,
        "colour": "#ff0000",
        "n": None,
        "o": None,
        "u": 0.5,
    }


@pytest.mark.parametrize(
    ("assignment", "value"),
    [
        ("msg=Hello", "Hello"),
        ("msg=3", 3),
        ("msg=2.5", 2.5),
        ("msg=True", True),
        ("msg=None", None),
        ("msg=nan", "nan"),
        ("pair=[3, 4]", "[3, 4]"),
        ("n=7", 7),
        ("n=None", None),
        ("u=None", None),
        ("colour=None", "None"),
    ],
)
def test_any_and_optional_values_are_read_as_papermills_own_p_reads_them(
    papermill_forms: registry.Runbook, assignment: str, value: object
) -> None:
    name = assignment.split("=")[0]
    assert params.validate(papermill_forms, params.parse_assignments([assignment]))[name] == value


def test_an_optional_parameter_still_refuses_a_wrong_type(
    papermill_forms: registry.Runbook,
) -> None:
    with pytest.raises(ParameterError, match="parameter n: expected an integer or None, got 'x'"):
        params.validate(papermill_forms, params.parse_assignments(["n=x"]))


@pytest.mark.parametrize(
    ("word", "value"),
    [("true", True), ("yes", True), ("on", True), ("1", True), ("TRUE", True), ("Yes", True)]
    + [("false", False), ("no", False), ("off", False), ("0", False), ("None", None)],
)
def test_the_shipped_cleanings_dry_run_takes_any_word_for_yes_or_no(
    word: str, value: bool | None
) -> None:
    """`-p dry_run=true` was refused (the parameter took config, yes or no): it is a boolean
    now, read as every boolean is, and left unset (None) it follows cleanup.dry_run."""
    cleaning = registry.discover(REPO / "runbooks").require("cleaning")
    assert params.validate(cleaning, {"dry_run": word}) == {"dry_run": value}
    with pytest.raises(ParameterError, match="parameter dry_run: expected true or false or None"):
        params.validate(cleaning, {"dry_run": "config"})


def test_a_refused_value_is_shown_cut_with_why(runbook: registry.Runbook) -> None:
    # A 5,000-digit integer was echoed whole, with "expected an integer" for an integer.
    with pytest.raises(ParameterError) as caught:
        params.validate(runbook, params.parse_assignments([f"count={'9' * 5000}"]))
    message = str(caught.value)
    assert len(message) < 300
    assert message.endswith("… (5000 characters) (more digits than Python reads as a number)")


def test_a_list_nested_too_deeply_is_refused_not_an_internal_error() -> None:
    spec = params.ParamSpec("hosts", "list", [])
    nested = "[" * 5000 + "]" * 5000
    with pytest.raises(ParameterError, match="parameter hosts: expected a list of plain values"):
        params.convert(spec, nested, "reads-hosts")


def test_a_value_that_is_not_utf8_is_refused_without_echoing_it() -> None:
    """An argument of bytes that are no UTF-8 (Python keeps them as lone surrogates): the run
    went ahead and lost its record when the notebook could not be written."""
    with pytest.raises(params.ParameterError) as refused:
        params.parse_assignments(["s=\udcff\udcfe"])
    assert str(refused.value) == "-p: parameter 's': not UTF-8 text; expected a value in UTF-8"


def test_a_value_that_is_not_utf8_is_bad_input_on_the_command_line(project: Project) -> None:
    import subprocess
    import sys

    project.add_runbook("pv", [CHECK_OK], params='s: str = "a"')
    command = [sys.executable, "-m", "upkeep.cli", "--config", str(project.config)]
    done = subprocess.run(
        [*command, "run", "pv", "-p", b"s=\xff\xfe"], capture_output=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert b"not UTF-8 text" in done.stderr and b"Traceback" not in done.stderr
    assert not project.run_dirs()
