"""What a person sees of credentials: one credential with its checklist by role, gates and possible transitions;
its history; and the lists of credentials they may see. Reads only."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Row, and_, bindparam, exists, false, func, or_, select

from workflow.clock import Clock
from workflow.definitions.model import Definition
from workflow.definitions.words import timer_title
from workflow.engine import Engine, Facts, Option
from workflow.errors import NotFound
from workflow.services.access import AccessService, Caller, visible_clause
from workflow.services.definitions import DefinitionRegistry
from workflow.services.facts import current_entries, next_timers, row_facts
from workflow.services.history_words import actor_words, summarize
from workflow.services.missing import Missing, missing
from workflow.store.database import Database
from workflow.store.lookups import CredentialRow
from workflow.store.tables import CREDENTIAL, EVENT, TIMER

GATHER_STATE = 10_000  # lists of one state with at most this many rows are gathered before being sorted
MAX_PAGE = 200

_CID: BindParameter[int] = bindparam("cid")
_READ = select(CREDENTIAL).where(CREDENTIAL.c.id == _CID)
_HISTORY = select(EVENT).where(EVENT.c.credential_id == _CID).order_by(EVENT.c.seq)


@dataclass(frozen=True)
class ItemStatus:
    """One checklist item that stands before a transition out of the current state."""

    key: str
    title: str
    owner: str
    trigger: str
    done: bool
    note: str
    done_by: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class ApproverStatus:
    """One approver rule of a gate and how far it has got."""

    role: str
    policy: str
    stage: int
    approvals: int
    needed: int


@dataclass(frozen=True)
class GateStatus:
    """A gate open in the current state: its approvers and the decisions of this round."""

    gate: str
    title: str
    trigger: str
    approvers: tuple[ApproverStatus, ...]
    decisions: tuple[dict[str, Any], ...]  # the latest per person and role; "current" is False once outdated
    open_stage: int | None


@dataclass(frozen=True)
class CredentialDetail:
    """Everything about one credential that a page or the CLI shows."""

    id: int
    title: str
    definition: str
    definition_version: int
    state: str
    state_title: str
    phase: str
    previous_state: str | None
    version: int
    data: dict[str, Any]
    state_entered_at: datetime
    org_unit_id: int | None
    created_by: str
    options: tuple[Option, ...]
    checklist: tuple[ItemStatus, ...]
    gates: tuple[GateStatus, ...]
    timers: tuple[dict[str, Any], ...] = ()  # pending timers, soonest first
    missing: dict[str, Missing] = field(default_factory=dict)  # by trigger: what each transition still lacks

    def checklist_by_role(self) -> dict[str, list[ItemStatus]]:
        """The checklist grouped by owning role, in definition order."""
        grouped: dict[str, list[ItemStatus]] = {}
        for item in self.checklist:
            grouped.setdefault(item.owner, []).append(item)
        return grouped


@dataclass(frozen=True)
class CredentialSummary:
    """A line of a credential list."""

    id: int
    title: str
    definition: str
    state: str
    version: int
    updated_at: datetime
    org_unit_id: int | None = None
    state_entered_at: datetime | None = None


@dataclass(frozen=True)
class HistoryEvent:
    """One entry of a credential's history."""

    seq: int
    at: datetime
    actor: str
    kind: str
    trigger: str | None
    from_state: str | None
    to_state: str | None
    comment: str
    details: dict[str, Any]
    summary: str = ""  # what happened, in words (with the definition's titles)
    actor_title: str = ""  # who, in words (a timer by its title)

    @classmethod
    def from_row(cls, row: Row[Any], definition: Definition | None = None) -> HistoryEvent:
        """The entry stored in an ``event`` row (said in ``definition``'s words)."""
        details = dict(row.details)
        return cls(row.seq, row.at, row.actor, row.kind, row.trigger, row.from_state, row.to_state, row.comment,
                   details, summarize(definition, row.kind, row.trigger, row.from_state, row.to_state, details),
                   actor_words(definition, row.actor))


def describe(engine: Engine, credential: Row[Any] | CredentialRow, facts: Facts, entries: dict[str, Any],
             timers: list[dict[str, Any]] | None = None) -> CredentialDetail:
    """Build the read model of a credential from its row, facts and current checklist entries."""
    state = engine.definition.states[credential.state]
    items: list[ItemStatus] = []
    gates: list[GateStatus] = []
    lacking: dict[str, Missing] = {}
    for trigger, requirements in engine.requirements_from(credential.state):
        lacking[trigger] = missing(requirements, facts)
        for item in requirements.items_for(facts.data):
            entry = entries.get(item.key)
            items.append(ItemStatus(item.key, item.title, item.owner, trigger, bool(entry and entry.done),
                                    entry.note if entry else "", entry.actor if entry else None,
                                    entry.updated_at if entry else None))
        if requirements.gate is None or requirements.gate_id is None:
            continue
        _, stale = requirements.standing(facts)
        approvers = [ApproverStatus(rule.role, rule.policy, rule.stage, have, need)
                     for rule, have, need in requirements.tally(facts)]
        gates.append(GateStatus(
            requirements.gate_id, requirements.gate.title, trigger, tuple(approvers),
            tuple({"role": d.role, "by": d.who, "actor": d.actor, "verdict": d.verdict, "comment": d.comment,
                   "current": d not in stale,
                   "outdated_because": "; ".join(requirements.changes_since(d.seen or {}, facts)) if d in stale
                   else ""}
                  for d in requirements.latest_decisions(facts)),
            requirements.open_stage(facts),
        ))
    return CredentialDetail(
        id=credential.id, title=credential.title, definition=credential.definition_name,
        definition_version=credential.definition_version, state=credential.state, state_title=state.title,
        phase=state.phase, previous_state=credential.previous_state, version=credential.version,
        data=dict(credential.data), state_entered_at=credential.state_entered_at,
        org_unit_id=credential.org_unit_id, created_by=credential.created_by,
        options=tuple(engine.options(facts)), checklist=tuple(items), gates=tuple(gates),
        timers=tuple({**t, "title": timer_title(engine.definition, str(t["timer"]))} for t in timers or ()),
        missing=lacking,
    )


class CredentialViews:
    """One credential as a person sees it, its history, and pages of the credentials they may see."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, access: AccessService,
                 clock: Clock) -> None:
        self._db = database
        self._definitions = definitions
        self._access = access
        self._clock = clock

    def get(self, credential_id: int, *, by: Caller) -> CredentialDetail:
        """The credential with its checklist, gates and possible transitions (and what each is missing)."""
        with self._db.begin_read() as conn:
            row = conn.execute(_READ, {"cid": credential_id}).first()
            if row is None or not by.can_view(row.id, row.org_unit_id):
                raise NotFound("credential", credential_id)
            engine = self._definitions.engine(row.definition_name, row.definition_version)
            entries = current_entries(conn, row)
            timers = next_timers(conn, credential_id)
            return describe(engine, row, row_facts(conn, self._access, engine, row, entries=entries), entries, timers)

    def history(self, credential_id: int, *, by: Caller) -> list[HistoryEvent]:
        """The credential's history, oldest first."""
        with self._db.begin_read() as conn:
            row = conn.execute(_READ, {"cid": credential_id}).first()
            if row is None or not by.can_view(row.id, row.org_unit_id):
                raise NotFound("credential", credential_id)
            definition = self._definitions.engine(row.definition_name, row.definition_version).definition
            return [HistoryEvent.from_row(event, definition)
                    for event in conn.execute(_HISTORY, {"cid": credential_id})]

    def search(self, *, by: Caller, state: str | None = None, org_unit_id: int | None = None,
               overdue: bool = False, limit: int = 50, offset: int = 0, states: Collection[str] | None = None,
               due_within_days: int | None = None) -> tuple[list[CredentialSummary], int]:
        """Credentials the caller may see, newest first: one page and the total count. ``states`` keeps those in
        any of them; ``due_within_days`` those a timer will move (renewal review, expiry) within that many days."""
        limit = max(1, min(limit, MAX_PAGE))
        conditions = [visible_clause(by)]
        if state is not None:
            conditions.append(CREDENTIAL.c.state == state)
        if states is not None:
            conditions.append(CREDENTIAL.c.state.in_(list(states)))
        if due_within_days is not None:
            horizon = self._clock.now() + timedelta(days=due_within_days)
            conditions.append(exists().where(TIMER.c.credential_id == CREDENTIAL.c.id, TIMER.c.status == "pending",
                                             TIMER.c.action == "fire", TIMER.c.due_at <= horizon))
        if org_unit_id is not None:
            below = self._access.tree().below([org_unit_id])
            conditions.append(CREDENTIAL.c.org_unit_id.in_(below))
        if overdue:
            conditions.append(self._overdue())
        where = and_(*conditions)
        columns = (CREDENTIAL.c.id, CREDENTIAL.c.title, CREDENTIAL.c.definition_name, CREDENTIAL.c.state,
                   CREDENTIAL.c.version, CREDENTIAL.c.updated_at, CREDENTIAL.c.org_unit_id,
                   CREDENTIAL.c.state_entered_at)
        query = select(*columns).where(where).order_by(CREDENTIAL.c.id.desc()).offset(max(0, offset)).limit(limit)
        with self._db.begin_read() as conn:
            total = int(conn.execute(select(func.count()).select_from(CREDENTIAL).where(where)).scalar() or 0)
            if (state is not None or states is not None) and total <= GATHER_STATE and not self._db.is_sqlite:
                # Gather the few rows of the state first: left to itself PostgreSQL walks the primary key backwards
                # from the newest credential looking for them, not knowing that they are among the oldest.
                matches = select(*columns).where(where).cte("matches").prefix_with("MATERIALIZED")
                query = select(*matches.c).order_by(matches.c.id.desc()).offset(max(0, offset)).limit(limit)
            rows = [CredentialSummary(r.id, r.title, r.definition_name, r.state, r.version, r.updated_at,
                                      r.org_unit_id, r.state_entered_at) for r in conn.execute(query)]
        return rows, total

    def _overdue(self) -> Any:
        now = self._clock.now()
        late = []
        for name in self._definitions.names():
            for sid, state in self._definitions.engine(name).definition.states.items():
                if state.planned_days and not state.final:
                    late.append(and_(CREDENTIAL.c.definition_name == name, CREDENTIAL.c.state == sid,
                                     CREDENTIAL.c.state_entered_at < now - timedelta(days=state.planned_days)))
        return or_(*late) if late else false()

