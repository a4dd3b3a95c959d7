"""The notices an action raises: who must be told what, in the people's own words (titles from the definition).

A notice names roles, not people: :class:`workflow.notify.outbox.Notifier` finds who holds them and renders the
messages when the action writes its outbox rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from workflow.clock import LocalDays
from workflow.definitions.model import Definition, Gate
from workflow.definitions.words import counted, listed, timer_title
from workflow.engine import Engine, Facts, Outcome
from workflow.engine.due import due_days
from workflow.engine.requirements import Requirements
from workflow.notify.calendar import CalendarEntry, gate_description, task_description
from workflow.notify.outbox import CredentialRef, Notice, Notifier
from workflow.services.access import Caller
from workflow.services.missing import missing

VERDICT_TEXT = {"approve": "approved", "reject": "rejected", "request_changes": "asked for changes to"}


@dataclass(frozen=True)
class Owing:
    """Who still owes something in a credential's state: the owners of open checklist items and the approvers of
    the open stage short of approvals (``roles``); every role with a part in the state (``involved``); and the
    people whose decision stands, with the role they decided in (``decided``)."""

    roles: tuple[str, ...]
    involved: frozenset[str]
    decided: frozenset[tuple[str, str]]
    yours: dict[str, list[str]]  # what each role still owes, in words

    @classmethod
    def of(cls, engine: Engine, facts: Facts) -> Owing:
        """What is owed in the credential's current state."""
        roles: list[str] = []
        involved: set[str] = set()
        decided: set[tuple[str, str]] = set()
        yours: dict[str, list[str]] = {}
        for _, requirements in engine.requirements_from(facts.state):
            for item in requirements.items_for(facts.data):
                involved.add(item.owner)
                if item.key not in facts.done:
                    roles.append(item.owner)
                    yours.setdefault(item.owner, []).append(f"“{item.title}”")
            if requirements.gate is None:
                continue
            valid, _ = requirements.standing(facts)
            stage = requirements.open_stage(facts)
            for approver, have, need in requirements.tally(facts, valid):
                involved.add(approver.role)
                if have < need and approver.stage == stage:
                    roles.append(approver.role)
                    yours.setdefault(approver.role, []).append(f"your decision on {requirements.gate.title}")
            decided |= {(d.role, who) for d in valid for who in (d.who, d.actor)}
        return cls(tuple(dict.fromkeys(roles)), frozenset(involved), frozenset(decided), yours)


def overdue(engine: Engine, facts: Facts, entered_at: datetime, today: date, days: LocalDays
            ) -> list[dict[str, Any]]:
    """What is late in the credential's state, and by how many days: each gate still short of approvals and each
    open checklist item whose due day (counted from entering the state, on the institution's days) has passed."""
    definition, found = engine.definition, []

    def late(what: str, after: int | None) -> None:
        if after:
            due = days.day_of(entered_at + timedelta(days=after))
            if (today - due).days > 0:
                found.append({"what": what, "due": due.isoformat(), "days_late": (today - due).days})

    for _, requirements in engine.requirements_from(facts.state):
        gate = requirements.gate
        if gate is not None and any(have < need for _, have, need in requirements.tally(facts)):
            late(f"the decision on {gate.title}", due_days(definition, facts.state, requirements))
        open_items: dict[int | None, list[str]] = {}  # items due on the same day make one line
        for item in requirements.items_for(facts.data):
            if item.key not in facts.done:
                open_items.setdefault(due_days(definition, facts.state, requirements, item.due_days),
                                      []).append(f"“{item.title}” ({requirements.role(item.owner)})")
        for after, titles in open_items.items():
            late(titles[0] if len(titles) == 1 else counted(len(titles), "open checklist item"), after)
    return sorted(found, key=lambda x: -int(x["days_late"]))


class Notices:
    """Composes the notices of actions; with no notifier, there are none."""

    def __init__(self, notifier: Notifier | None) -> None:
        self._notifier = notifier

    def state_changed(self, definition: Definition, outcome: Outcome, by: Caller, comment: str) -> Notice:
        """The credential moved from one state to another."""
        return Notice("state_changed", definition.notify.state_changed, {
            "state_title": definition.states[outcome.dest].title,
            "from_title": definition.states[outcome.source].title, "comment": comment,
            # a timer's move is signed with the timer's title, as people read it, not its key
            "by": timer_title(definition, by.username.split(":", 1)[1]) if by.is_system
            and by.username.startswith("timer:") else by.display_name})

    def decided(self, definition: Definition, gate: Gate, by: Caller, verdict: str, comment: str,
                principal: str) -> Notice:
        """Someone decided on a gate."""
        return Notice("decided", definition.notify.decided, {
            "gate_title": gate.title, "decided_by": by.display_name, "comment": comment,
            "verdict_text": VERDICT_TEXT[verdict], "on_behalf_of": principal if principal != by.username else None})

    def approved(self, definition: Definition, gate: Gate, approvers: Sequence[str], comment: str) -> Notice:
        """A gate was approved: one message for the outcome, naming everyone whose approval it took."""
        return Notice("decided", definition.notify.decided, {
            "gate_title": gate.title, "decided_by": listed(list(approvers)) or "the approvers", "comment": comment,
            "verdict_text": "approved", "on_behalf_of": None})

    def timer(self, kind: str, notify: Sequence[str], context: dict[str, Any],
              entries: Sequence[CalendarEntry] = (), *, owing: Owing | None = None) -> Notice:
        """A reminder, escalation or warning a timer raised. A reminder (given what is ``owing``) goes to whoever
        still owes something and to the timer's roles with no part in the state (such as the project manager);
        never to an approver who has decided, nor to the owners of items already done."""
        if owing is None:
            return Notice(kind, list(notify), context, entries=entries)
        roles = [r for r in notify if r not in owing.involved] + list(owing.roles)
        return Notice(kind, list(dict.fromkeys(roles)), {**context, "yours": []},
                      {role: {"yours": owed} for role, owed in owing.yours.items()}, entries=entries,
                      delegates=True, excluded=owing.decided)

    def announce_state(self, engine: Engine, ref: CredentialRef, facts: Facts, now: datetime) -> list[Notice]:
        """The notices telling the owners of the checklist items that are now open, and the approvers of the
        gates."""
        notifier, definition = self._notifier, engine.definition
        notices: list[Notice] = []
        if notifier is None:
            return notices
        if definition.notify.item_assigned:
            owed: dict[str, list[dict[str, Any]]] = {}
            entries = []
            for _, requirements in engine.requirements_from(ref.state):
                for item in requirements.items_for(facts.data):
                    if item.key in facts.done:
                        continue
                    days = due_days(definition, ref.state, requirements, item.due_days)
                    due = notifier.days.day_of(now + timedelta(days=days)) if days else None
                    link = notifier.item_link(ref.id, item.key)
                    owed.setdefault(item.owner, []).append({"key": item.key, "title": item.title, "link": link,
                                                            "due": due.isoformat() if due else None})
                    if due is not None:
                        entries.append(CalendarEntry(
                            f"item-{ref.id}-{item.key}-{now:%Y%m%d}@{notifier.mail_domain}",
                            f"Due: {item.title} — {ref.title}", due, url=link,
                            description=task_description(item.title, ref.title, definition.states[ref.state].title,
                                                         definition.roles[item.owner].title
                                                         if item.owner in definition.roles else item.owner)))
            notices.append(Notice("item_assigned", list(owed), {
                "state_title": definition.states[ref.state].title}, {role: {"items": items} for role, items
                                                                     in owed.items()}, entries))
        if definition.notify.decision_needed:
            notices += self.ask_for_decisions(engine, ref, facts, now)
        return notices

    def ask_for_decisions(self, engine: Engine, ref: CredentialRef, facts: Facts, now: datetime,
                          only: tuple[str, Requirements] | None = None) -> list[Notice]:
        """The notices asking the approvers whose turn it is for their decisions. Gates of one state asking the
        same people (renew or sunset) make one question offering each, not one message per gate."""
        notifier = self._notifier
        notices: list[Notice] = []
        if notifier is None:
            return notices
        gates = [only] if only else engine.requirements_from(ref.state)
        asked: dict[tuple[str, ...], list[Notice]] = {}
        for _, requirements in gates:
            gate = requirements.gate
            if gate is None:
                continue
            stage = requirements.open_stage(facts)
            roles = [a.role for a, have, need in requirements.tally(facts) if have < need and a.stage == stage]
            due = notifier.days.day_of(now + timedelta(days=gate.due_days)) if gate.due_days else None
            state_title = engine.definition.states[ref.state].title
            entries = [CalendarEntry(f"gate-{ref.id}-{requirements.gate_id}-{now:%Y%m%d}@{notifier.mail_domain}",
                                     f"Decision due: {gate.title} — {ref.title}", due,
                                     url=f"{notifier.link(ref.id)}/gates/{requirements.gate_id}",
                                     description=gate_description(gate.title, ref.title, state_title,
                                                                  gate.description))] if due else []
            lacking = missing(requirements, facts)
            asked.setdefault(tuple(roles), []).append(Notice("decision_needed", roles, {
                "gate": requirements.gate_id, "gate_title": gate.title, "due": due.isoformat() if due else None,
                "description": gate.description, "state_title": state_title,
                "checklist_done": lacking.done, "checklist_total": lacking.total,
                "missing_summary": lacking.summary(approvals=False),
                "missing": [str(u) for u in lacking.unmet if u.kind != "approval"], "choices": []},
                entries=entries, delegates=True))
        for same in asked.values():
            notices.append(same[0] if len(same) == 1 else _one_question(same))
        return notices


def _one_question(notices: Sequence[Notice]) -> Notice:
    """Several gates asking the same people, as one message offering each (the first gate's facts lead)."""
    first = notices[0]
    choices = [{k: n.context[k] for k in ("gate", "gate_title", "description", "due", "checklist_done",
                                          "checklist_total", "missing_summary")} for n in notices]
    context = {**first.context, "gate_title": " or ".join(c["gate_title"] for c in choices), "choices": choices}
    return Notice("decision_needed", first.roles, context, entries=[e for n in notices for e in n.entries],
                  delegates=True)
