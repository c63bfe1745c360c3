"""Responsible for what upkeep tells an observability stack: the Prometheus textfile written
after every run (`textfile`, from the evidence as `evidence_fold` reads it, and the backup
store as `backups` reads it), the alerting rules derived from the plan (`rules`), and the
names both use (`names`). See docs/reference/observability.md.
"""

from __future__ import annotations
