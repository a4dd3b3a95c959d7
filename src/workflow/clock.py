"""Time as a dependency: the system clock in production, a controllable clock in tests; the institution's
calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """Something that tells the current time (timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        self._now += delta

    def set(self, moment: datetime) -> None:
        """Jump to ``moment``."""
        self._now = moment


class LocalDays:
    """The institution's calendar: which local day an instant falls on, and its local wall time.

    Date-only values (delegation days, expiry dates, due dates) mean days of this calendar, not UTC days. Daylight
    saving is the zone's own (``zoneinfo``), so a day may last 23 or 25 hours.
    """

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)
        self.name = zone
        self.place = zone.rsplit("/", 1)[-1].replace("_", " ")  # "America/Toronto" -> "Toronto"

    def day_of(self, instant: datetime) -> date:
        """The local calendar day ``instant`` (timezone-aware) falls on."""
        return instant.astimezone(self.zone).date()

    def local(self, instant: datetime) -> datetime:
        """``instant`` as the local wall time (with its zone, so ``%Z`` names EST or EDT)."""
        return instant.astimezone(self.zone)
