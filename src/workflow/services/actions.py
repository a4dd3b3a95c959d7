"""The unit of work of an action on one credential: lock it, let the command decide, then write state, history,
timers and outbox together — or nothing, if anything fails.

Two actions on one credential never both act on the same old state: the credential row is locked for the action
(``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL), every action bumps the credential's
version with an update that also checks the version it read, and the history's ``(credential, seq)`` key
refuses a second event for the same version. The writing itself is :mod:`workflow.store.history`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.exc import IntegrityError

from workflow.clock import Clock
from workflow.definitions.model import PREVIOUS
from workflow.engine import Engine, Facts, Outcome
from workflow.engine.timers import plan
from workflow.errors import Conflict, NotFound, StaleVersion
from workflow.notify.outbox import CredentialRef, Notice, Notifier, Queued
from workflow.services.access import AccessService, Caller
from workflow.services.definitions import DefinitionRegistry
from workflow.services.facts import current, gather
from workflow.services.notices import Notices
from workflow.store import history, lookups
from workflow.store.accounting import data_digest
from workflow.store.database import Database
from workflow.store.history import History
from workflow.store.lookups import CredentialRow, DecisionRow, EntryRow, EvidenceRow
from workflow.store.orgtree import OrgTree

log = logging.getLogger(__name__)


@dataclass
class Action:
    """One action in progress: the locked credential row as read, and the columns the action changes.

    It also keeps what the action has read once — checklist entries, gate decisions (with those the action
    adds), role holders, the org tree — and what it writes together: its history events and the credential's
    new columns (one update however many events), then the notices for the outbox.
    """

    conn: Connection
    row: CredentialRow
    engine: Engine
    by: Caller
    history: History
    changes: dict[str, Any] = field(default_factory=dict)
    written: bool = False  # whether a write of this action has changed the row (see latest())
    queued: list[Queued] = field(default_factory=list)
    holders: dict[str, int] = field(default_factory=dict)
    _tree: OrgTree | None = None
    _entries: list[Any] | None = None
    _decisions: list[DecisionRow] | None = None
    _evidence: list[EvidenceRow] | None = None

    @property
    def id(self) -> int:
        return int(self.row.id)

    @property
    def version(self) -> int:
        return self.history.seq

    @property
    def state(self) -> str:
        return str(self.changes.get("state", self.row.state))

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.changes.get("data", self.row.data))

    @property
    def rounds(self) -> dict[str, int]:
        return dict(self.changes.get("rounds", self.row.rounds))

    def value(self, column: str) -> Any:
        return self.changes.get(column, getattr(self.row, column))

    def latest(self) -> CredentialRow | Row[Any]:
        """The credential row as this action's writes so far have left it (read again only if they changed it)."""
        return lookups.reread(self.conn, self.id) if self.written else self.row

    def tree(self, access: AccessService) -> OrgTree:
        """The org tree, read once per action."""
        if self._tree is None:
            self._tree = access.tree(self.conn)
        return self._tree

    def entries(self) -> dict[str, Any]:
        """The checklist entries of the current rounds (all rounds are read once per action)."""
        if self._entries is None:
            self._entries = lookups.read_entries(self.conn, self.id)
        return current(self._entries, self.rounds)

    def decisions(self) -> list[DecisionRow]:
        """Every gate decision on the credential, oldest first: read once per action, then kept up to date."""
        if self._decisions is None:
            self._decisions = lookups.read_decisions(self.conn, self.id)
        return self._decisions

    def evidence(self) -> list[EvidenceRow]:
        """Every version of the credential's evidence: read once per action, then kept up to date."""
        if self._evidence is None:
            self._evidence = lookups.read_evidence(self.conn, self.id)
        return self._evidence

    def attached(self, row: Mapping[str, Any]) -> None:
        """Keep a version of evidence this action has just stored."""
        self._evidence = [*self.evidence(), EvidenceRow(0, *(row[name] for name in EvidenceRow._fields[1:]))]

    @property
    def all_entries(self) -> list[Any] | None:
        """Every checklist entry of every round, if the action has read them (kept up to date by :meth:`entered`)."""
        return self._entries

    def entered(self, row: Mapping[str, Any]) -> None:
        """Keep a checklist entry this action has just stored (over the one of the same item and round)."""
        if self._entries is not None:
            self._entries = [e for e in self._entries if (e.item_key, e.round) != (row["item_key"], row["round"])]
            self._entries.append(EntryRow(0, row["credential_id"], row["item_key"], row["round"], row["done"],
                                          row["note"], row["actor"], row["updated_at"], row["seq"]))

    def decided(self, row: Mapping[str, Any]) -> None:
        """Keep a decision this action has just stored."""
        if self._decisions is not None:
            self._decisions.append(DecisionRow(row["gate"], row["round"], row["role"], row["actor"],
                                               row["principal"], row["verdict"], row["comment"], row["seen"]))

    def ref(self) -> CredentialRef:
        """The credential as its messages name it."""
        return CredentialRef(self.id, str(self.value("title")), self.state, self.row.org_unit_id)


class Actions:
    """Opens actions on credentials and carries out what every command shares: recording events, moving the
    credential, keeping its timers in step and queueing its notices."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, access: AccessService, clock: Clock,
                 notifier: Notifier | None = None) -> None:
        self.db = database
        self.definitions = definitions
        self.access = access
        self.clock = clock
        self.notifier = notifier
        self.notices = Notices(notifier)

    @contextmanager
    def open(self, credential_id: int, expected_version: int | None, by: Caller) -> Iterator[Action]:
        """Lock the credential for an action by ``by`` and yield it; when the block ends, write what the action
        recorded and the messages it queued, in the same transaction.

        Raises:
            NotFound: no such credential, or not one ``by`` may see.
            StaleVersion: it is not at ``expected_version`` (or a concurrent action got there first).
            Conflict: it is in a final state.
        """
        try:
            with self.db.begin() as conn:
                row = lookups.lock(conn, credential_id)
                if row is None or not by.can_view(row.id, row.org_unit_id):
                    raise NotFound("credential", credential_id)
                if expected_version is not None and row.version != expected_version:
                    raise StaleVersion(credential_id, expected_version, row.version)
                vouched = lookups.vouched_data(conn, credential_id)
                if vouched is not None and vouched != data_digest(row.data):  # changed behind the service's back
                    log.warning("credential #%d: its data does not match its history; actions refused", row.id)
                    raise Conflict(f"credential {credential_id}: its information does not match its history (it was "
                                   "changed outside the service); an administrator must check it with "
                                   "`workflow audit verify` before anyone acts on it")
                engine = self.definitions.engine(row.definition_name, row.definition_version)
                if engine.definition.states[row.state].final:
                    raise Conflict(f"credential {credential_id} is {row.state}; it can no longer change")
                act = Action(conn, row, engine, by, History(credential_id, int(row.version), str(row.chain_hash)))
                yield act
                self.write(act)
                if act.queued and self.notifier is not None:
                    history.write_messages(conn, self.notifier.messages(conn, act.queued, engine.definition,
                                                                        act.tree(self.access)))
        except IntegrityError as error:
            if "uq_event_seq" in str(error.orig) or "event.credential_id, event.seq" in str(error.orig):
                raise StaleVersion(credential_id, expected_version or 0) from None
            raise

    def write(self, act: Action) -> None:
        """Store what the action has recorded so far (see :func:`workflow.store.history.write`)."""
        if history.write(act.conn, act.history, act.changes, act.engine, act.row._asdict(), entries=act.all_entries,
                         decisions=act._decisions):
            act.written = True

    def record(self, act: Action, kind: str, *, comment: str = "", trigger: str | None = None,
               from_state: str | None = None, to_state: str | None = None,
               details: dict[str, Any] | None = None) -> int:
        """Add an event to the credential's history (written when the action ends); returns the new version."""
        now = self.clock.now()
        act.history.append(now, act.by.username, kind, trigger=trigger, from_state=from_state, to_state=to_state,
                           comment=comment, details=details or {})
        act.changes["updated_at"] = now
        return act.version

    def facts(self, act: Action, trigger: str | None = None) -> Facts:
        """The engine's facts as the action has left the credential so far."""

        def holders(roles: set[str]) -> dict[str, int]:
            missing = roles - act.holders.keys()
            if missing:
                act.holders.update(self.access.holders(act.conn, missing, act.id, act.row.org_unit_id,
                                                       act.tree(self.access)))
            return {role: act.holders[role] for role in roles}

        return gather(act.engine, state=act.state, rounds=act.rounds, data=act.data,
                      previous=act.value("previous_state"), trigger=trigger, entries=act.entries,
                      decisions=act.decisions, holders=holders,
                      evidence=lambda: lookups.latest_evidence(act.evidence()))

    def move(self, act: Action, outcome: Outcome, *, comment: str, kind: str = "transition",
             extra: dict[str, Any] | None = None) -> Outcome:
        """Carry out a transition the engine allowed: consume the checklist and gate rounds it used, record it,
        keep the timers in step and tell the people concerned."""
        requirements = act.engine.requirements[outcome.index]
        consumed = [item.key for item in requirements.items] + ([outcome.gate] if outcome.gate else [])
        if consumed:
            rounds = act.rounds
            for key in consumed:
                rounds[key] = rounds.get(key, 0) + 1
            act.changes["rounds"] = rounds
        now = self.clock.now()
        act.changes.update(previous_state=outcome.source, state=outcome.dest, state_entered_at=now)
        details = {"gate": outcome.gate} if outcome.gate else {}
        self.record(act, kind, comment=comment, trigger=outcome.trigger, from_state=outcome.source,
                    to_state=outcome.dest, details=details | (extra or {}))
        if _has_timers(act.engine, outcome.source) or _has_timers(act.engine, outcome.dest):
            # (otherwise none can be pending: leaving or entering a state is when they are kept in step)
            planned = plan(act.engine.definition, state=outcome.dest, entered_at=now, data=act.data, now=now,
                           days=self.access.days)
            history.sync_timers(act.conn, act.id, planned, now, f"left '{outcome.source}'")
        if self.notifier is not None:
            self.notify(act, self.notices.state_changed(act.engine.definition, outcome, act.by, comment))
            if outcome.transition.dest != PREVIOUS:  # coming back from hold: the work was announced before
                for notice in self.notices.announce_state(act.engine, act.ref(), self.facts(act), now):
                    self.notify(act, notice, now)
        return outcome

    def notify(self, act: Action, notice: Notice, now: datetime | None = None) -> None:
        """Queue a notice; the action writes its notices to the outbox together when it ends."""
        if self.notifier is not None:
            act.queued.append(Queued(notice, act.ref(), now or self.clock.now()))



def _has_timers(engine: Engine, state: str) -> bool:
    """Whether any timer of the definition can apply while a credential is in ``state``."""
    return any(not timer.state or state in timer.state for timer in engine.definition.timers)
