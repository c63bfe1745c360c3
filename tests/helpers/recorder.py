"""A stand-in for `upkeep.report` inside a procedures module, for testing procedures without a
kernel."""

from __future__ import annotations

from typing import Any

from upkeep import report


class Recorder:
    """Stands in for `upkeep.report` in a procedures module, keeping what the real functions
    return: `monkeypatch.setattr(module, "report", Recorder())`."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def _keep(self, record: dict[str, Any]) -> dict[str, Any]:
        self.records.append(record)
        return record

    def check(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._keep(report.check(*args, **kwargs))

    def metric(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._keep(report.metric(*args, **kwargs))

    def finding(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._keep(report.finding(*args, **kwargs))

    def dry_run(self) -> dict[str, Any]:
        return self._keep(report.dry_run())

    def summary(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._keep(report.summary(*args, **kwargs))

    def summaries(self) -> list[str]:
        return [r["text"] for r in self.records if r["kind"] == report.SUMMARY]

    def said_dry_run(self) -> bool:
        return any(r["kind"] == report.DRY_RUN for r in self.records)

    def checks(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.records if r["kind"] == "check"}

    def metrics(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.records if r["kind"] == "metric"}

    def findings(self) -> dict[str, dict[str, Any]]:
        return {r["key"]: r for r in self.records if r["kind"] == "finding"}
