"""The fleet file and host ids: `upkeep.config.fleet`, `host_id:` in upkeep.yml, `upkeep run
--host`, and the host id in run.json (`upkeep.records.run.Host`)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from helpers.fleet import SimulatedHost, make_fleet
from helpers.project import Project

from upkeep.config import load_config
from upkeep.config.fleet import load_fleet_hosts, read_fleet
from upkeep.errors import ConfigError
from upkeep.records import Host, RunRecord

DAILY_OK = {"probe": ("daily", "ok")}


def _fleet_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_fleet_file_gives_each_host_its_config_queue_and_runbooks(tmp_path: Path) -> None:
    path = _fleet_text(
        tmp_path,
        """\
        version: 1
        groups:
          - id: web
            queue: web-workers
            runbooks: [probe]
        hosts:
          - id: db-1
            config: db-1/upkeep.yml
            ssh_conn_id: ssh_db_1
            command: /opt/upkeep/bin/upkeep
          - id: web-1
            config: web/upkeep.yml
            group: web
          - id: web-2
            config: web2/upkeep.yml
            group: web
            queue: web-2
            runbooks: [probe, disk]
        """,
    )
    fleet = read_fleet(path)
    db, web1, web2 = fleet.hosts
    assert (db.id, db.config, db.ssh_conn_id, db.queue) == (
        "db-1",
        tmp_path / "db-1" / "upkeep.yml",
        "ssh_db_1",
        None,
    )
    assert db.command == "/opt/upkeep/bin/upkeep" and db.runbooks is None
    assert (web1.group, web1.queue, web1.runbooks) == ("web", "web-workers", ("probe",))
    assert (web2.queue, web2.runbooks) == ("web-2", ("probe", "disk"))  # its own values win


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nhosts: []\n", "hosts: expected a list of at least one host"),
        ("version: 2\nhosts: []\n", "version: expected 1, got 2"),
        ("version: 1\nhosts:\n  - config: a.yml\n", "hosts[0].id: required key is missing"),
        ("version: 1\nhosts:\n  - id: db-1\n", "hosts[0].config: required key is missing"),
        (
            "version: 1\nhosts:\n  - {id: DB_1, config: a.yml}\n",
            "hosts[0].id: expected a host id: lowercase letters",
        ),
        (
            "version: 1\nhosts:\n  - {id: db--1, config: a.yml}\n",
            "hosts[0].id: expected a host id",
        ),
        (
            "version: 1\nhosts:\n  - {id: a, config: a.yml}\n  - {id: a, config: b.yml}\n",
            "hosts[1].id: 'a' is given twice",
        ),
        (
            "version: 1\nhosts:\n  - {id: a, config: a.yml, group: web}\n",
            "hosts[0].group: expected one of the groups: (none defined under groups:), got 'web'",
        ),
        (
            "version: 1\nhosts:\n  - {id: a, config: a.yml, queues: q}\n",
            "hosts[0].queues: unknown key",
        ),
        (
            "version: 1\nhosts:\n  - {id: a, config: a.yml, runbooks: []}\n",
            "hosts[0].runbooks: expected a non-empty list of runbook names",
        ),
        (
            "version: 1\nhosts:\n  - {id: a, config: a.yml, queue: 3}\n",
            "hosts[0].queue: expected a string, got 3 (int)",
        ),
        ("version: 1\nhost: []\n", "host: unknown key"),
    ],
)
def test_a_bad_fleet_file_is_refused_naming_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _fleet_text(tmp_path, text)
    with pytest.raises(ConfigError, match="fleet.yml") as raised:
        read_fleet(path)
    assert message in str(raised.value)


def test_a_missing_fleet_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fleet file not found"):
        read_fleet(tmp_path / "nope.yml")


def test_each_host_config_is_loaded_with_its_host_id(tmp_path: Path) -> None:
    path = make_fleet(tmp_path, [SimulatedHost("db-1", DAILY_OK), SimulatedHost("web-2", DAILY_OK)])
    loaded = load_fleet_hosts(read_fleet(path))
    assert [(item.host.id, item.config.host_id) for item in loaded] == [
        ("db-1", "db-1"),
        ("web-2", "web-2"),
    ]
    assert loaded[0].config.evidence_dir != loaded[1].config.evidence_dir


def test_a_host_whose_config_names_another_host_id_is_refused(tmp_path: Path) -> None:
    path = make_fleet(tmp_path, [SimulatedHost("db-1", DAILY_OK)])
    config = tmp_path / "db-1" / "upkeep.yml"
    config.write_text(config.read_text().replace("host_id: db-1", "host_id: db-9"))
    with pytest.raises(ConfigError, match=r"hosts\[0\]\.id: 'db-1' but its config .* db-9"):
        load_fleet_hosts(read_fleet(path))


def test_a_host_config_that_does_not_load_is_named_with_the_host(tmp_path: Path) -> None:
    path = make_fleet(tmp_path, [SimulatedHost("db-1", DAILY_OK)])
    (tmp_path / "db-1" / "upkeep.yml").write_text("version: 1\ntimezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match=r"hosts\[0\]\.config: host 'db-1': .*timezone"):
        load_fleet_hosts(read_fleet(path))


def test_two_hosts_on_one_machine_cannot_share_an_evidence_folder(tmp_path: Path) -> None:
    path = make_fleet(tmp_path, [SimulatedHost("db-1", DAILY_OK)])
    path.write_text(path.read_text() + "  - id: db-2\n    config: db-1/upkeep.yml\n")
    (tmp_path / "db-1" / "upkeep.yml").write_text(
        (tmp_path / "db-1" / "upkeep.yml").read_text().replace("host_id: db-1\n", "")
    )
    with pytest.raises(ConfigError, match=r"hosts\[1\]\.config: host 'db-2' keeps its evidence"):
        load_fleet_hosts(read_fleet(path))
    # Over SSH each host is its own machine: the same path there is another folder.
    path.write_text(path.read_text() + "    ssh_conn_id: ssh_db_2\n")
    assert len(load_fleet_hosts(read_fleet(path))) == 2


def test_host_id_in_upkeep_yml_is_checked(make_project) -> None:
    project = make_project("version: 1\nhost_id: db-1\n")
    assert load_config(project.config).host_id == "db-1"
    project.config.write_text("version: 1\nhost_id: 'DB 1'\n")
    with pytest.raises(ConfigError, match="host_id: expected a host id"):
        load_config(project.config)
    project.config.write_text('version: 1\nhost_id: "db-1\\n"\n')  # a line break at its end
    with pytest.raises(ConfigError, match="host_id: expected a host id"):
        load_config(project.config)
    project.config.write_text("version: 1\n")
    assert load_config(project.config).host_id is None


def test_run_host_must_match_the_configs_host_id(make_project) -> None:
    project: Project = make_project("version: 1\nhost_id: db-1\nevidence_dir: evidence\n")
    result = project.upkeep_in_process("run", "--host", "web-2", "anything")
    assert result.code == 2
    assert "'web-2' is not this config's host" in result.err and "host_id: db-1" in result.err
    result = project.upkeep_in_process("run", "anything", env={"UPKEEP_HOST_ID": "Bad Id"})
    assert result.code == 2 and "$UPKEEP_HOST_ID" in result.err
    assert not project.evidence.exists()  # nothing ran, nothing written


def test_host_id_is_written_only_when_set_and_read_back_from_old_evidence() -> None:
    assert "id" not in Host("vm", "root", "Linux").to_json()
    assert Host("vm", "root", "Linux", "db-1").to_json()["id"] == "db-1"
    assert Host.from_json({"name": "vm", "user": "root", "platform": "Linux"}).id == ""
    assert Host.from_json({"name": "vm", "id": "db-1"}).id == "db-1"


def test_evidence_written_before_fleets_reads_back_without_a_host_id() -> None:
    old = sorted(Path(__file__).parent.joinpath("data").rglob("run.json"))
    assert old, "tests/data holds run.json files written by earlier versions"
    for path in old:
        record = RunRecord.from_json(json.loads(path.read_text()))
        assert record.host.id == ""


@pytest.mark.slow
def test_a_run_records_its_host_id_and_a_skipped_run_exits_with_the_code_asked(
    tmp_path: Path,
) -> None:
    import filelock

    make_fleet(tmp_path, [SimulatedHost("db-1", {"probe": ("daily", "ok")})])
    project = Project(tmp_path / "db-1")
    config = project.config
    config.write_text(config.read_text().replace("host_id: db-1\n", ""))
    ran = project.upkeep("run", "--host", "db-1", "--exit-skipped", "99", "probe")
    assert ran.code == 0, ran.text
    (tmp_path / "db-1" / "state" / "locks").mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(tmp_path / "db-1" / "state" / "locks" / "probe.lock"):
        skipped = project.upkeep("run", "--exit-skipped", "99", "probe",
                                 env={"UPKEEP_HOST_ID": "db-1"})  # fmt: skip
        as_before = project.upkeep("run", "probe")
    assert skipped.code == 99, skipped.text
    assert as_before.code == 0, as_before.text  # without --exit-skipped: as ok, as always
    records = sorted(project.records(), key=lambda record: record["started_at"])
    assert [record["status"] for record in records] == ["ok", "skipped", "skipped"]
    assert [record["host"].get("id") for record in records] == ["db-1", "db-1", None]
    assert project.upkeep("verify").code == 0
