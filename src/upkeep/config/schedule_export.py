"""Responsible for the `schedule:` section of `upkeep.yml`: how the files `upkeep schedule
export` writes start upkeep (the command, systemd's randomized delay, the Kubernetes image,
volumes and deadline)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from upkeep.config.reader import Section

__all__ = ["KubernetesExport", "ScheduleExport", "read_schedule_export"]

# A Kubernetes object name (RFC 1123 label): lowercase letters, digits and '-'.
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class KubernetesExport:
    """What the exported CronJobs run and keep: `image` holds upkeep, the project's runbooks and
    the config at `config_path` (default: this config's own path); the PersistentVolumeClaim
    `evidence_claim` is mounted at the config's evidence_dir and `state_claim`, when given, at
    its state_dir; a run that could not start within `starting_deadline_s` of its time is
    skipped (upkeep's own `run --due` catches a missed period up once)."""

    image: str | None = None
    namespace: str | None = None
    config_path: Path | None = None
    evidence_claim: str | None = None
    state_claim: str | None = None
    starting_deadline_s: int = 3600
    service_account: str | None = None


@dataclass(frozen=True)
class ScheduleExport:
    """`command`: the upkeep executable the crontab and the systemd units run (default: the
    one beside the Python running the export); `randomized_delay_s`: systemd's
    RandomizedDelaySec (0: on time); `user`: the account the systemd service runs as (User=;
    default: root, as for any system unit)."""

    command: str | None = None
    randomized_delay_s: int = 0
    user: str | None = None
    kubernetes: KubernetesExport = field(default_factory=KubernetesExport)


def read_schedule_export(section: Section | None) -> ScheduleExport:
    if section is None:
        return ScheduleExport()
    command = _one_line(section, "command")
    systemd = section.section("systemd")
    delay, user = 0, None
    if systemd is not None:
        delay = systemd.int("randomized_delay_s", 0, minimum=0, maximum=MAX_DELAY_S)
        user = _one_line(systemd, "user")
        systemd.done()
    kubernetes = _kubernetes(section.section("kubernetes"))
    section.done()
    return ScheduleExport(
        command=command, randomized_delay_s=delay, user=user, kubernetes=kubernetes
    )


# Written into crontab lines and unit files as they are: a line break there would add a line of
# its own (a cron job, an ExecStartPre=).
MAX_DELAY_S = 24 * 3600


def _one_line(section: Section, key: str) -> str | None:
    value = section.str(key, None)
    if value is not None and any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        section.fail(key, "one line of text without control characters", value)
    return value


def _kubernetes(section: Section | None) -> KubernetesExport:
    if section is None:
        return KubernetesExport()
    config_path = section.str("config_path", None)
    if config_path is not None and not config_path.startswith("/"):
        section.fail("config_path", "an absolute path inside the image", config_path)
    settings = KubernetesExport(
        image=section.str("image", None),
        namespace=_name(section, "namespace"),
        config_path=Path(config_path) if config_path else None,
        evidence_claim=_name(section, "evidence_claim"),
        state_claim=_name(section, "state_claim"),
        starting_deadline_s=section.int("starting_deadline_s", 3600, minimum=1),
        service_account=_name(section, "service_account"),
    )
    section.done()
    return settings


def _name(section: Section, key: str) -> str | None:
    value = section.str(key, None)
    if value is not None and (len(value) > 63 or not _K8S_NAME.fullmatch(value)):
        section.fail(key, "a Kubernetes name (lowercase letters, digits and '-')", value)
    return value
