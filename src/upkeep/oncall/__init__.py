"""Who is on call: the rotation's answer at a moment, its shifts over a span, and the schedule
as an iCalendar file."""

from upkeep.oncall.rotation import CURRENT_REACH, Answer, Shift, answer, current_shift, shifts

__all__ = ["CURRENT_REACH", "Answer", "Shift", "answer", "current_shift", "shifts"]
