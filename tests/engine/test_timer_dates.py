"""The timer planner reads date fields as days of the calendar it is handed (the engine reads no settings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from workflow.clock import LocalDays
from workflow.definitions.loader import load_definition
from workflow.engine.timers import plan

DEFINITION = load_definition(Path(__file__).parents[2] / "definitions" / "microcredential.yaml").definition
ENTERED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def due(days: LocalDays, expires_on: str) -> dict[str, datetime]:
    return {p.key: p.due_at for p in plan(DEFINITION, state="delivery", entered_at=ENTERED,
                                         data={"expires_on": expires_on}, now=ENTERED, days=days)}


def test_a_date_is_due_at_the_local_midnight_of_the_zone_handed_in() -> None:
    assert due(LocalDays("America/Toronto"), "2026-11-01")["hard_expiry"] == datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert due(LocalDays("Asia/Tokyo"), "2026-11-01")["hard_expiry"] == datetime(2026, 10, 31, 15, tzinfo=UTC)
    assert due(LocalDays("UTC"), "2026-11-01")["hard_expiry"] == datetime(2026, 11, 1, tzinfo=UTC)


def test_a_day_whose_midnight_is_skipped_starts_when_the_clocks_jump() -> None:
    santiago = LocalDays("America/Santiago")  # on 6 September 2026 the clocks go from 00:00 straight to 01:00
    planned = due(santiago, "2026-09-06")
    assert planned["hard_expiry"] == datetime(2026, 9, 6, 4, tzinfo=UTC)  # 01:00 local, the day's first instant
    assert santiago.day_of(planned["hard_expiry"]).isoformat() == "2026-09-06"
    assert santiago.day_of(planned["hard_expiry"] - timedelta(seconds=1)).isoformat() == "2026-09-05"
