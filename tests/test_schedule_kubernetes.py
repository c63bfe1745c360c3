"""The exported CronJob manifests checked against the CronJob schema of the Kubernetes API, as
the official Python client's models hold it (kubernetes on PyPI): every field known and of its
type (a manifest read into the models and written back is unchanged, so a misspelled or
misplaced key would be lost and fail the test), required fields present, and the values the
API server enforces that the models do not (names, policies, the time zone).

Not checked here, as it needs a cluster: the API server's own admission and defaulting, that
the image can be pulled, that the claims exist and can be mounted by several runbooks' pods at
once (use a ReadWriteMany claim, or keep the pods on one node), and how the controller itself
schedules (covered by the agreement test through croniter, not by a controller).
"""

from __future__ import annotations

import inspect
import json
import textwrap
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from helpers.project import CHECK_OK, Project
from kubernetes.client import ApiClient

K8S_CONFIG = """\
version: 1
timezone: Europe/Berlin
evidence_dir: /srv/upkeep/evidence
state_dir: /srv/upkeep/state
runbooks_dir: runbooks
schedule:
  kubernetes:
    image: registry.example.org/maintenance/upkeep:2.1
    namespace: maintenance
    config_path: /srv/upkeep/upkeep.yml
    evidence_claim: upkeep-evidence
    state_claim: upkeep-state
    starting_deadline_s: 1800
    service_account: upkeep
"""


class _Response:
    def __init__(self, manifest: dict[str, Any]) -> None:
        self.data = json.dumps(manifest)


def as_model(manifest: dict[str, Any]) -> Any:
    """The manifest read into the client's V1CronJob model (ValueError on a missing required
    field or a wrong type)."""
    client = ApiClient()
    if "content_type" in inspect.signature(client.deserialize).parameters:  # newer clients
        return client.deserialize(json.dumps(manifest), "V1CronJob", "application/json")
    return client.deserialize(_Response(manifest), "V1CronJob")


@pytest.fixture
def manifests(tmp_path: Path) -> dict[str, dict[str, Any]]:
    (tmp_path / "upkeep.yml").write_text(K8S_CONFIG)
    project = Project(tmp_path)
    project.add_runbook("health-check", [CHECK_OK], cadence="daily")
    project.add_runbook("weekly-review", [CHECK_OK], cadence="weekly")
    project.add_runbook("office-hours", [CHECK_OK], cadence="*/20 9-17 * * 1-5")
    result = project.upkeep_in_process(
        "schedule", "export", "kubernetes", "-o", str(tmp_path / "k8s")
    )
    assert result.code == 0, result.err
    files = sorted((tmp_path / "k8s").glob("*.yaml"))
    assert [f.name for f in files] == [
        "upkeep-health-check.yaml",
        "upkeep-office-hours.yaml",
        "upkeep-weekly-review.yaml",
    ]
    return {f.stem: yaml.safe_load(f.read_text()) for f in files}


def test_every_manifest_is_a_valid_cronjob(manifests: dict[str, dict[str, Any]]) -> None:
    for name, manifest in manifests.items():
        model = as_model(manifest)
        assert ApiClient().sanitize_for_serialization(model) == manifest, name
        spec = model.spec
        assert model.api_version == "batch/v1" and model.kind == "CronJob"
        assert len(model.metadata.name) <= 52  # the API server's limit for a CronJob's name
        assert spec.concurrency_policy == "Forbid"
        assert spec.starting_deadline_seconds == 1800
        assert ZoneInfo(spec.time_zone).key == "Europe/Berlin"
        pod = spec.job_template.spec.template.spec
        assert pod.restart_policy in ("Never", "OnFailure")  # what a Job's pod may have
        assert spec.job_template.spec.backoff_limit == 0


def test_manifest_runs_the_runbook_with_the_configured_image_and_volumes(
    manifests: dict[str, dict[str, Any]],
) -> None:
    manifest = manifests["upkeep-office-hours"]
    assert manifest["metadata"]["namespace"] == "maintenance"
    assert manifest["spec"]["schedule"] == "*/20 9-17 * * 1-5"
    pod = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "upkeep"
    (container,) = pod["containers"]
    assert container["image"] == "registry.example.org/maintenance/upkeep:2.1"
    assert container["args"] == [
        "upkeep",
        "--config",
        "/srv/upkeep/upkeep.yml",
        "run",
        "--trigger",
        "schedule",
        "office-hours",
    ]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"evidence": "/srv/upkeep/evidence", "state": "/srv/upkeep/state"}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    assert claims == {"evidence": "upkeep-evidence", "state": "upkeep-state"}


def test_the_schema_check_catches_a_misspelled_field(manifests: dict[str, dict[str, Any]]) -> None:
    """The check above is not vacuous: a key the schema does not know is lost on the way."""
    manifest = json.loads(json.dumps(manifests["upkeep-health-check"]))
    manifest["spec"]["concurrencyPolicyy"] = manifest["spec"].pop("concurrencyPolicy")
    assert ApiClient().sanitize_for_serialization(as_model(manifest)) != manifest
    del manifest["spec"]["jobTemplate"]
    with pytest.raises(ValueError, match="(?i)job_?template"):
        as_model(manifest)


@pytest.mark.parametrize(
    ("section", "missing"),
    [
        ("schedule:\n  kubernetes:\n    evidence_claim: ev\n", "schedule.kubernetes.image"),
        ("schedule:\n  kubernetes:\n    image: upkeep:1\n", "schedule.kubernetes.evidence_claim"),
        ("", "schedule.kubernetes.image"),
    ],
)
def test_export_without_image_or_evidence_claim_is_bad_input(
    tmp_path: Path, section: str, missing: str
) -> None:
    (tmp_path / "upkeep.yml").write_text(
        "version: 1\ntimezone: UTC\nrunbooks_dir: runbooks\n" + textwrap.dedent(section)
    )
    project = Project(tmp_path)
    project.add_runbook("health-check", [CHECK_OK], cadence="daily")
    result = project.upkeep_in_process(
        "schedule", "export", "kubernetes", "-o", str(tmp_path / "k8s")
    )
    assert result.code == 2
    assert f"{missing}: required for `upkeep schedule export kubernetes`" in result.err
    assert not (tmp_path / "k8s").exists()


def test_folders_beside_the_config_stay_beside_it_in_the_image(tmp_path: Path) -> None:
    """evidence_dir and state_dir relative to upkeep.yml are mounted relative to where the
    config is inside the image, not where it was on the machine that exported."""
    (tmp_path / "upkeep.yml").write_text(
        "version: 1\ntimezone: UTC\nrunbooks_dir: runbooks\nevidence_dir: evidence\n"
        "state_dir: var/state\nschedule:\n  kubernetes:\n    image: upkeep:1\n"
        "    evidence_claim: ev\n    state_claim: st\n    config_path: /app/upkeep.yml\n"
    )
    project = Project(tmp_path)
    project.add_runbook("health-check", [CHECK_OK], cadence="daily")
    result = project.upkeep_in_process("schedule", "export", "kubernetes")
    assert result.code == 0, result.err
    manifest = yaml.safe_load(result.out)
    (container,) = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"evidence": "/app/evidence", "state": "/app/var/state"}
    assert container["args"][:3] == ["upkeep", "--config", "/app/upkeep.yml"]
