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
    if kind == "migrated":
        return (f"Moved from version {details.get('from_version')} to version {details.get('to_version')} of the "
                f"definition, in {state_title(definition, to_state)}")
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
    if kind == "evidence":
        target = str(details.get("target", ""))
        where = "the proposal" if target == "proposal" else f"“{item_title(definition, target)}”"
        what = details.get("filename") or details.get("link") or ""
        return f"Evidence for {where}: version {details.get('version')} ({what})"
    if kind == "fold":
        return "Decisions, checklist and information as they stood at the upgrade, kept in the history"
    if kind == "team" and details.get("removed"):
        return f"{details.get('removed')} left the team as {role_title(definition, str(details.get('role', '')))}"
    if kind == "team":
        return f"{details.get('added')} joined the team as {role_title(definition, str(details.get('role', '')))}"
    if kind in ("plan", "plan_alert"):
        return plan_words(definition, kind, details)
    timer = timer_title(definition, str(details.get("timer", "")))
    if kind == "timer":
        return f"{timer}: “{transition_title(definition, trigger or '', from_state)}” could not happen yet"
    if kind in _TIMER_KINDS:
        return f"{_TIMER_KINDS[kind]}: {timer}"
    return kind.capitalize()


def plan_words(definition: Definition | None, kind: str, details: Mapping[str, Any]) -> str:
    """A change of the plan, or an alert that it slipped."""
    if kind == "plan_alert":
        if details.get("what") == "missed":
            return (f"Alert: {state_title(definition, str(details.get('state', '')))} was planned to end by "
                    f"{details.get('planned')}")
        return f"Alert: launch expected {details.get('forecast')}, after the target {details.get('target')}"
    change = details.get("change")
    if change == "moved":
        return (f"Plan: end of {state_title(definition, str(details.get('state', '')))} moved from "
                f"{details.get('was')} to {details.get('to')}")
    if change == "rebaselined":
        return f"Plan re-baselined (launch {details.get('target')})"
    intake = f" (intake {details['intake']})" if details.get("intake") else ""
    if details.get("was"):
        return f"Plan: target launch moved from {details['was']} to {details.get('target')}{intake}"
    return f"Plan: target launch set to {details.get('target')}{intake}; this first plan is the baseline"
