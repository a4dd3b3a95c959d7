"""One generated credential walked through its life as the services would record it: the real engine checks every
guard before each move, and the rows — hash-chained events, checklist entries, decisions, timers — are built by
:mod:`workflow.store.history`, the write path of live actions."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from workflow.clock import LocalDays
from workflow.demo.college import COMMITTEE
from workflow.demo.lives import Skeleton, Visit, second
from workflow.engine import Decision, Engine, Facts
from workflow.engine.requirements import Requirements, needed
from workflow.engine.timers import plan
from workflow.store import history
from workflow.store.accounting import DATA_DIGEST, data_digest, decision_details, entry_details
from workflow.store.history import History, Pending

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


class Walk:
    """One credential walked through its life as the services would record it, checked by the engine."""

    def __init__(self, engine: Engine, version: int, credential_id: int, skeleton: Skeleton,
                 people: dict[str, str], rng: random.Random, owner: str, days: LocalDays) -> None:
        self.engine = engine
        self.days = days
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
        self.history = History(credential_id)
        self.first: dict[str, Any] | None = None  # the creation event
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
        event = self.history.append(at, actor, kind, trigger=trigger, from_state=from_state, to_state=to_state,
                                    comment=comment, details=details or {})
        self.first = self.first or event

    def _facts(self) -> Facts:
        return Facts(state=self.state, data=dict(self.data), done=frozenset(self.done),
                     decisions=tuple(self.decisions), previous_state=self.previous)

    def _sync(self, at: datetime, reason: str) -> None:
        """Keep the timers in step as :func:`workflow.store.history.sync_timers` does, on the rows in memory."""
        planned = plan(self.definition, state=self.state, entered_at=self.entered, data=self.data, now=at,
                       days=self.days)
        changes = history.timer_changes([Pending(key, key, row["state"], row["due_at"])
                                         for key, row in self.pending.items()], planned)
        for gone in changes.cancel:
            self.pending.pop(gone.key).update(status="cancelled", outcome=f"cancelled: {reason}", fired_at=at)
        for moved, due in changes.retime:
            self.pending[moved.key]["due_at"] = due
        for p in changes.add:
            row = history.timer_row(self.id, p, at)
            self.timers.append(row)
            self.pending[p.key] = row

    def catch_up(self, until: datetime, *, firing: str | None = None) -> None:
        """Fire the reminders, escalations and warnings due before ``until``, as the scheduler would have."""
        while True:
            due = [row for row in self.pending.values() if row["due_at"] <= until and row["key"] != firing]
            if not due:
                return
            row = min(due, key=lambda r: r["due_at"])
            if row["action"] == "fire":
                raise AssertionError(f"credential {self.id}: timer {row['key']} due {row['due_at']} before {until}")
            at = min(second(row["due_at"] + timedelta(seconds=self.rng.randint(1, 30))), until)
            at = max(at, row["due_at"])
            kind = history.KIND_OF_TIMER[row["action"]]
            self._event(at, f"timer:{row['timer']}", kind, comment=self.titles[row["timer"]],
                        details={"timer": row["key"], "due_at": row["due_at"].isoformat(),
                                 "notify": list(row["notify"])})
            row.update(status="done", outcome=f"{kind} to {', '.join(row['notify'])}", fired_at=at,
                       lease_owner=self.owner, lease_until=at + timedelta(seconds=120), attempts=1)
            del self.pending[row["key"]]

    # -- actions -------------------------------------------------------------------------------------------

    def create(self, at: datetime, actor: str, title: str, data: dict[str, Any]) -> None:
        self.data = {**data, "title": title}
        self._event(at, actor, "created", to_state=self.state,
                    details={"data": dict(self.data), DATA_DIGEST: data_digest(self.data)})
        self._sync(at, "created")

    def tick(self, at: datetime, item: str) -> None:
        self.catch_up(at)
        spec = self.engine.items[item]
        note = self.rng.choice(NOTES)
        actor = self.people[spec.owner]
        entry = history.entry_row(self.id, item, self.rounds.get(item, 0), done=True, note=note, actor=actor, at=at,
                                  seq=self.history.seq + 1)
        self.entries.append(entry)
        self.done.add(item)
        self._event(at, actor, "checklist", comment=note, details=entry_details(entry, spec.owner))

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
        self._event(at, self.people["project_manager"], "data",
                    details={"changes": diff, DATA_DIGEST: data_digest(self.data)})
        if {"expires_on", "review_cycle_months"} & set(diff):
            self._sync(at, ", ".join(sorted({"expires_on", "review_cycle_months"} & set(diff))) + " changed")

    def decide(self, at: datetime, trigger: str, requirements: Requirements, role: str, actor: str,
               verdict: str = "approve", comment: str = "") -> bool:
        """Record a decision; an approval that completes the gate moves the credential. Returns whether it did."""
        self.catch_up(at)
        gate = requirements.gate_id
        assert gate is not None and requirements.gate is not None
        facts = self._facts()
        decision = history.decision_row(self.id, gate, self.rounds.get(gate, 0), role=role, actor=actor,
                                        principal=actor, verdict=verdict, comment=comment,
                                        seen=requirements.snapshot(facts), at=at, seq=self.history.seq + 1)
        self.decision_rows.append(decision)
        self.decisions.append(Decision(gate, role, actor, verdict, comment, actor,  # type: ignore[arg-type]
                                       requirements.snapshot(facts)))
        self._event(at, actor, "decision", comment=comment, details=decision_details(decision))
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
        at = second(row["due_at"] + timedelta(seconds=self.rng.randint(1, 30)))
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
            moments.append(second(start + timedelta(days=offset)))
        return sorted(moments)

    def stay(self, visit: Visit, now: datetime) -> None:
        """Everything that happens during one stay, ending with the move out of it (if it is left)."""
        hold = visit.hold
        end = second(visit.start + timedelta(days=visit.days + (hold[1] if hold else 0)))
        if visit.leave is None:
            end = now
        work = self._work(visit, end)
        if hold is not None:
            held = second(visit.start + timedelta(days=hold[0]))
            back = second(held + timedelta(days=hold[1]))
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
            asked = second(visit.start + timedelta(days=max(visit.days, 0.01) * 0.1))
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
                self.move(end, leave, who, comment="All learners completed; listings removed"
                          if leave == "retire" else "")
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
        assert self.first is not None
        return {"id": self.id, "title": self.data["title"], "definition_name": self.definition.name,
                "definition_version": self.version, "state": self.state, "previous_state": self.previous,
                "data": self.data, "rounds": self.rounds, "version": self.history.seq,
                "org_unit_id": None, "created_by": self.first["actor"], "created_at": self.first["at"],
                "updated_at": self.last, "state_entered_at": self.entered, "chain_seq": self.history.seq,
                "chain_hash": self.history.hash}


def walk(engine: Engine, version: int, credential_id: int, skeleton: Skeleton, people: dict[str, str],
         now: datetime, owner: str, days: LocalDays) -> Walk:
    """Walk one credential through the life its skeleton outlines."""
    rng = random.Random(skeleton.index * 7919 + 17)
    w = Walk(engine, version, credential_id, skeleton, people, rng, owner, days)
    topic = rng.choice(TOPICS)
    title = f"{topic} {rng.choice(FORMS)}"
    w.create(skeleton.created_at, people["project_manager"], title, {
        "purpose": f"Employers in the region ask for {topic.lower()} skills",
        "description": f"A short, practical micro-credential in {topic.lower()}."})
    for visit in skeleton.visits:
        w.stay(visit, now)
    return w
