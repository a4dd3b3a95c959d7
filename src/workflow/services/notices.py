"""The notices an action raises: who must be told what, in the people's own words (titles from the definition).

A notice names roles, not people: :class:`workflow.notify.outbox.Notifier` finds who holds them and renders the
messages when the action writes its outbox rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from workflow.definitions.model import Definition, Gate
from workflow.definitions.words import timer_title
from workflow.engine import Engine, Facts, Outcome
from workflow.engine.requirements import Requirements
from workflow.notify.calendar import CalendarEntry
from workflow.notify.outbox import CredentialRef, Notice, Notifier
from workflow.services.access import Caller
from workflow.services.missing import missing

VERDICT_TEXT = {"approve": "approved", "reject": "rejected", "request_changes": "asked for changes to"}


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

    def timer(self, kind: str, notify: Sequence[str], context: dict[str, Any],
              entries: Sequence[CalendarEntry] = ()) -> Notice:
        """A reminder, escalation or warning a timer raised."""
        return Notice(kind, list(notify), context, entries=entries)

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
                    due = notifier.days.day_of(now + timedelta(days=item.due_days)) if item.due_days else None
                    owed.setdefault(item.owner, []).append({"key": item.key, "title": item.title,
                                                            "due": due.isoformat() if due else None})
                    if due is not None:
                        entries.append(CalendarEntry(f"item-{ref.id}-{item.key}-{now:%Y%m%d}@{notifier.mail_domain}",
                                                     f"Due: {item.title} — {ref.title}", due,
                                                     url=notifier.link(ref.id)))
            notices.append(Notice("item_assigned", list(owed), {
                "state_title": definition.states[ref.state].title}, {role: {"items": items} for role, items
                                                                     in owed.items()}, entries))
        if definition.notify.decision_needed:
            notices += self.ask_for_decisions(engine, ref, facts, now)
        return notices

    def ask_for_decisions(self, engine: Engine, ref: CredentialRef, facts: Facts, now: datetime,
                          only: tuple[str, Requirements] | None = None) -> list[Notice]:
        """The notices asking the approvers whose turn it is for their decisions."""
        notifier = self._notifier
        notices: list[Notice] = []
        if notifier is None:
            return notices
        gates = [only] if only else engine.requirements_from(ref.state)
        for _, requirements in gates:
            gate = requirements.gate
            if gate is None:
                continue
            stage = requirements.open_stage(facts)
            roles = [a.role for a, have, need in requirements.tally(facts) if have < need and a.stage == stage]
            due = notifier.days.day_of(now + timedelta(days=gate.due_days)) if gate.due_days else None
            entries = [CalendarEntry(f"gate-{ref.id}-{requirements.gate_id}-{now:%Y%m%d}@{notifier.mail_domain}",
                                     f"Decision due: {gate.title} — {ref.title}", due, url=notifier.link(ref.id))
                       ] if due else []
            lacking = missing(requirements, facts)
            notices.append(Notice("decision_needed", roles, {
                "gate": requirements.gate_id, "gate_title": gate.title, "due": due.isoformat() if due else None,
                "state_title": engine.definition.states[ref.state].title,
                "checklist_done": lacking.done, "checklist_total": lacking.total,
                "missing_summary": lacking.summary(approvals=False),
                "missing": [str(u) for u in lacking.unmet if u.kind != "approval"]},
                entries=entries, delegates=True))
        return notices
