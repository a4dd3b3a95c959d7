"""The guards of one transition, compiled once per definition, answering "what exactly is missing?"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow.definitions.model import Approver, ChecklistItem, Condition, Definition, Gate
from workflow.definitions.words import role_title
from workflow.engine.facts import Decision, Facts
from workflow.errors import Unmet


def is_blank(value: Any) -> bool:
    """Whether a credential field counts as not filled in."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict)):
        return len(value) == 0
    return False


def applies(when: Condition | None, data: Mapping[str, Any]) -> bool:
    """Whether a ``when`` condition holds for the credential's data (no condition always holds)."""
    if not when:
        return True
    for name, expected in when.items():
        actual = data.get(name)
        if isinstance(expected, tuple):
            if actual not in expected:
                return False
        elif actual != expected or isinstance(actual, bool) != isinstance(expected, bool):
            return False
    return True


@dataclass(frozen=True)
class Requirements:
    """Everything one transition needs: its checklist, required fields and (for a gate) approvals."""

    items: tuple[ChecklistItem, ...]
    fields: tuple[tuple[str, str], ...]  # (name, label)
    gate_id: str | None
    gate: Gate | None
    definition: Definition | None = field(default=None, compare=False, repr=False)  # for titles in messages

    @classmethod
    def compile(cls, definition: Definition, index: int) -> Requirements:
        """Gather the requirements of the transition at ``index`` of ``definition``."""
        transition = definition.transitions[index]
        gate = definition.gates[transition.gate] if transition.gate else None
        items = transition.checklist + (gate.checklist if gate else ())
        names = dict.fromkeys(transition.requires_fields + (gate.requires_fields if gate else ()))
        fields = tuple((name, definition.fields[name].label) for name in names)
        return cls(items, fields, transition.gate, gate, definition)

    def items_for(self, data: Mapping[str, Any]) -> list[ChecklistItem]:
        """The checklist items that apply to a credential with this data."""
        return [item for item in self.items if applies(item.when, data)]

    def approvers_for(self, data: Mapping[str, Any]) -> list[Approver]:
        """The approvers that apply to a credential with this data."""
        return [a for a in self.gate.approvers if applies(a.when, data)] if self.gate else []

    def role(self, key: str) -> str:
        """The title of a role, as people read it."""
        return role_title(self.definition, key)

    def unmet(self, facts: Facts) -> list[Unmet]:
        """Everything that still stands between the credential and this transition, in plain words."""
        missing: list[Unmet] = []
        data = facts.data
        for item in self.items:
            if item.key not in facts.done and applies(item.when, data):
                missing.append(Unmet("checklist", item.key, f"“{item.title}” is not done ({self.role(item.owner)})"))
        for name, label in self.fields:
            if is_blank(data.get(name)):
                missing.append(Unmet("field", name, f"{label} is empty"))
        if self.gate is not None:
            missing.extend(self._approvals(facts))
        return missing

    def snapshot(self, facts: Facts) -> dict[str, Any]:
        """What a decider sees of this gate: its required fields' values, which of its items are done and (when
        there is any) the version of the evidence attached to its items and to the proposal."""
        seen: dict[str, Any] = {
            "fields": {name: facts.data.get(name) for name, _ in self.fields},
            "done": sorted(item.key for item in self.items_for(facts.data) if item.key in facts.done),
        }
        keys = [PROPOSAL, *(item.key for item in self.items_for(facts.data))]
        evidence = {key: facts.evidence[key] for key in keys if key in facts.evidence}
        if evidence:
            seen["evidence"] = evidence
        return seen

    def changes_since(self, seen: Mapping[str, Any], facts: Facts) -> list[str]:
        """What has changed, in words, between what a decision saw (its snapshot) and the gate now."""
        now = self.snapshot(facts)
        said: list[str] = []
        titles = {item.key: item.title for item in self.items} | {PROPOSAL: "the proposal"}
        before, after = dict(seen.get("evidence") or {}), dict(now.get("evidence") or {})
        for key in sorted(set(before) | set(after), key=lambda k: list(titles).index(k) if k in titles else 0):
            if before.get(key) != after.get(key):
                title = titles.get(key, key)
                name = title if key == PROPOSAL else f"“{title}”"
                if key not in before:
                    said.append(f"evidence was attached to {name} ({_version(after[key])})")
                elif key not in after:
                    said.append(f"the evidence of {name} is gone")
                else:
                    said.append(f"the evidence of {name} was replaced ({_version(before[key])} → "
                                f"{_version(after[key])})")
        labels = dict(self.fields)
        for name, value in now["fields"].items():
            if (seen.get("fields") or {}).get(name) != value:
                said.append(f"{labels.get(name, name)} changed")
        if list(seen.get("done") or []) != now["done"]:
            said.append("the checklist changed")
        return said

    def latest_decisions(self, facts: Facts) -> list[Decision]:
        """This gate's decisions of the current round, the latest per person and role."""
        latest: dict[tuple[str, str], Decision] = {}
        for decision in facts.decisions:
            if decision.gate == self.gate_id:
                latest[(decision.role, decision.who)] = decision
        return list(latest.values())

    def standing(self, facts: Facts) -> tuple[list[Decision], list[Decision]]:
        """(decisions that still count, approvals and requests made on something that has changed since)."""
        valid: list[Decision] = []
        stale: list[Decision] = []
        current: dict[str, Any] | None = None
        for decision in self.latest_decisions(facts):
            if decision.verdict != "reject" and decision.seen is not None:
                current = self.snapshot(facts) if current is None else current
                if dict(decision.seen) != current:
                    stale.append(decision)
                    continue
            valid.append(decision)
        return valid, stale

    def tally(self, facts: Facts, valid: list[Decision] | None = None) -> list[tuple[Approver, int, int]]:
        """For each approver rule that applies: (rule, approvals that count, approvals needed)."""
        if valid is None:
            valid, _ = self.standing(facts)
        return [
            (approver, sum(1 for d in valid if d.role == approver.role and d.verdict == "approve"),
             needed(approver, facts.role_holders))
            for approver in self.approvers_for(facts.data)
        ]

    def open_stage(self, facts: Facts) -> int | None:
        """The lowest approval stage still short of approvals (``None`` when every stage is complete)."""
        short = [approver.stage for approver, have, need in self.tally(facts) if have < need]
        return min(short) if short else None

    def _approvals(self, facts: Facts) -> list[Unmet]:
        missing: list[Unmet] = []
        valid, stale = self.standing(facts)
        for decision in valid:
            if decision.verdict == "reject":
                missing.append(Unmet("decision", decision.role,
                                     f"Rejected by {decision.who} ({self.role(decision.role)})"))
            elif decision.verdict == "request_changes":
                missing.append(Unmet("decision", decision.role,
                                     f"Changes requested by {decision.who} ({self.role(decision.role)})"))
        outdated = {d.role: (d.who, self.changes_since(d.seen or {}, facts)) for d in stale if d.verdict == "approve"}
        for approver, have, need in self.tally(facts, valid):
            if have >= need:
                continue
            title = self.role(approver.role)
            if approver.policy == "all" and need > 1:
                text = f"Approval by all {need} of the {title} is needed ({have} so far)"
            elif need == 1:
                text = f"Approval by the {title} is needed"
            else:
                text = f"{need} approvals by the {title} are needed ({have} so far)"
            if approver.role in outdated:
                who, changes = outdated[approver.role]
                why = f": {'; '.join(changes)}" if changes else ""
                text += f" (the approval by {who} was for an earlier version{why})"
            missing.append(Unmet("approval", approver.role, text))
        return missing


PROPOSAL = "proposal"
"""The key of the evidence attached to the credential's proposal itself rather than to a checklist item."""


def _version(seen: str) -> str:
    """``"v2 <sha>"`` → ``"version 2"``."""
    return f"version {seen.split(' ', 1)[0].removeprefix('v')}"


def needed(approver: Approver, holders: Mapping[str, int]) -> int:
    """How many approvals an approver rule asks for (``all`` counts the people holding the role)."""
    if approver.policy == "n_of":
        return approver.n or 1
    if approver.policy == "all":
        return max(1, holders.get(approver.role, 0))
    return 1
