"""What still stands before a transition, counted one way everywhere: the checklist (N of M done), the fields
still empty and the approvals still needed. Pages, emails and the approvals inbox all say it from here, so that
"Checklist: 3 of 10 done" and "Still missing: 7 checklist items, 1 field and …" always agree."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.definitions.words import counted, listed
from workflow.engine import Facts
from workflow.engine.requirements import Requirements
from workflow.errors import Unmet


@dataclass(frozen=True)
class Missing:
    """One transition's shortfall, grouped. Each entry is an :class:`Unmet` (kind, subject key, message)."""

    done: int  # checklist items done, of those that apply
    total: int  # checklist items that apply
    items: tuple[Unmet, ...]  # checklist items not done (``total - done`` of them)
    fields: tuple[Unmet, ...]  # required fields still empty
    approvals: tuple[Unmet, ...]  # approvals needed, and rejections or requests for changes standing
    approval_phrases: tuple[str, ...] = ()  # the approvals in a few words each, for the summary

    @property
    def unmet(self) -> tuple[Unmet, ...]:
        """Everything missing, checklist first, then fields, then approvals."""
        return self.items + self.fields + self.approvals

    @property
    def count(self) -> int:
        """How many things are missing (the length of :attr:`unmet`)."""
        return len(self.unmet)

    def checklist(self) -> str:
        """"3 of 10 done"."""
        return f"{self.done} of {self.total} done"

    def summary(self, *, approvals: bool = True) -> str:
        """"7 checklist items, 1 field and the approval of the Dean" ("" when nothing is missing);
        ``approvals=False`` leaves the approvals out (for the people asked to give them)."""
        parts = []
        if self.items:
            parts.append(counted(len(self.items), "checklist item"))
        if self.fields:
            parts.append(counted(len(self.fields), "field"))
        if approvals:
            parts.extend(self.approval_phrases)
        return listed(parts)


def missing(requirements: Requirements, facts: Facts) -> Missing:
    """What the transition of ``requirements`` still lacks for a credential with these facts."""
    unmet = requirements.unmet(facts)
    applying = requirements.items_for(facts.data)
    done = sum(1 for item in applying if item.key in facts.done)
    phrases: list[str] = []
    decisions = [u for u in unmet if u.kind == "decision"]
    if decisions:
        phrases.append(counted(len(decisions), "standing objection"))
    if requirements.gate is not None:
        valid, _ = requirements.standing(facts)
        for approver, have, need in requirements.tally(facts, valid):
            if have < need:
                phrases.append(approval_phrase(requirements.role(approver.role), need - have, need))
    return Missing(done, len(applying), tuple(u for u in unmet if u.kind == "checklist"),
                   tuple(u for u in unmet if u.kind == "field"),
                   tuple(u for u in unmet if u.kind in ("approval", "decision")), tuple(phrases))


def approval_phrase(title: str, short: int, need: int) -> str:
    """Approvals still needed from a role, in a few words: "the approval of the Dean", "1 more approval of …"."""
    if short == 1 and need == 1:
        return f"the approval of the {title}"
    return f"{counted(short, 'more approval')} of the {title}"
