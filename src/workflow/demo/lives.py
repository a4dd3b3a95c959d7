"""The outline of each generated credential's life: where it ends up, which states it stays in and for how long,
placed in time so that timers (content review, expiry) fall where the definition says."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a placeholder until the stays are placed in time

# (target state, weight): most proposals stop early, as in a real pipeline; some run for years.
TARGETS = [("ideation", 20), ("feasibility", 12), ("design", 6), ("build", 4), ("launch", 2), ("delivery", 6),
           ("review", 1), ("sunset", 1), ("retired", 2), ("on_hold", 4), ("withdrawn", 42)]
# Where credentials are withdrawn or put on hold from.
LEFT_FROM = [("ideation", 60), ("feasibility", 25), ("design", 7), ("build", 4), ("launch", 2), ("delivery", 2)]
MAIN_LINE = ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch"]
MAIN_STATES = ["ideation", "feasibility", "design", "build", "launch", "delivery"]

@dataclass
class Visit:
    """A stay in one state: entered at ``start`` and left by ``leave`` after ``days`` (``leave`` None: the current
    state, ``days`` so far). ``by_timer``: the stay ends when the state's timer fires (content review, expiry)."""

    state: str
    days: float
    leave: str | None
    by_timer: bool = False
    hold: tuple[float, float] | None = None  # put on hold after this many days, for that many days
    start: datetime = EPOCH

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


@dataclass
class Skeleton:
    """The outline of a credential's life: its unit, its stays, and the data that steers its timers."""

    index: int
    unit: str
    faculty: str
    visits: list[Visit]
    credit_bearing: bool
    cycle_months: int | None
    expires_on: date | None
    created_at: datetime = EPOCH


def pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


def outline(index: int, rng: random.Random, *, target: str, units: list[tuple[str, str]], now: datetime,
            years: int, planned: dict[str, int]) -> Skeleton:
    """A credential's life ending in ``target`` by ``now``, within ``years``."""
    unit, faculty = units[rng.randrange(len(units))]
    skeleton = Skeleton(index, unit, faculty, [], credit_bearing=rng.random() < 0.35,
                        cycle_months=rng.choice([None, None, None, 12, 24, 36]), expires_on=None)
    final = target in ("withdrawn", "retired")
    stop = pick(rng, LEFT_FROM) if target in ("withdrawn", "on_hold") else target
    triggers: list[str] = []
    if stop in MAIN_STATES:
        triggers = MAIN_LINE[: MAIN_STATES.index(stop)]
    else:  # review, sunset, retired: delivered, renewed some times, then reviewed
        triggers = list(MAIN_LINE)
        for _ in range(min(rng.choice([0, 0, 1, 1, 2, 3]), years)):
            triggers += ["start_review", "renew"]
        if stop == "review":
            triggers.append("start_review")
        else:
            triggers += ["start_review", "sunset"] if rng.random() < 0.7 else ["expire"]
            if target == "retired":
                triggers.append("retire")
    states = ["ideation"]
    for trigger in triggers:
        states.append({"submit_for_feasibility": "feasibility", "approve_feasibility": "design",
                       "complete_design": "build", "sign_off": "launch", "launch": "delivery",
                       "start_review": "review", "renew": "delivery", "sunset": "sunset", "expire": "sunset",
                       "retire": "retired"}[trigger])
    for state, leave in zip(states, [*triggers, None], strict=True):
        days = planned.get(state, 30) * rng.uniform(0.5, 1.6) if leave else 0.0
        skeleton.visits.append(Visit(state, days, leave))
    if target == "withdrawn":
        skeleton.visits[-1].leave = "withdraw"
        skeleton.visits.append(Visit("withdrawn", 0.0, None))
    elif target == "on_hold":
        skeleton.visits[-1].leave = "hold"
        skeleton.visits.append(Visit("on_hold", 0.0, None))
    current = skeleton.visits[-1]
    if not final:  # how long it has been where it is now
        base = planned.get(current.state, 120)
        current.days = base * rng.uniform(0.02, 1.3)
    # the leaving stay of "withdraw"/"hold" from a state is as long as any other
    for visit in skeleton.visits:
        if visit.leave in ("withdraw", "hold"):
            visit.days = planned.get(visit.state, 60) * rng.uniform(0.2, 1.2)
    for visit in skeleton.visits:
        if visit.leave and visit.state in ("ideation", "feasibility", "design", "build") and rng.random() < 0.06:
            visit.hold = (visit.days * rng.uniform(0.2, 0.6), rng.uniform(10, 90))
    _time(skeleton, rng, now=now, years=years, final=final)
    return skeleton


def _time(skeleton: Skeleton, rng: random.Random, *, now: datetime, years: int, final: bool) -> None:
    """Place the stays in time, ending by ``now`` and starting no earlier than ``years`` before it."""
    window = years * 365.0 - 10
    visits = skeleton.visits
    cycle = 365.25 * (skeleton.cycle_months or 12) / 12
    # Delivery stays last one review cycle when the timer starts the review; shorter when a person does.
    for visit in visits:
        if visit.state == "delivery":
            if visit.leave == "start_review":
                visit.by_timer = rng.random() < 0.7
                visit.days = cycle if visit.by_timer else cycle * rng.uniform(0.5, 0.9)
            elif visit.leave in ("expire", "withdraw", "hold"):
                visit.days = cycle * rng.uniform(0.3, 0.9)
            elif visit.leave is None:
                visit.days = cycle * rng.uniform(0.02, 0.9)
        if visit.leave == "expire":
            visit.by_timer = True
        if visit.state == "review" and visit.leave is None:
            visit.days = rng.uniform(1, 40)
    total = sum(v.days + (v.hold[1] if v.hold else 0) for v in visits)
    if total > window:  # squeeze: stays end by people's hands rather than by the (longer) cycles
        factor = window / total
        for visit in visits:
            visit.days *= factor
            if visit.hold:
                visit.hold = (visit.hold[0] * factor, visit.hold[1] * factor)
            if visit.leave == "start_review":
                visit.by_timer = False
        total = window
    end = now - timedelta(days=5 + rng.uniform(0, window - total)) if final else now
    skeleton.created_at = second(end - timedelta(days=total))
    _shift_after(visits, None, skeleton.created_at)
    expiring = next((v for v in visits if v.leave == "expire"), None)
    if expiring is not None:  # the hard expiry date is the day the stay ends
        ends = expiring.end
        expires = datetime(ends.year, ends.month, ends.day, tzinfo=UTC)
        if expires <= expiring.start:  # a stay squeezed into less than a day
            expires += timedelta(days=1)
        expiring.days = (expires - expiring.start).total_seconds() / 86400
        skeleton.expires_on = expires.date()
        _shift_after(visits, expiring, expires)
    elif any(v.state in ("delivery", "review") for v in visits) and rng.random() < 0.3:
        skeleton.expires_on = (now + timedelta(days=rng.uniform(120, 1500))).date()
    if not final:  # the current stay lasts until now
        visits[-1].days = max(0.0, (now - visits[-1].start).total_seconds() / 86400)


def _shift_after(visits: list[Visit], changed: Visit | None, moment: datetime) -> None:
    """Lay the stays after ``changed`` (all, if None) end to end from ``moment``."""
    after = changed is None
    for visit in visits:
        if after:
            visit.start = moment
            moment = visit.start + timedelta(days=visit.days + (visit.hold[1] if visit.hold else 0))
        after = after or visit is changed


def second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
