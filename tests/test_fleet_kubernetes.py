"""`upkeep export kubernetes --fleet`: a fleet's CronJobs, one file per host group, each
manifest checked against the CronJob schema of the Kubernetes API as the official client's
models hold it (see tests/test_schedule_kubernetes.py for what that covers and what it does
not), each running `upkeep run --host ID` with its host's own image and evidence claim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from helpers.fleet import SimulatedHost, make_fleet
from helpers.project import Result
from kubernetes.client import ApiClient
from test_schedule_kubernetes import as_model


def _kubernetes_section(host: str, claim: str | None = None) -> str:
    return (
        "schedule:\n  kubernetes:\n"
        f"    image: registry.example.org/upkeep:2.1\n"
        f"    namespace: maintenance\n"
        f"    config_path: /srv/{host}/upkeep.yml\n"
        f"    evidence_claim: {claim or f'evidence-{host}'}\n"
    )


def _fleet(tmp_path: Path, claims: dict[str, str] | None = None) -> Path:
    hosts = [
        SimulatedHost("db-1", {"probe": ("daily", "ok"), "disk": ("weekly", "ok")}),
        SimulatedHost("web-1", {"probe": ("daily", "ok")}, fleet_entry="group: web\n"),
        SimulatedHost("web-2", {"probe": ("daily", "ok")}, fleet_entry="group: web\n"),
    ]
    fleet = make_fleet(tmp_path, hosts, groups="groups:\n  - id: web\n")
    for host in hosts:
        config = tmp_path / host.id / "upkeep.yml"
        section = _kubernetes_section(host.id, (claims or {}).get(host.id))
        config.write_text(config.read_text() + section)
    return fleet


def _export(fleet: Path, *args: str) -> Result:
    from click.testing import CliRunner

    from upkeep.cli import main

    result = CliRunner().invoke(main, ["export", "kubernetes", "--fleet", str(fleet), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def _manifests(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        path.name: list(yaml.safe_load_all(path.read_text()))
        for path in sorted(folder.glob("*.yaml"))
    }


def test_one_file_per_host_group_with_a_valid_cronjob_per_host_and_runbook(
    tmp_path: Path,
) -> None:
    result = _export(_fleet(tmp_path), "-o", str(tmp_path / "k8s"))
    assert result.code == 0, result.err
    files = _manifests(tmp_path / "k8s")
    assert {
        name: [m["metadata"]["name"] for m in manifests] for name, manifests in files.items()
    } == {
        "upkeep-db-1.yaml": ["upkeep-db-1-disk", "upkeep-db-1-probe"],
        "upkeep-web.yaml": ["upkeep-web-1-probe", "upkeep-web-2-probe"],
    }
    for manifests in files.values():
        for manifest in manifests:
            assert ApiClient().sanitize_for_serialization(as_model(manifest)) == manifest


def test_each_cronjob_runs_its_host_with_its_own_config_and_evidence_claim(
    tmp_path: Path,
) -> None:
    _export(_fleet(tmp_path), "-o", str(tmp_path / "k8s"))
    web2 = _manifests(tmp_path / "k8s")["upkeep-web.yaml"][1]
    assert web2["metadata"]["labels"]["upkeep.host"] == "web-2"
    assert web2["metadata"]["labels"]["upkeep.group"] == "web"
    assert web2["spec"]["schedule"] == "0 0 * * *" and web2["spec"]["timeZone"] == "UTC"
    assert web2["spec"]["concurrencyPolicy"] == "Forbid"
    pod = web2["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == [
        "upkeep",
        "--config",
        "/srv/web-2/upkeep.yml",
        "run",
        "--trigger",
        "schedule",
        "--host",
        "web-2",
        "probe",
    ]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "evidence-web-2"
    assert {m["name"]: m["mountPath"] for m in container["volumeMounts"]} == {
        "evidence": "/srv/web-2/evidence"
    }


def test_two_hosts_sharing_an_evidence_claim_is_bad_input(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path, claims={"web-2": "evidence-web-1"})
    result = _export(fleet, "-o", str(tmp_path / "k8s"))
    assert result.code == 2
    assert "evidence_claim: 'evidence-web-1' is also the claim of host 'web-1'" in result.err
    assert not (tmp_path / "k8s").exists()


def test_a_host_without_an_image_is_bad_input_naming_its_config(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path)
    config = tmp_path / "web-1" / "upkeep.yml"
    config.write_text(
        config.read_text().replace("    image: registry.example.org/upkeep:2.1\n", "")
    )
    result = _export(fleet)
    assert result.code == 2
    assert f"{config}: schedule.kubernetes.image: required for `upkeep export kubernetes" in (
        result.err
    )


def test_a_cronjob_name_too_long_is_refused_and_the_rest_written(tmp_path: Path) -> None:
    long_name = "a-runbook-whose-name-is-long-enough-to-overflow"
    fleet = make_fleet(
        tmp_path, [SimulatedHost("db-1", {"probe": ("daily", "ok"), long_name: ("daily", "ok")})]
    )
    config = tmp_path / "db-1" / "upkeep.yml"
    config.write_text(config.read_text() + _kubernetes_section("db-1"))
    result = _export(fleet)
    assert result.code == 1
    assert f"refused: db-1/{long_name}: not exported to kubernetes" in result.err
    assert [m["metadata"]["name"] for m in yaml.safe_load_all(result.out)] == ["upkeep-db-1-probe"]
