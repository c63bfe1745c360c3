"""The loopback OSV server: OSV's range rules, records that are not OSV refused by name, and the
query API answered as OSV answers it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from upkeep.updates.osv_folder import AdvisoryFolder, AdvisoryFolderError, serve_advisories


def _record(folder: Path, id_: str, events: list[dict[str, str]], **extra: object) -> None:
    folder.mkdir(exist_ok=True)
    record = {
        "id": id_,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Demo_Pkg"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
        **extra,
    }
    (folder / f"{id_}.json").write_text(json.dumps(record))


@pytest.fixture
def folder(tmp_path: Path) -> AdvisoryFolder:
    advisories = tmp_path / "advisories"
    _record(advisories, "FIXED", [{"introduced": "0"}, {"fixed": "1.2.0"}])
    _record(advisories, "LAST", [{"introduced": "2.0"}, {"last_affected": "2.1.0"}])
    _record(advisories, "OPEN", [{"introduced": "3.0"}])
    _record(
        advisories,
        "TWICE",
        [{"introduced": "0"}, {"fixed": "0.5"}, {"introduced": "1.5"}, {"fixed": "1.6"}],
    )
    _record(advisories, "GONE", [{"introduced": "0"}], withdrawn="2025-01-01T00:00:00Z")
    return AdvisoryFolder.read(advisories)


@pytest.mark.parametrize(
    ("version", "ids"),
    [
        ("1.1.9", {"FIXED"}),
        ("1.2.0", set()),
        ("0.4", {"FIXED", "TWICE"}),
        ("1.5.1", {"TWICE"}),
        ("1.6", set()),
        ("2.1.0", {"LAST"}),
        ("2.1.1", set()),
        ("3.4", {"OPEN"}),
    ],
)
def test_osv_ranges(folder: AdvisoryFolder, version: str, ids: set[str]) -> None:
    # Names compare as PyPI does (demo-pkg is Demo_Pkg); a withdrawn record never matches.
    assert {r["id"] for r in folder.query("demo-pkg", version)} == ids


def test_a_file_that_is_not_an_osv_record_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"id": "X"}')
    with pytest.raises(AdvisoryFolderError, match=r"a\.json: not an OSV advisory record"):
        AdvisoryFolder.read(tmp_path)


def test_the_server_answers_osv_queries(folder: AdvisoryFolder) -> None:
    with serve_advisories(folder) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1/query")

        def ask(name: str, version: str) -> dict[str, object]:
            query = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version})
            request = urllib.request.Request(url, data=query.encode(), method="POST")
            with urllib.request.urlopen(request, timeout=5) as answer:
                return json.loads(answer.read())

        assert [v["id"] for v in ask("demo-pkg", "1.0")["vulns"]] == ["FIXED"]
        assert ask("demo-pkg", "9.0") == {"vulns": [next(iter(folder.query("demo-pkg", "9")))]}
        assert ask("other", "1.0") == {}  # OSV answers {} when nothing matches
