"""Responsible for the on-call schedule as an iCalendar file (RFC 5545) that a calendar client
can subscribe to: one event per shift, gaps in the rotation included as events of their own."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from upkeep.oncall.rotation import Shift

__all__ = ["calendar"]

PRODUCT = "-//upkeep//on-call//EN"


def summary(shift: Shift) -> str:
    """What the event says: who is on call in which schedule, or that nobody is."""
    who = shift.answer.who
    if who is None:
        return f"NOBODY on call ({shift.schedule})"
    return f"{who} on call ({shift.schedule})"


def calendar(shifts: Iterable[Shift], generated_at: datetime, name: str) -> bytes:
    """The shifts as an iCalendar document, times in UTC; an event's UID depends only on its
    schedule, start and person, so a client refreshing the subscription updates, not duplicates."""
    from icalendar import Calendar, Event

    document = Calendar()
    document.add("prodid", PRODUCT)
    document.add("version", "2.0")
    document.add("calscale", "GREGORIAN")
    document.add("x-wr-calname", name)
    for shift in shifts:
        event = Event()
        identity = f"{shift.schedule}|{shift.start.isoformat()}|{shift.answer.who}"
        event.add("uid", hashlib.sha256(identity.encode()).hexdigest()[:32] + "@upkeep")
        event.add("dtstamp", generated_at)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", summary(shift))
        event.add("description", shift.answer.source)
        event.add("categories", [shift.schedule])
        document.add_component(event)
    return document.to_ical()
