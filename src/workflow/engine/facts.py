"""What the engine is told about one credential: its state, data, finished items and gate decisions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["approve", "reject", "request_changes"]


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision on a gate in ``role``, by ``actor`` on behalf of ``principal`` (themselves unless delegated).

    ``seen`` is what the decision was made on (see :meth:`Requirements.snapshot`); an approval or a request for
    changes counts only while that is still what the gate would show. ``None`` means "whatever is current".
    """

    gate: str
    role: str
    actor: str
    verdict: Verdict
    comment: str = ""
    principal: str = ""
    seen: Mapping[str, Any] | None = None

    @property
    def who(self) -> str:
        """The person the decision counts for."""
        return self.principal or self.actor


@dataclass(frozen=True, slots=True)
class Facts:
    """The facts about one credential that the guards look at.

    ``done`` holds the keys of finished checklist items and ``decisions`` the decisions on gates of the current
    round, oldest first (a later decision by the same person in the same role replaces an earlier one).
    ``role_holders`` says how many people hold a role, for ``all`` approval policies. ``evidence`` names the newest
    version of the evidence attached to each checklist item (and to the ``proposal``), by key.
    """

    state: str
    data: Mapping[str, Any] = field(default_factory=dict)
    done: frozenset[str] = frozenset()
    decisions: tuple[Decision, ...] = ()
    previous_state: str | None = None
    role_holders: Mapping[str, int] = field(default_factory=dict)
    evidence: Mapping[str, str] = field(default_factory=dict)  # the newest version of each item's evidence
