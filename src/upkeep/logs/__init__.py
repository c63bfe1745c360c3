"""Responsible for the maintained system's log files: `layout` names the files a log's path
matches, their rotated copies and state files, `scan` reads what was written since the last scan
(opening only regular files through `regular_files`; a first scan from where `first_scan` says,
by `line_times`; the lines through `matching`, `pattern_literals` and `literal_search`) and
`grouping` groups it by the message `templates` makes of each line; `rotation_plan` decides and
plans a rotation and `rotate` carries it out.
"""

from __future__ import annotations

from upkeep.logs.grouping import LineLevel, MessageGroup, group_key
from upkeep.logs.rotate import rotate_logs
from upkeep.logs.rotation_plan import RotationProblem, RotationResult, Step
from upkeep.logs.scan import LogPosition, LogScan, scan_log
from upkeep.logs.templates import mask_message

__all__ = [
    "LineLevel",
    "LogPosition",
    "LogScan",
    "MessageGroup",
    "RotationProblem",
    "RotationResult",
    "Step",
    "group_key",
    "mask_message",
    "rotate_logs",
    "scan_log",
]
