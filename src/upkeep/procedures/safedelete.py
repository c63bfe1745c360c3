"""Moved to `upkeep.cleaning.safedelete`; re-exported until `procedures.logrotate` imports it."""

from upkeep.cleaning.safedelete import *  # noqa: F403
