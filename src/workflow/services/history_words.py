"""One line of a credential's history in words, with the titles of its definition: "Moved from Ideation to
Feasibility — Submit for feasibility", "Checklist: “One-pager written” marked done", "Approved Feasibility approval"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow.definitions.model import Definition
from workflow.definitions.words import (
    counted,
    field_label,
    gate_title,
    item_title,
    listed,
    role_title,
    state_title,
    timer_title,
    transition_title,
)

_DECIDED = {"approve": "Approved", "request_changes": "Asked for changes to", "reject": "Rejected"}
_TIMER_KINDS = {"reminder": "Reminder", "escalation": "Escalation", "warning": "Warning"}


def actor_words(definition: Definition | None, actor: str) -> str:
    """Who did it: a person's user name, or the timer that acted ("Timer: Feasibility decision waiting")."""
    if actor.startswith("timer:"):
        return f"Timer: {timer_title(definition, actor.removeprefix('timer:'))}"
    return actor


def summarize(definition: Definition | None, kind: str, trigger: str | None, from_state: str | None,
              to_state: str | None, details: Mapping[str, Any]) -> str:
    """What one history event says, as people read it."""
    if kind == "created":
        return f"Created in {state_title(definition, to_state)}"
    if to_state is not None:
        how = f" — {transition_title(definition, trigger, from_state)}" if trigger else ""
        moved = f"Moved from {state_title(definition, from_state)} to {state_title(definition, to_state)}{how}"
        if kind == "override":
            skipped = details.get("skipped") or []
            moved += f" (an administrator's override, past {counted(len(skipped), 'unmet requirement')})"
        acknowledged = details.get("acknowledged") or []
        if acknowledged:
            moved += ("; impact acknowledged: " + "; ".join(f"“{a.get('title')}” (#{a.get('id')}) {a.get('relation')}"
                                                          for a in acknowledged))
        return moved
    if kind == "checklist":
        item = item_title(definition, str(details.get("item", "")))
        return f"Checklist: “{item}” marked {'done' if details.get('done') else 'not done'}"
    if kind == "decision":
        verdict = str(details.get("verdict", ""))
        text = f"{_DECIDED.get(verdict, verdict)} {gate_title(definition, str(details.get('gate', '')))}"
        if details.get("role"):
            text += f" as {role_title(definition, str(details['role']))}"
        if details.get("on_behalf_of"):
            text += f" for {details['on_behalf_of']}"
        return text
    if kind == "comment":
        return f"Comment on {gate_title(definition, str(details.get('gate', '')))}"
    if kind == "data":
        changed = [field_label(definition, name) for name in details.get("changes") or {}]
        return f"Information changed: {listed(changed)}" if changed else "Information changed"
    if kind == "fold":
        return "Decisions, checklist and information as they stood at the upgrade, kept in the history"
    if kind == "team":
        return f"{details.get('added')} joined the team as {role_title(definition, str(details.get('role', '')))}"
    timer = timer_title(definition, str(details.get("timer", "")))
    if kind == "timer":
        return f"{timer}: “{transition_title(definition, trigger or '', from_state)}” could not happen yet"
    if kind in _TIMER_KINDS:
        return f"{_TIMER_KINDS[kind]}: {timer}"
    return kind.capitalize()
