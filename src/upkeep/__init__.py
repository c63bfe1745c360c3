"""upkeep: a maintenance plan as code — runbooks, evidence, and a site that publishes both."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
