"""The arithmetic of a credential's plan, with no database: which phases are planned, back-scheduling from a
target launch date, the typical length of each phase in the institution's history, and the forecast.

The planned phases are the states from the initial one, in the definition's order, while each has
``planned_days`` and is not final (for the micro-credential definition: ideation to marketing and launch); the
end of the last of them is the launch. Dates are the institution's local days.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

from workflow.definitions.model import Definition

MIN_SAMPLE = 3
"""Phases the history holds fewer finished stays of are forecast with the plan's durations instead."""


def plan_path(definition: Definition) -> list[str]:
    """The planned phases, in order; the last one ends with the launch."""
    states = definition.states
    ids = list(states)
    initial = next((sid for sid, s in states.items() if s.initial), ids[0])
    path: list[str] = []
    for sid in ids[ids.index(initial):]:
        state = states[sid]
        if state.final or not state.planned_days:
            break
        path.append(sid)
    return path


def back_schedule(definition: Definition, path: Sequence[str], target: date) -> dict[str, date]:
    """Each phase's end, counted back from the launch on ``target`` with the definition's ``planned_days``: a
    phase ends when the next one's planned days before that one's end."""
    ends: dict[str, date] = {}
    end = target
    for position in range(len(path) - 1, -1, -1):
        ends[path[position]] = end
        end -= timedelta(days=definition.states[path[position]].planned_days or 0)
    return {sid: ends[sid] for sid in path}


def plan_durations(definition: Definition, path: Sequence[str], dates: Mapping[str, date] | None) -> dict[str, int]:
    """How many days each phase has in the plan: between its end and the previous one's (the first phase, and
    every phase with no plan, takes the definition's ``planned_days``)."""
    found: dict[str, int] = {}
    for position, sid in enumerate(path):
        days = definition.states[sid].planned_days or 0
        if dates and position > 0 and sid in dates and path[position - 1] in dates:
            days = max(0, (dates[sid] - dates[path[position - 1]]).days)
        found[sid] = days
    return found


def medians(stays: Iterable[tuple[str, float]]) -> dict[str, tuple[float, int]]:
    """Each state's median finished stay in days, and how many stays it is the median of."""
    seen: dict[str, list[float]] = {}
    for sid, days in stays:
        seen.setdefault(sid, []).append(days)
    return {sid: (float(median(found)), len(found)) for sid, found in seen.items()}


def typical_days(history: Mapping[str, tuple[float, int]], path: Sequence[str], fallback: Mapping[str, int],
                 minimum: int = MIN_SAMPLE) -> dict[str, tuple[float, str]]:
    """Each phase's typical length in days and where it comes from: the median of the history's finished stays
    (:func:`medians`) when there are at least ``minimum`` of them ("history"), else ``fallback`` ("plan")."""
    found: dict[str, tuple[float, str]] = {}
    for sid in path:
        middle, count = history.get(sid, (0.0, 0))
        found[sid] = (middle, "history") if count >= minimum else (float(fallback.get(sid, 0)), "plan")
    return found


@dataclass(frozen=True)
class Forecast:
    """The expected end of each phase not yet finished, and of the launch. ``launched``: it is no forecast but
    the day it happened."""

    ends: dict[str, date]
    launch: date | None
    launched: bool = False


def forecast(path: Sequence[str], *, state: str, entered: date, today: date,
             typical: Mapping[str, tuple[float, str]], previous: str | None = None,
             launched_on: date | None = None) -> Forecast:
    """The forecast from where the credential is: the current phase ends when it has lasted its typical length,
    or today if it already has; each later phase then takes its typical length. Away from the planned phases
    (on hold), the credential is taken to go back to the phase it left, from today, for that phase's whole
    length. Fractions of days count as a whole day."""
    if launched_on is not None:
        return Forecast({}, launched_on, True)
    if state in path:
        start, first = entered, path.index(state)
    elif previous in path:
        start, first = today, path.index(previous)
    else:
        return Forecast({}, None)
    ends: dict[str, date] = {}
    end = max(start + timedelta(days=math.ceil(typical[path[first]][0])), today)
    ends[path[first]] = end
    for sid in path[first + 1:]:
        end += timedelta(days=math.ceil(typical[sid][0]))
        ends[sid] = end
    return Forecast(ends, end)


def stay_days(moves: Iterable[tuple[int, float, str]]) -> list[tuple[str, float]]:
    """The finished stays of many credentials, ``(state, days)``, from their moves ``(credential id, when as
    days since any fixed day, state entered)`` ordered by credential then time."""
    stays: list[tuple[str, float]] = []
    last: tuple[int, float, str] | None = None
    for move in moves:
        if last is not None and last[0] == move[0] and last[2] != move[2]:
            stays.append((last[2], move[1] - last[1]))
        if last is None or last[0] != move[0] or last[2] != move[2]:
            last = move
    return stays
