"""Which timers a credential should have, given its state, when it entered it, and its data.

Pure planning: the store keeps the planned timers as rows and the scheduler fires them. A timer is relative to
entering a state (``after``), to a date field (``at``, optionally ``before`` it for warnings), or recurring
(``every``, overridable per credential in months by ``every_field``) counted from entering the state.

A date field names a day of the institution's calendar: its timer is due at local midnight at the start of that
day, and warnings before it are counted in local days. The caller passes the calendar in (``days``); the planner
reads no settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import isodate

from workflow.clock import LocalDays
from workflow.definitions.model import Definition, Timer
from workflow.errors import InvalidInput


@dataclass(frozen=True)
class PlannedTimer:
    """One timer a credential should have: what to do, when, and the state it must still be in."""

    key: str  # the definition's timer key, with "@<offset>" for each warning before a date
    timer: str
    action: str
    due_at: datetime
    state: str | None
    trigger: str | None
    notify: tuple[str, ...]


def parse_duration(text: str) -> timedelta | isodate.Duration:
    """An ISO 8601 duration (``P14D``, ``P12M``, ``PT4H``); months and years stay calendar units."""
    return isodate.parse_duration(text)


def _start_of(day: Any, days: LocalDays) -> datetime | None:
    """An instant as it is; a date as local midnight, kept in local wall time so that offsets before it count
    local days (``P7D`` before a date is midnight seven local days earlier, whatever daylight saving does)."""
    if isinstance(day, datetime):
        return day.astimezone(UTC)
    try:
        value = day if isinstance(day, date) else date.fromisoformat(str(day))
    except ValueError:
        return None
    # Converted to UTC, fold=0 reads a skipped midnight (a zone whose clocks jump at 00:00) as the moment of the
    # change and a repeated one at its first occurrence: either way the earliest instant of the day.
    return datetime(value.year, value.month, value.day, tzinfo=days.zone)


def _base(timer: Timer, entered_at: datetime, data: Mapping[str, Any], days: LocalDays) -> datetime | None:
    if timer.after is not None:
        return entered_at + parse_duration(timer.after)
    if timer.at is not None:
        value = data.get(timer.at)
        return _start_of(value, days) if value else None
    if timer.every is not None:
        months = data.get(timer.every_field) if timer.every_field else None
        cycle = isodate.Duration(months=months) if isinstance(months, int) and months > 0 else \
            parse_duration(timer.every)
        return entered_at + cycle
    return None


def plan(definition: Definition, *, state: str, entered_at: datetime, data: Mapping[str, Any],
         now: datetime, days: LocalDays) -> list[PlannedTimer]:
    """Every timer the credential should have while in ``state``; date fields are days of ``days``' calendar.

    Warnings (``before``) already past at ``now`` are left out; other timers already due are kept, so that they
    fire at once (a hard expiry that passed while nothing ran still moves the credential on).
    """
    planned: list[PlannedTimer] = []
    for timer in definition.timers:
        if timer.state and state not in timer.state:
            continue
        try:
            base = _base(timer, entered_at, data, days)
        except OverflowError:
            raise InvalidInput(timer.every_field or timer.at or timer.key,
                               f"puts timer '{timer.key}' beyond the calendar; use a smaller value") from None
        if base is None:
            continue
        guard = state if timer.state else None
        if timer.before:
            for offset in timer.before:
                try:
                    due = (base - parse_duration(offset)).astimezone(UTC)
                except OverflowError:
                    continue
                if due >= now:
                    planned.append(PlannedTimer(f"{timer.key}@{offset}", timer.key, timer.action, due, guard,
                                                timer.trigger, timer.notify))
        else:
            planned.append(PlannedTimer(timer.key, timer.key, timer.action, base.astimezone(UTC), guard,
                                        timer.trigger, timer.notify))
    return planned


def depends_on(definition: Definition) -> set[str]:
    """The data fields whose change moves some timer (``at`` dates and ``every_field`` cycles)."""
    fields = {t.at for t in definition.timers if t.at} | {t.every_field for t in definition.timers if t.every_field}
    return {f for f in fields if f}


def depends_on_fields(definition: Definition, key: str) -> set[str]:
    """The data fields whose change moves the timer ``key`` (its ``at`` date or ``every_field`` cycle)."""
    return {f for t in definition.timers if t.key == key for f in (t.at, t.every_field) if f}
