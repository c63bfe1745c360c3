"""Alerts that reach people: after runs, each target is told when a runbook got worse, when it
recovered, and while it stays failing; every message sent is a record in the evidence."""

from upkeep.alerts.evaluate import NOTIFICATION, NOTIFICATION_FAILED, Sent, alert

__all__ = ["NOTIFICATION", "NOTIFICATION_FAILED", "Sent", "alert"]
