"""`upkeep check`: the config and every runbook validated, every problem reported at once, exit 2
when there is one, and nothing run."""

from __future__ import annotations

from pathlib import Path

from helpers.project import CHECK_OK, Project


def test_a_sound_project_has_no_problems(project: Project) -> None:
    project.add_runbook("fine", [("markdown", "`tail {{ logs.app.path }}`"), CHECK_OK])
    result = project.upkeep_in_process("check")
    assert (result.code, result.err) == (0, "")
    assert result.out == f"{project.config} and its 1 runbooks: no problems\n"


def test_every_problem_is_reported_at_once(project: Project) -> None:
    project.config.write_text(
        "evidence_dir: evidence\n"
        "timezone: Mars/Olympus\n"
        "services:\n  - {name: w, kind: process}\n"
        "runbooks_dir: [runbooks, missing-folder]\n"
    )
    project.add_runbook("fine", [CHECK_OK])
    project.add_runbook("broken", [CHECK_OK], meta={"cadence": "fortnightly"})
    project.add_runbook(
        "typo",
        [("markdown", "```sh\ntail {{ log.app.path }}\n```"), CHECK_OK],
        meta={"references": ["observability.md", "no-such-page.md"]},
    )

    result = project.upkeep_in_process("check")

    assert result.code == 2
    lines = result.err.splitlines()
    assert lines[-1] == f"upkeep: 6 problems in {project.config} and its runbooks"
    expected = [
        "timezone: expected an IANA time zone",
        "services[0]: a process service needs process",
        f"runbooks_dir: {project.root / 'missing-folder'} is not a folder",
        "runbook broken (runbooks/daily/broken.ipynb): metadata.upkeep.cadence",
        "runbook typo (runbooks/daily/typo.ipynb): {{ log.app.path }} names no value",
        "runbook typo (runbooks/daily/typo.ipynb): metadata.upkeep.references: "
        "'no-such-page.md' is not a page",
    ]
    for text, line in zip(expected, lines[:-1], strict=True):
        assert line.startswith("upkeep: error: ") and text in line, (text, line)
    assert not project.evidence.exists()  # nothing ran


def test_a_config_that_is_not_yaml_is_one_problem(tmp_path: Path) -> None:
    (tmp_path / "upkeep.yml").write_text("services: [\n")
    result = Project(tmp_path).upkeep_in_process("check")
    assert result.code == 2 and "not valid YAML" in result.err


def test_a_secret_file_that_is_not_there_is_a_problem_and_nothing_is_read(
    project: Project,
) -> None:
    secret = project.root / "pg-password"
    secret.write_text("s3cret-value\n")
    gone = project.root / "gone-password"
    project.config.write_text(
        "databases:\n"
        f"  - {{name: a, engine: postgresql, dbname: a, password: 'file:{secret}'}}\n"
        f"  - {{name: b, engine: postgresql, dbname: b, password: 'file:{gone}'}}\n"
        "  - {name: c, engine: postgresql, dbname: c, password: 'env:NOT_SET_HERE_MAYBE_IN_CRON'}\n"
    )
    project.add_runbook("fine", [CHECK_OK])

    result = project.upkeep_in_process("check")

    assert result.code == 2
    assert result.err.splitlines() == [
        f"upkeep: error: {project.config}: databases[1].password: the secret file {gone} does"
        " not exist; expected the file holding the secret",
        f"upkeep: 1 problem in {project.config} and its runbooks",
    ]
    assert "s3cret-value" not in result.err + result.out


def test_markdown_that_would_load_from_outside_or_run_script_is_noted(project: Project) -> None:
    # A Mermaid block made Material fetch Mermaid from unpkg; a network image and an onerror
    # handler in a cell reached the runbook's page. Code in backticks is text, not noted.
    cells = [
        ("markdown", "```mermaid\ngraph TD; A-->B\n```"),
        ("markdown", "![logo](https://example.com/logo.png)"),
        ("markdown", '<img src=x onerror="alert(1)">'),
        ("markdown", "| `db-health:<database>:<script>` | the script itself |"),
        CHECK_OK,
    ]
    project.add_runbook("drawn", cells)

    result = project.upkeep_in_process("check")

    assert result.code == 0, result.text  # notes, not problems: the runbook runs
    noted = [line for line in result.err.splitlines() if "runbook drawn" in line]
    # cell 0 is the scaffold's own text; cell 4 (code in backticks) is not noted
    assert [line.split("): ", 1)[1].split(" holds ")[0] for line in noted] == [
        "markdown cell 1",
        "markdown cell 2",
        "markdown cell 3",
    ]
    assert "a Mermaid diagram" in noted[0] and "an image from the network" in noted[1]
    assert "raw HTML with an event handler" in noted[2]


def test_a_dbname_libpq_would_read_as_connection_settings_is_refused(project: Project) -> None:
    for dbname in ("'host=attacker.example dbname=app'", "postgresql://attacker.example/app"):
        project.config.write_text(
            "evidence_dir: evidence\n"
            "databases:\n"
            f"  - {{name: pg, engine: postgresql, dbname: {dbname}, password: env:PGPW}}\n"
        )
        result = project.upkeep_in_process("check")
        assert result.code == 2, result.err
        assert "databases[0].dbname: expected the name of a database, got a connection" in (
            result.err
        )
        assert "attacker.example" not in result.err  # a connection string may hold a password
