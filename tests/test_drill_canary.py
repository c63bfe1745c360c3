"""upkeep.drill.canary on real SQLite files: the heartbeat written only where the config opts
in, read back from the live file and from a copy, a configured query read instead, and the times
a query may answer."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers.files import make_config

from upkeep.config import Config, load_config
from upkeep.drill.canary import CanaryError, canary_for, parse_moment, write_canaries


def _config(tmp_path: Path, drill: str) -> Config:
    for name in ("app", "shop"):
        with sqlite3.connect(tmp_path / f"{name}.db") as connection:
            connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, updated_at TEXT)")
            connection.execute("INSERT INTO orders VALUES (1, '2026-11-30T10:00:00')")
        connection.close()
    return make_config(
        tmp_path,
        f"""
        databases:
          - {{name: app, engine: sqlite, path: app.db}}
          - {{name: shop, engine: sqlite, path: shop.db}}
        disaster_drill:
        {drill}
        """,
    )


def _tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
        return sorted(row[0] for row in rows)


def test_only_a_database_that_opts_in_is_written_and_the_newest_row_is_read(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "  databases: {app: {canary: table}}")
    first = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    app = canary_for(config, config.database("app"))
    assert app.newest() is None  # no heartbeat table yet
    app.write("backup", first)
    app.write("drill", first + timedelta(hours=5))

    assert app.newest() == first + timedelta(hours=5)
    assert write_canaries(config, "backup").keys() == {"app"}
    assert _tables(tmp_path / "shop.db") == ["orders"]  # never written: it did not opt in
    shop = canary_for(config, config.database("shop"))
    assert shop.write("backup") is None and shop.newest() is None


def test_the_newest_heartbeat_of_a_copy_is_read_from_the_copy(tmp_path: Path) -> None:
    config = _config(tmp_path, "  databases: {app: {canary: table}}")
    app = canary_for(config, config.database("app"))
    older = datetime(2026, 12, 1, tzinfo=UTC)
    app.write("backup", older)
    copy = tmp_path / "copy.db"
    with sqlite3.connect(tmp_path / "app.db") as source, sqlite3.connect(copy) as target:
        source.backup(target)
    app.write("drill", older + timedelta(minutes=30))

    assert app.newest(str(copy)) == older
    assert app.newest() - app.newest(str(copy)) == timedelta(minutes=30)


def test_a_configured_query_is_read_and_nothing_is_written(tmp_path: Path) -> None:
    config = _config(
        tmp_path, '  databases: {app: {canary_query: "SELECT max(updated_at) FROM orders"}}'
    )
    app = canary_for(config, config.database("app"))
    assert app.write("backup") is None
    assert app.newest() == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert _tables(tmp_path / "app.db") == ["orders"]


def test_a_query_that_answers_no_time_is_refused_naming_the_database(tmp_path: Path) -> None:
    config = _config(tmp_path, "  databases: {app: {canary_query: \"SELECT 'soon'\"}}")
    with pytest.raises(CanaryError, match="database 'app': the canary answered 'soon'"):
        canary_for(config, config.database("app")).newest()


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM orders RETURNING updated_at",
        "ATTACH '{folder}/other.db' AS other",
        "VACUUM INTO '{folder}/copy.db'",
    ],
)
def test_a_query_that_would_write_anything_is_refused_and_writes_nothing(
    tmp_path: Path, query: str
) -> None:
    text = query.format(folder=tmp_path)
    config = _config(tmp_path, f"  databases: {{app: {{canary_query: {json.dumps(text)}}}}}")
    with pytest.raises(CanaryError, match="database 'app': cannot read the canary in the live"):
        try:
            canary_for(config, config.database("app")).newest()
        except CanaryError as exc:
            assert "canary_query must only read (one SELECT)" in str(exc)
            raise
    with sqlite3.connect(tmp_path / "app.db") as connection:
        assert connection.execute("SELECT count(*) FROM orders").fetchone() == (1,)
    connection.close()
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["app.db", "shop.db"]


def test_a_heartbeat_that_cannot_be_written_is_reported_not_raised(tmp_path: Path) -> None:
    config = _config(tmp_path, "  databases: {app: {canary: table}}")
    (tmp_path / "app.db").unlink()
    outcome = write_canaries(config, "backup")
    assert outcome["app"].startswith("not written: database 'app'")


def test_the_time_a_heartbeat_was_written_is_shown_in_the_configured_time_zone(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "  databases: {app: {canary: table}}")
    config.path.write_text("timezone: America/St_Johns\n" + config.path.read_text())
    config = load_config(config.path)

    written = write_canaries(config, "backup")["app"]

    moment = canary_for(config, config.database("app")).newest()
    assert moment is not None
    local = moment.astimezone(ZoneInfo("America/St_Johns"))
    assert written == f"written at {local:%Y-%m-%d %H:%M:%S %Z}"
    assert not written.endswith("UTC")


@pytest.mark.parametrize(
    ("answer", "moment"),
    [
        (None, None),
        ("", None),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        ("1764547200.5", datetime(2025, 12, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2026-12-01 03:00:00", datetime(2026, 12, 1, 3, tzinfo=UTC)),
        ("2026-12-01T04:00:00+01:00", datetime(2026, 12, 1, 3, tzinfo=UTC)),
    ],
)
def test_times_are_read_as_utc(answer: object, moment: datetime | None) -> None:
    assert parse_moment(answer, "x") == moment
