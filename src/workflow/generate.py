"""Generated data at scale: a consortium's organisation and any number of credentials with years of history.

``workflow demo generate --credentials N --years Y`` fills the database with the rows the services would have
written had people walked each credential there: every history event (checklist ticks, data changes, decisions,
transitions, timer reminders and warnings, holds and withdrawals) follows the definition's transitions, guards
are checked by the real engine before each move, each event is hash-chained like the services chain it, and the
timers are those the timer service would have planned, fired or cancelled. Rows go in with bulk Core inserts, one
transaction per batch. Outbox mail of the past is not generated: it would long have been sent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update

from workflow.audit import chain_rows
from workflow.context import Services
from workflow.demo import COMMITTEE, FACULTY, ORGANISATION, PASSWORD, PEOPLE
from workflow.engine import Decision, Engine, Facts
from workflow.engine.requirements import Requirements, needed
from workflow.engine.timers import plan
from workflow.errors import InvalidInput
from workflow.services.access import USER, Caller
from workflow.services.auth import hash_password
from workflow.services.orgfile import OrgFile, RoleSpec, UnitSpec, UserSpec, read_org_file
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, GATE_DECISION, GENESIS, TIMER

DEFINITION = "microcredential"
MAX_CREDENTIALS = 10_000_000
MAX_YEARS = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a placeholder until the stays are placed in time

# The consortium beyond the demo college's three faculties: more faculties, each with departments, a dean and a
# project manager (who also leads the initiatives).
EXTRA_FACULTIES: list[tuple[str, str, list[tuple[str, str]], tuple[str, str], tuple[str, str]]] = [
    ("arts", "Faculty of Arts and Humanities", [("languages", "Department of Languages"),
                                                ("media", "School of Media and Design")],
     ("dean.moreau", "Dr Claire Moreau, Dean of Arts"), ("pm.silva", "Rita Silva, Project Manager (Arts)")),
    ("trades", "School of Skilled Trades", [("construction", "Construction Trades"),
                                            ("automotive", "Automotive and Heavy Equipment")],
     ("dean.obi", "Dr Chidi Obi, Dean of Skilled Trades"), ("pm.kowalski", "Jan Kowalski, Project Manager (Trades)")),
    ("community", "Faculty of Community Services", [("education", "Early Childhood Education"),
                                                    ("justice", "Justice Studies")],
     ("dean.haddad", "Dr Lina Haddad, Dean of Community Services"),
     ("pm.nakamura", "Yuki Nakamura, Project Manager (Community Services)")),
]
EXTRA_DEPARTMENTS = [("nursing", "School of Nursing", "health"), ("software", "School of Software", "technology")]

# (target state, weight): most proposals stop early, as in a real pipeline; some run for years.
TARGETS = [("ideation", 20), ("feasibility", 12), ("design", 6), ("build", 4), ("launch", 2), ("delivery", 6),
           ("review", 1), ("sunset", 1), ("retired", 2), ("on_hold", 4), ("withdrawn", 42)]
# Where credentials are withdrawn or put on hold from.
LEFT_FROM = [("ideation", 60), ("feasibility", 25), ("design", 7), ("build", 4), ("launch", 2), ("delivery", 2)]
MAIN_LINE = ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch"]
MAIN_STATES = ["ideation", "feasibility", "design", "build", "launch", "delivery"]

TOPICS = ["Supply-chain analytics", "Warehouse safety", "Patient navigation", "Cybersecurity essentials",
          "Cloud fundamentals", "Electric vehicle maintenance", "Heat pump installation", "Food safety leadership",
          "Indigenous language revitalisation", "Data visualisation", "Project coordination", "Grant writing",
          "Mental health first response", "Drone mapping", "Accessible web design", "Bookkeeping for small business",
          "Early-childhood outdoor learning", "Restorative justice practice", "Welding inspection",
          "Solar photovoltaic design", "Podcast production", "Customer success", "Clinical documentation",
          "Agricultural automation", "Community mediation", "Machine learning operations", "Wound care",
          "Construction estimating", "Tourism marketing", "Francophone workplace communication"]
FORMS = ["essentials", "for practitioners", "advanced practice", "leadership", "fundamentals", "in the workplace",
         "level 2", "for supervisors"]
NOTES = ["", "", "", "See the shared drive", "Done with the working group", "Minutes filed", "Confirmed by email",
         "Checked against the policy"]
CHANGES_ASKED = ["Please show the employer demand in numbers", "The budget needs a second look",
                 "Clarify the assessment for learners in remote communities", "Add the learner profile"]
WITHDRAW_REASONS = ["No employer partner committed", "Funding was not granted", "Merged into a diploma program",
                    "Demand did not materialise", ""]


@dataclass(frozen=True)
class GenerateReport:
    """What a run wrote and how fast."""

    credentials: int
    events: int
    rows: int
    seconds: float
    by_state: dict[str, int]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def organisation(known_roles: Collection[str]) -> OrgFile:
    """The demo college (``demo_organisation.yaml``) grown into a consortium: more faculties and departments."""
    demo = read_org_file(ORGANISATION, known_roles=known_roles)
    units = list(demo.units)
    users = list(demo.users)
    for key, name, departments, dean, pm in EXTRA_FACULTIES:
        units.append(UnitSpec(key=key, name=name, kind="faculty", parent="northern"))
        units.extend(UnitSpec(key=d, name=n, kind="department", parent=key) for d, n in departments)
        users.append(UserSpec(username=dean[0], name=dean[1], email=f"{dean[0]}@northern.example", password=PASSWORD,
                              roles=(RoleSpec(role="dean", unit=key),)))
        users.append(UserSpec(username=pm[0], name=pm[1], email=f"{pm[0]}@northern.example", password=PASSWORD,
                              roles=(RoleSpec(role="project_manager", unit=key),
                                     RoleSpec(role="initiative_lead", unit=key))))
    units.extend(UnitSpec(key=key, name=name, kind="department", parent=parent)
                 for key, name, parent in EXTRA_DEPARTMENTS)
    return OrgFile(units=tuple(units), users=tuple(users))


def faculty_people() -> dict[str, dict[str, str]]:
    """Faculty key → who holds each faculty role there (dean, project manager, initiative lead)."""
    people = {key: dict(holders) for key, holders in FACULTY.items()}
    for key, _, _, dean, pm in EXTRA_FACULTIES:
        people[key] = {"dean": dean[0], "project_manager": pm[0], "initiative_lead": pm[0]}
    return people


# -- the plan of one credential's life --------------------------------------------------------------------------


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


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


def outline(index: int, rng: random.Random, *, target: str, units: list[tuple[str, str]], now: datetime,
            years: int, planned: dict[str, int]) -> Skeleton:
    """A credential's life ending in ``target`` by ``now``, within ``years``."""
    unit, faculty = units[rng.randrange(len(units))]
    skeleton = Skeleton(index, unit, faculty, [], credit_bearing=rng.random() < 0.35,
                        cycle_months=rng.choice([None, None, None, 12, 24, 36]), expires_on=None)
    final = target in ("withdrawn", "retired")
    stop = _pick(rng, LEFT_FROM) if target in ("withdrawn", "on_hold") else target
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
    skeleton.created_at = _second(end - timedelta(days=total))
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


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


# -- walking one credential through its life ---------------------------------------------------------------------


@dataclass
class Rows:
    """The rows one batch of credentials adds, per table."""

    credentials: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)

    def count(self) -> int:
        return (len(self.credentials) + len(self.events) + len(self.entries) + len(self.decisions)
                + len(self.timers))


KIND_OF = {"remind": "reminder", "escalate": "escalation", "warn": "warning"}


class Walk:
    """One credential walked through its life as the services would record it, checked by the engine."""

    def __init__(self, engine: Engine, version: int, credential_id: int, skeleton: Skeleton,
                 people: dict[str, str], rng: random.Random, owner: str) -> None:
        self.engine = engine
        self.definition = engine.definition
        self.version = version
        self.id = credential_id
        self.skeleton = skeleton
        self.people = people
        self.rng = rng
        self.owner = owner
        self.state = engine.initial
        self.previous: str | None = None
        self.data: dict[str, Any] = {}
        self.rounds: dict[str, int] = {}
        self.done: set[str] = set()
        self.decisions: list[Decision] = []
        self.entered = skeleton.created_at
        self.events: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []
        self.decision_rows: list[dict[str, Any]] = []
        self.timers: list[dict[str, Any]] = []
        self.pending: dict[str, dict[str, Any]] = {}
        self.last = skeleton.created_at
        self.titles = {t.key: t.title or t.key for t in self.definition.timers}

    # -- recording ---------------------------------------------------------------------------------------

    def _event(self, at: datetime, actor: str, kind: str, *, trigger: str | None = None,
               from_state: str | None = None, to_state: str | None = None, comment: str = "",
               details: dict[str, Any] | None = None) -> None:
        if at < self.last:
            at = self.last
        self.last = at
        self.events.append({"credential_id": self.id, "seq": len(self.events) + 1, "at": at, "actor": actor,
                            "kind": kind, "trigger": trigger, "from_state": from_state, "to_state": to_state,
                            "comment": comment, "details": details or {}})

    def _facts(self) -> Facts:
        return Facts(state=self.state, data=dict(self.data), done=frozenset(self.done),
                     decisions=tuple(self.decisions), previous_state=self.previous)

    def _sync(self, at: datetime, reason: str) -> None:
        """Keep the timers in step as ``sync_timers`` does: planned ones added, others cancelled."""
        planned = plan(self.definition, state=self.state, entered_at=self.entered, data=self.data, now=at)
        wanted = {p.key: p for p in planned}
        for key, row in list(self.pending.items()):
            want = wanted.get(key)
            if want is None or want.state != row["state"]:
                row.update(status="cancelled", outcome=f"cancelled: {reason}", fired_at=at)
                del self.pending[key]
            elif want.due_at != row["due_at"]:
                row["due_at"] = want.due_at
        for key, p in wanted.items():
            if key in self.pending:
                continue
            row = {"credential_id": self.id, "key": p.key, "timer": p.timer, "action": p.action,
                   "due_at": p.due_at, "state": p.state, "trigger": p.trigger, "notify": list(p.notify),
                   "status": "pending", "lease_owner": None, "lease_until": None, "attempts": 0, "outcome": "",
                   "created_at": at, "fired_at": None}
            self.timers.append(row)
            self.pending[key] = row

    def catch_up(self, until: datetime, *, firing: str | None = None) -> None:
        """Fire the reminders, escalations and warnings due before ``until``, as the scheduler would have."""
        while True:
            due = [row for row in self.pending.values() if row["due_at"] <= until and row["key"] != firing]
            if not due:
                return
            row = min(due, key=lambda r: r["due_at"])
            if row["action"] == "fire":
                raise AssertionError(f"credential {self.id}: timer {row['key']} due {row['due_at']} before {until}")
            at = min(_second(row["due_at"] + timedelta(seconds=self.rng.randint(1, 30))), until)
            at = max(at, row["due_at"])
            kind = KIND_OF[row["action"]]
            self._event(at, f"timer:{row['timer']}", kind, comment=self.titles[row["timer"]],
                        details={"timer": row["key"], "due_at": row["due_at"].isoformat(),
                                 "notify": list(row["notify"])})
            row.update(status="done", outcome=f"{kind} to {', '.join(row['notify'])}", fired_at=at,
                       lease_owner=self.owner, lease_until=at + timedelta(seconds=120), attempts=1)
            del self.pending[row["key"]]

    # -- actions -------------------------------------------------------------------------------------------

    def create(self, at: datetime, actor: str, title: str, data: dict[str, Any]) -> None:
        self.data = {**data, "title": title}
        self._event(at, actor, "created", to_state=self.state, details={"data": dict(self.data)})
        self._sync(at, "created")

    def tick(self, at: datetime, item: str) -> None:
        self.catch_up(at)
        spec = self.engine.items[item]
        note = self.rng.choice(NOTES)
        actor = self.people[spec.owner]
        self.entries.append({"credential_id": self.id, "item_key": item, "round": self.rounds.get(item, 0),
                             "done": True, "note": note, "actor": actor, "updated_at": at})
        self.done.add(item)
        self._event(at, actor, "checklist", comment=note, details={"item": item, "done": True, "owner": spec.owner})

    def _tick_at(self, item: str, at: datetime) -> None:
        self.tick(at, item)

    def _approve_at(self, trigger: str, requirements: Requirements, role: str, actor: str, at: datetime) -> None:
        self.decide(at, trigger, requirements, role, actor)

    def update(self, at: datetime, changes: dict[str, Any]) -> None:
        self.catch_up(at)
        diff = {k: [self.data.get(k), v] for k, v in changes.items() if self.data.get(k) != v}
        if not diff:
            return
        self.data.update(changes)
        self._event(at, self.people["project_manager"], "data", details={"changes": diff})
        if {"expires_on", "review_cycle_months"} & set(diff):
            self._sync(at, ", ".join(sorted({"expires_on", "review_cycle_months"} & set(diff))) + " changed")

    def decide(self, at: datetime, trigger: str, requirements: Requirements, role: str, actor: str,
               verdict: str = "approve", comment: str = "") -> bool:
        """Record a decision; an approval that completes the gate moves the credential. Returns whether it did."""
        self.catch_up(at)
        gate = requirements.gate_id
        assert gate is not None and requirements.gate is not None
        facts = self._facts()
        self.decision_rows.append({
            "credential_id": self.id, "gate": gate, "round": self.rounds.get(gate, 0), "role": role,
            "actor": actor, "principal": actor, "verdict": verdict, "comment": comment,
            "seen": requirements.snapshot(facts), "decided_at": at})
        self.decisions.append(Decision(gate, role, actor, verdict, comment, actor,  # type: ignore[arg-type]
                                       requirements.snapshot(facts)))
        self._event(at, actor, "decision", comment=comment, details={"gate": gate, "role": role, "verdict": verdict})
        if verdict == "approve" and not requirements.unmet(self._facts()):
            self.move(at, trigger, actor, comment=f"{requirements.gate.title} approved")
            return True
        return False

    def move(self, at: datetime, trigger: str, actor: str, *, comment: str = "",
             extra: dict[str, Any] | None = None) -> None:
        """Fire ``trigger`` through the engine (its guards must hold) and record the move."""
        self.catch_up(at, firing=extra["timer"] if extra else None)
        outcome = self.engine.fire(self._facts(), trigger)
        requirements = self.engine.requirements[outcome.index]
        consumed = [item.key for item in requirements.items] + ([outcome.gate] if outcome.gate else [])
        for key in consumed:
            self.rounds[key] = self.rounds.get(key, 0) + 1
        self.done -= set(consumed)
        if outcome.gate:
            self.decisions = [d for d in self.decisions if d.gate != outcome.gate]
        self.previous, self.state, self.entered = outcome.source, outcome.dest, at
        details = {"gate": outcome.gate} if outcome.gate else {}
        self._event(at, actor, "transition", trigger=trigger, from_state=outcome.source, to_state=outcome.dest,
                    comment=comment, details=details | (extra or {}))
        if extra is not None:  # the timer that fired it
            row = self.pending.pop(extra["timer"])
            row.update(status="done", outcome=f"fired {trigger}: {outcome.source} → {outcome.dest}", fired_at=at,
                       lease_owner=self.owner, lease_until=at + timedelta(seconds=120), attempts=1)
        self._sync(at, f"left '{outcome.source}'")

    def fire_timer(self, key: str) -> None:
        row = self.pending[key]
        at = _second(row["due_at"] + timedelta(seconds=self.rng.randint(1, 30)))
        self.move(at, row["trigger"], f"timer:{row['timer']}", comment=self.titles[row["timer"]],
                  extra={"timer": key, "due_at": row["due_at"].isoformat()})

    # -- whole stays ----------------------------------------------------------------------------------------

    def _requirements(self, trigger: str) -> Requirements:
        return next(req for t, req in self.engine.requirements_from(self.state) if t == trigger)

    def _times(self, start: datetime, days: float, count: int, hold: tuple[float, float] | None,
               low: float = 0.02, high: float = 0.8) -> list[datetime]:
        moments = []
        for _ in range(count):
            offset = days * self.rng.uniform(low, high)
            if hold and offset >= hold[0]:
                offset += hold[1]
            moments.append(_second(start + timedelta(days=offset)))
        return sorted(moments)

    def stay(self, visit: Visit, now: datetime) -> None:
        """Everything that happens during one stay, ending with the move out of it (if it is left)."""
        hold = visit.hold
        end = _second(visit.start + timedelta(days=visit.days + (hold[1] if hold else 0)))
        if visit.leave is None:
            end = now
        work = self._work(visit, end)
        if hold is not None:
            held = _second(visit.start + timedelta(days=hold[0]))
            back = _second(held + timedelta(days=hold[1]))
            work.append((held, lambda at: self.move(at, "hold", self.people["project_manager"],
                                                    comment="Waiting for the budget decision")))
            work.append((back, lambda at: self.move(at, "resume", self.people["project_manager"])))
        for at, action in sorted(work, key=lambda pair: pair[0]):
            action(at)
        if visit.leave is None:
            self.catch_up(now)
            return
        self._leave(visit, end)

    def _work(self, visit: Visit, end: datetime) -> list[tuple[datetime, Callable[[datetime], object]]]:
        """The checklist ticks, data changes and early decisions of a stay (not the move out of it)."""
        work: list[tuple[datetime, Callable[[datetime], object]]] = []
        leave = visit.leave
        current = leave is None
        trigger = leave if leave not in (None, "withdraw", "hold", "expire") else None
        if current:  # working towards the next step of the main line (or the renewal)
            trigger = {"ideation": "submit_for_feasibility", "feasibility": "approve_feasibility",
                       "design": "complete_design", "build": "sign_off", "launch": "launch", "review": "renew",
                       "sunset": "retire"}.get(visit.state)
        elif leave in ("withdraw", "hold"):
            trigger = {"ideation": "submit_for_feasibility", "feasibility": "approve_feasibility",
                       "design": "complete_design", "build": "sign_off", "launch": "launch"}.get(visit.state)
        if trigger is None:
            return work
        requirements = self._requirements(trigger)
        changes = self._data_for(visit.state)
        items = [item.key for item in requirements.items_for({**self.data, **changes})]
        if current or leave in ("withdraw", "hold"):
            share = min(1.0, visit.days / max(1.0, visit.days + 20)) if current else self.rng.uniform(0, 0.7)
            items = items[: round(len(items) * share * self.rng.uniform(0.6, 1.2))] if current else \
                items[: int(len(items) * share)]
        moments = self._times(visit.start, max(visit.days, 0.01), len(items) + (1 if changes else 0), visit.hold)
        if changes:
            work.append((moments.pop(0), lambda at: self.update(at, changes)))
        for at, key in zip(moments, items, strict=True):
            work.append((at, partial(self._tick_at, key)))
        gate = requirements.gate
        if gate is not None and gate.approvers and self.rng.random() < 0.15 and \
                requirements.approvers_for(self.data)[0].role == "dean":
            asked = _second(visit.start + timedelta(days=max(visit.days, 0.01) * 0.1))
            if visit.hold is not None and asked >= visit.start + timedelta(days=visit.hold[0]):
                asked += timedelta(days=visit.hold[1])
            if asked < end:
                work.append((asked, lambda at: self.decide(at, trigger, requirements, "dean", self.people["dean"],
                                                           "request_changes", self.rng.choice(CHANGES_ASKED))))
        if current and gate is not None and len(items) == len(requirements.items_for({**self.data, **changes})):
            # everything is ready: some approvers of a staged gate have approved already
            approvals = self._approvals(requirements, {**self.data, **changes})[:-1]
            if approvals and self.rng.random() < 0.6:
                moments = self._times(visit.start, max(visit.days, 0.01), len(approvals), visit.hold, 0.85, 0.99)
                for at, (role, actor) in zip(moments, approvals, strict=True):
                    work.append((at, partial(self._approve_at, trigger, requirements, role, actor)))
        return work

    def _approvals(self, requirements: Requirements, data: dict[str, Any]) -> list[tuple[str, str]]:
        """(role, person) of every approval the gate needs, stage by stage."""
        approvals: list[tuple[str, str]] = []
        for approver in sorted(requirements.approvers_for(data), key=lambda a: a.stage):
            deciders = self.rng.sample(COMMITTEE, len(COMMITTEE)) if approver.role == "academic_governance" \
                else [self.people[approver.role]]
            approvals.extend((approver.role, who) for who in deciders[: needed(approver, {})])
        return approvals

    def _leave(self, visit: Visit, end: datetime) -> None:
        leave = visit.leave
        assert leave is not None
        pm = self.people["project_manager"]
        if leave == "expire":
            self.fire_timer("hard_expiry")
        elif leave == "start_review" and visit.by_timer:
            self.fire_timer("content_review_due")
        elif leave == "withdraw":
            who = self.rng.choice([pm, pm, self.people["dean"]])
            self.move(end, "withdraw", who, comment=self.rng.choice(WITHDRAW_REASONS))
        elif leave == "hold":
            self.move(end, "hold", pm, comment="Paused until the next budget year")
        else:
            requirements = self._requirements(leave)
            if requirements.gate is None:
                who = self.people["qa_office"] if leave == "start_review" and self.rng.random() < 0.3 else pm
                self.move(end, leave, who)
                return
            approvals = self._approvals(requirements, self.data)
            moments = self._times(visit.start, max(visit.days, 0.01), len(approvals) - 1, visit.hold, 0.8, 0.99)
            for at, (role, actor) in zip([*moments, end], approvals, strict=True):
                self.decide(at, leave, requirements, role, actor)
            if self.state == visit.state:
                raise AssertionError(f"credential {self.id}: gate of '{leave}' did not complete")

    def _data_for(self, state: str) -> dict[str, Any]:
        """The data people fill in during a stay (what the next steps require)."""
        if state == "design" and "learning_outcomes" not in self.data:
            topic = str(self.data["title"]).split(" ")[0].lower()
            return {"learning_outcomes": [f"Apply {topic} methods on the job", "Document the work for a supervisor"],
                    "participation_mode": self.rng.choice(["online", "on-site", "hybrid"]),
                    "notional_hours": self.rng.choice([20, 30, 40, 60, 90]),
                    "credit_bearing": self.skeleton.credit_bearing}
        if state == "build" and "assessment_type" not in self.data:
            changes: dict[str, Any] = {
                "provider": "Northern College", "time_period": self.rng.choice(["6 weeks", "8 weeks", "12 weeks"]),
                "prerequisites": "None", "learning_resources": "LMS course and open resources",
                "assessment_type": "Workplace project with a rubric", "identity_verification": "Live presentation",
                "qa_body": "Northern College Quality Council", "learner_outcome": "Digital badge",
                "stackability": self.rng.choice(["stand-alone", "integrated", "stackable"])}
            if self.skeleton.credit_bearing:
                changes["credits"] = self.rng.choice([1, 2, 3])
            if self.skeleton.cycle_months:
                changes["review_cycle_months"] = self.skeleton.cycle_months
            if self.skeleton.expires_on:
                changes["expires_on"] = self.skeleton.expires_on.isoformat()
            return changes
        return {}

    def rows(self) -> dict[str, Any]:
        """The credential row, with the head of its hash-chained history."""
        head = chain_rows(GENESIS, self.events)
        last = self.events[-1]["at"]
        return {"id": self.id, "title": self.data["title"], "definition_name": self.definition.name,
                "definition_version": self.version, "state": self.state, "previous_state": self.previous,
                "data": self.data, "rounds": self.rounds, "version": len(self.events),
                "org_unit_id": None, "created_by": self.events[0]["actor"], "created_at": self.events[0]["at"],
                "updated_at": last, "state_entered_at": self.entered, "chain_seq": head.seq,
                "chain_hash": head.hash}


def walk(engine: Engine, version: int, credential_id: int, skeleton: Skeleton, people: dict[str, str],
         now: datetime, owner: str) -> Walk:
    """Walk one credential through the life its skeleton outlines."""
    rng = random.Random(skeleton.index * 7919 + 17)
    w = Walk(engine, version, credential_id, skeleton, people, rng, owner)
    topic = rng.choice(TOPICS)
    title = f"{topic} {rng.choice(FORMS)}"
    w.create(skeleton.created_at, people["project_manager"], title, {
        "purpose": f"Employers in the region ask for {topic.lower()} skills",
        "description": f"A short, practical micro-credential in {topic.lower()}."})
    for visit in skeleton.visits:
        w.stay(visit, now)
    return w


# -- the run ------------------------------------------------------------------------------------------------


def check_arguments(credentials: int, years: int, batch: int) -> None:
    """Refuse arguments that cannot make a database, naming the option."""
    if not 0 <= credentials <= MAX_CREDENTIALS:
        raise InvalidInput("--credentials", f"must be between 0 and {MAX_CREDENTIALS:,}, not {credentials}")
    if not 1 <= years <= MAX_YEARS:
        raise InvalidInput("--years", f"must be between 1 and {MAX_YEARS}, not {years}")
    if batch < 1:
        raise InvalidInput("--batch", "must be at least 1")


def generate(services: Services, *, credentials: int, years: int, seed: int = 1, batch: int = 500,
             progress: Callable[[int], None] | None = None) -> GenerateReport:
    """Load the consortium organisation and add ``credentials`` credentials with up to ``years`` of history
    ending at the clock's now (the same seed and now give the same rows). ``progress`` is told how many credentials
    each committed batch added."""
    check_arguments(credentials, years, batch)
    _load_organisation(services)
    started = time.perf_counter()
    now = _second(services.clock.now())
    version = services.definitions.current_version(DEFINITION)
    engine = services.definitions.engine(DEFINITION, version)
    planned = {sid: s.planned_days or 0 for sid, s in engine.definition.states.items() if s.planned_days}
    planned["delivery"] = 365
    planned["on_hold"] = 60
    unit_ids = {u["key"]: u["id"] for u in services.people.units()}
    faculties = faculty_people()
    units = [(key, key) for key in faculties] + [(d, f) for f in faculties for d, _, parent
                                                 in _departments() if parent == f]
    rng = random.Random(seed)
    states = [s for s, _ in TARGETS]
    targets = states[:credentials] + [_pick(rng, TARGETS) for _ in range(max(0, credentials - len(states)))]
    skeletons = [outline(seed * 10_000_000 + i, random.Random(seed * 10_000_000 + i), target=t, units=units,
                         now=now, years=years, planned=planned) for i, t in enumerate(targets)]
    skeletons.sort(key=lambda s: s.created_at)  # ids follow creation, as they would have
    owner = f"scheduler-1:{rng.getrandbits(32):08x}"
    with services.database.begin_read() as conn:
        first_id = int(conn.execute(select(func.coalesce(func.max(CREDENTIAL.c.id), 0))).scalar() or 0) + 1
    context = Context(engine, version, now, owner, unit_ids, faculties)
    events = rows = 0
    by_state: dict[str, int] = {}
    for offset in range(0, len(skeletons), batch):
        chunk, ended = walk_batch(context, skeletons[offset: offset + batch], first_id + offset)
        with services.database.begin() as conn:
            _insert(conn, chunk)
        events += len(chunk.events)
        rows += chunk.count()
        for state, count in ended.items():
            by_state[state] = by_state.get(state, 0) + count
        if progress is not None:
            progress(len(chunk.credentials))
    if skeletons:
        _after_load(services)
    return GenerateReport(credentials, events, rows, time.perf_counter() - started, by_state)


@dataclass(frozen=True)
class Context:
    """What walking a batch of credentials needs besides their skeletons."""

    engine: Engine
    version: int
    now: datetime
    owner: str
    unit_ids: dict[str, int]
    faculties: dict[str, dict[str, str]]


def walk_batch(context: Context, skeletons: list[Skeleton], first_id: int) -> tuple[Rows, dict[str, int]]:
    """The rows of a batch of credentials (ids from ``first_id``), and how many end in each state."""
    chunk = Rows()
    by_state: dict[str, int] = {}
    for position, skeleton in enumerate(skeletons):
        people = PEOPLE | context.faculties[skeleton.faculty]
        w = walk(context.engine, context.version, first_id + position, skeleton, people, context.now, context.owner)
        credential = w.rows()
        credential["org_unit_id"] = context.unit_ids[skeleton.unit]
        chunk.credentials.append(credential)
        chunk.events.extend(w.events)
        chunk.entries.extend(w.entries)
        chunk.decisions.extend(w.decision_rows)
        chunk.timers.extend(w.timers)
        by_state[w.state] = by_state.get(w.state, 0) + 1
    return chunk, by_state


def _load_organisation(services: Services) -> None:
    """Load the consortium; people new here get the demo password. Every demo account shares one Argon2 hash of
    that well-known password (hashing it for each would cost a second for every few people)."""
    org = organisation(services.people.known_roles)
    with services.database.begin_read() as conn:
        existing = set(conn.execute(select(USER.c.username)).scalars())
    services.people.load(org.model_copy(update={"users": tuple(u.model_copy(update={"password": None})
                                                               for u in org.users)}), by=Caller.system("generate"))
    fresh = [u.username for u in org.users if u.password and u.username not in existing]
    if fresh:
        with services.database.begin() as conn:
            conn.execute(update(USER).where(USER.c.username.in_(fresh)).values(password_hash=hash_password(PASSWORD)))


def _departments() -> list[tuple[str, str, str]]:
    found = [("supply_chain", "", "business")] + [(key, name, parent) for key, name, parent in EXTRA_DEPARTMENTS]
    for faculty, _, departments, _, _ in EXTRA_FACULTIES:
        found.extend((key, name, faculty) for key, name in departments)
    return found


def _insert(conn: Connection, rows: Rows) -> None:
    for table, values in ((CREDENTIAL, rows.credentials), (EVENT, rows.events), (CHECKLIST_ENTRY, rows.entries),
                          (GATE_DECISION, rows.decisions), (TIMER, rows.timers)):
        if values:
            conn.execute(insert(table), values)


def _after_load(services: Services) -> None:
    """Let the next credential a person creates get the next id; on PostgreSQL, do what autovacuum would soon do
    after a bulk load (statistics for the planner, the visibility map for index-only scans)."""
    if services.database.is_sqlite:
        return
    with services.database.begin() as conn:
        conn.execute(text("SELECT setval(pg_get_serial_sequence('credential', 'id'), "
                          "(SELECT max(id) FROM credential))"))
    with services.database.engine.connect() as plain:
        conn = plain.execution_options(isolation_level="AUTOCOMMIT")
        for table in (CREDENTIAL, EVENT, CHECKLIST_ENTRY, GATE_DECISION, TIMER):
            conn.execute(text(f"VACUUM (ANALYZE) {table.name}"))
