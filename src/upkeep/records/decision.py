"""Responsible for a person's decision on record: who decided what about which subject, when and
why (acknowledging a finding, accepting a drift, approving a plan, ...). Decisions are events: the
evidence ledger keeps each one as a line of its own, chained with the runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from upkeep.records.vocabulary import iso, parse_time

DECISION_TYPE = re.compile(r"[a-z]+(?:-[a-z]+)*")


@dataclass(frozen=True, slots=True)
class Decision:
    """What one person decided about one subject, at one moment, and why."""

    type: str  # kebab-case: "acknowledge", "accept-drift", ...
    subject: str  # what it is about: a finding's fingerprint, a run id, a docs page
    author: str
    at: datetime
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)  # what a type needs besides

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or not DECISION_TYPE.fullmatch(self.type):
            raise ValueError(f"decision type {self.type!r} is not a kebab-case word")
        for name in ("subject", "author", "reason"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"a decision needs a {name}, got {value!r}")
        if self.at.tzinfo is None:
            raise ValueError("a decision's time needs a time zone")

    def new_id(self) -> str:
        """`20261204T031500Z-acknowledge-7f3a`: when, what, and a random suffix."""
        import secrets  # here: only a new decision needs it, reading the ledger does not

        return f"{self.at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{self.type}-{secrets.token_hex(2)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "subject": self.subject,
            "author": self.author,
            "at": iso(self.at),
            "reason": self.reason,
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, value: Any) -> Decision:
        """A decision from its JSON; ValueError saying what is malformed."""
        if not isinstance(value, Mapping):
            raise ValueError("a decision must be a mapping")
        details = value.get("details", {})
        if not isinstance(details, Mapping):
            raise ValueError("a decision's details must be a mapping")
        return cls(
            type=value.get("type"),  # type: ignore[arg-type]  # checked in __post_init__
            subject=value.get("subject"),  # type: ignore[arg-type]
            author=value.get("author"),  # type: ignore[arg-type]
            at=parse_time(value.get("at"), "at"),
            reason=value.get("reason"),  # type: ignore[arg-type]
            details=dict(details),
        )
