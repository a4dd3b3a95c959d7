"""Milestone timelines drawn as inline SVG: a planned bar and an actual bar per phase, on one time scale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from workflow.services.milestones import Milestone

WIDTH = 600.0  # the drawing's own units; the SVG scales to the page


@dataclass(frozen=True)
class Bar:
    """One phase's bars, in drawing units."""

    label: str
    planned_x: float | None
    planned_w: float | None
    actual_x: float
    actual_w: float
    late: bool
    current: bool


def bars(milestones: Sequence[Milestone], now: datetime) -> list[Bar]:
    """Place each milestone's planned and actual spans on a common scale from the first entry to the last date."""
    if not milestones:
        return []
    start = milestones[0].entered_at
    end = max([now] + [m.planned_end for m in milestones if m.planned_end is not None])
    span = max((end - start).total_seconds(), 1.0)

    def x(when: datetime) -> float:
        return round((when - start).total_seconds() / span * WIDTH, 1)

    drawn = []
    for m in milestones:
        actual_end = m.left_at or now
        drawn.append(Bar(
            m.title, x(m.entered_at) if m.planned_end else None,
            max(x(m.planned_end) - x(m.entered_at), 1.0) if m.planned_end else None,
            x(m.entered_at), max(x(actual_end) - x(m.entered_at), 1.0), (m.slip_days or 0) > 0, m.current))
    return drawn
