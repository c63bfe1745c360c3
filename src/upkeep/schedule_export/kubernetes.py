"""Responsible for the Kubernetes export: per runbook one CronJob manifest (`batch/v1`) with
the config's `timeZone`, `concurrencyPolicy: Forbid` (a run still going is never doubled),
`startingDeadlineSeconds` and a Job that is not retried (a failed run is evidence, not
something to repeat blindly); the image, the evidence and state volumes come from the
`schedule.kubernetes` section of the config. For a fleet (`upkeep export kubernetes --fleet`),
one file per host group: a CronJob per host × runbook, each from its host's own config (its
image, its evidence claim: one ledger per host) and running `upkeep run --host ID`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import yaml

from upkeep.errors import ConfigError
from upkeep.schedule_export.fields import portable_expression, star_step_refusal
from upkeep.schedule_export.localtime import dst_refusal

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.schedule_export import ExportContext, Job, Refusal
    from upkeep.schedule_export.fleet_tasks import HostJob

NAME = "kubernetes"
# A CronJob's name: a DNS label of at most 52 characters (its Jobs append 11).
_MAX_NAME = 52
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def cronjob_name(runbook: str, host: str | None = None) -> str:
    return f"upkeep-{host}-{runbook}" if host else f"upkeep-{runbook}"


def refusal(job: Job, zone: ZoneInfo, now: datetime) -> str | None:
    return (
        name_refusal(cronjob_name(job.name))
        or star_step_refusal(job.fields, "Kubernetes' cron")
        or dst_refusal(job, zone, now)
    )


def name_refusal(name: str) -> str | None:
    if len(name) > _MAX_NAME or not _LABEL.fullmatch(name):
        return (
            f"its CronJob name {name!r} is not a Kubernetes CronJob name (lowercase letters, "
            f"digits and '-', at most {_MAX_NAME} characters)"
        )
    return None


def files(
    jobs: Sequence[Job], refused: Sequence[Refusal], context: ExportContext
) -> dict[str, str]:
    require_settings(context, "upkeep schedule export kubernetes")
    return {
        f"{cronjob_name(job.name)}.yaml": yaml.safe_dump(
            cronjob(job, context), sort_keys=False, default_flow_style=False
        )
        for job in jobs
    }


def require_settings(context: ExportContext, command: str) -> None:
    """ConfigError (exit 2, nothing written) without the image or the evidence claim."""
    settings = context.settings.kubernetes
    where = f"{context.config_path}: schedule.kubernetes"
    if not settings.image:
        raise ConfigError(
            f"{where}.image: required for `{command}`; expected the "
            "container image holding upkeep, the runbooks and the config"
        )
    if not settings.evidence_claim:
        raise ConfigError(
            f"{where}.evidence_claim: required for `{command}`; "
            "expected the PersistentVolumeClaim that keeps the evidence between runs"
        )


def _in_image(directory: Path, config: Config, config_path: Path) -> str:
    """Where `directory` is inside the image: a folder beside upkeep.yml stays beside it when
    the config sits elsewhere in the image (`schedule.kubernetes.config_path`)."""
    if directory.is_relative_to(config.root):
        return str(config_path.parent / directory.relative_to(config.root))
    return str(directory)


def cronjob(
    job: Job, context: ExportContext, host: str | None = None, group: str | None = None
) -> dict[str, Any]:
    """The CronJob manifest of one runbook (on fleet host `host` of `group`), as a mapping."""
    settings = context.settings.kubernetes
    config = context.config
    config_path = settings.config_path or context.config_path
    labels = {"app.kubernetes.io/name": "upkeep", "upkeep.runbook": job.name}
    args = context.run_args(job.name, command="upkeep", config=config_path)
    if host:
        labels |= {"upkeep.host": host, "upkeep.group": group or host}
        args[-1:-1] = ["--host", host]
    mounts = [
        {"name": "evidence", "mountPath": _in_image(config.evidence_dir, config, config_path)}
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "evidence", "persistentVolumeClaim": {"claimName": settings.evidence_claim}}
    ]
    if settings.state_claim:
        mounts.append(
            {"name": "state", "mountPath": _in_image(config.state_dir, config, config_path)}
        )
        volumes.append(
            {"name": "state", "persistentVolumeClaim": {"claimName": settings.state_claim}}
        )
    container = {
        "name": "upkeep",
        "image": settings.image,
        "args": args,
        "volumeMounts": mounts,
    }
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    if settings.service_account:
        pod_spec["serviceAccountName"] = settings.service_account
    pod_spec["volumes"] = volumes
    metadata: dict[str, Any] = {"name": cronjob_name(job.name, host)}
    if settings.namespace:
        metadata["namespace"] = settings.namespace
    metadata["labels"] = labels
    metadata["annotations"] = {"upkeep.cadence": job.cadence, "upkeep.title": job.title}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata,
        "spec": {
            "schedule": portable_expression(job.fields),
            "timeZone": context.zone.key,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": settings.starting_deadline_s,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,
                    "template": {"metadata": {"labels": labels}, "spec": pod_spec},
                }
            },
        },
    }


def fleet_files(jobs: Sequence[HostJob]) -> tuple[dict[str, str], list[Refusal]]:
    """One file per host group (`upkeep-GROUP.yaml`; a host in no group is its own): the
    CronJobs of its hosts × runbooks, each from its host's config. ConfigError (exit 2) when a
    host's config lacks the image or the evidence claim, or two hosts share one evidence claim
    (their runs would share one ledger and its lock)."""
    from upkeep.schedule_export import ExportContext, Refusal

    claims: dict[tuple[str | None, str | None], str] = {}
    groups: dict[str, list[dict[str, Any]]] = {}
    refused: list[Refusal] = []
    for item in jobs:
        host, config = item.host.host, item.host.config
        context = ExportContext(config)
        require_settings(context, "upkeep export kubernetes --fleet")
        settings = context.settings.kubernetes
        owner = claims.setdefault((settings.namespace, settings.evidence_claim), host.id)
        if owner != host.id:
            raise ConfigError(
                f"{config.path}: schedule.kubernetes.evidence_claim: {settings.evidence_claim!r} "
                f"is also the claim of host {owner!r}; expected a claim that only host "
                f"{host.id!r} uses (one ledger per host)"
            )
        reason = name_refusal(cronjob_name(item.job.name, host.id)) or star_step_refusal(
            item.job.fields, "Kubernetes' cron"
        )
        if reason is not None:
            refused.append(Refusal(f"{host.id}/{item.job.name}", reason))
            continue
        group = host.group or host.id
        groups.setdefault(group, []).append(cronjob(item.job, context, host.id, group))
    files = {
        f"upkeep-{group}.yaml": yaml.safe_dump_all(
            manifests, sort_keys=False, default_flow_style=False
        )
        for group, manifests in sorted(groups.items())
    }
    return files, refused
