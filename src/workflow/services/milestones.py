"""Milestones: for each state a credential went through, when it was planned to end and when it did."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workflow.definitions.model import Definition

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Milestone:
    """One stay in a state. ``slip_days`` is how many days past the plan it ended (or, if current, already is);
    negative when early; None when the state has no plan."""

    state: str
    title: str
    phase: str
    entered_at: datetime
    left_at: datetime | None
    planned_end: datetime | None
    slip_days: int | None

    @property
    def current(self) -> bool:
        """The credential is in this state now."""
        return self.left_at is None


def timeline(definition: Definition, moves: Iterable[Any], *, created_at: datetime, now: datetime,
             initial: str | None = None) -> list[Milestone]:
    """The stays, oldest first, from the credential's moves (rows with ``at``, ``from_state``, ``to_state``)."""
    states = definition.states
    first = initial or next((sid for sid, s in states.items() if s.initial), next(iter(states)))
    stays: list[tuple[str, datetime]] = [(first, created_at)]
    ends: list[datetime | None] = []
    for move in moves:
        if move.to_state is None or move.to_state == stays[-1][0]:
            continue
        ends.append(move.at)
        stays.append((move.to_state, move.at))
    ends.append(None)
    found: list[Milestone] = []
    for (sid, entered), left in zip(stays, ends, strict=True):
        state = states.get(sid)
        if state is None:
            continue
        planned = entered + timedelta(days=state.planned_days) if state.planned_days else None
        slip = None
        if planned is not None:
            slip = int(((left or now) - planned) / DAY)
            if left is None and slip < 0:
                slip = None  # still within the plan: nothing has slipped yet
        found.append(Milestone(sid, state.title, state.phase, entered, left, planned, slip))
    return found
