"""The operations people perform on credentials. Each one is a single database transaction.

State, history and everything else an action changes are written together or not at all. Two actions on one
credential never both act on the same old state: the credential row is locked for the action (``BEGIN
IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL), every action bumps the credential's version
with an update that also checks the version it read, and the history's ``(credential, seq)`` key refuses a
second event for the same version.

The statements are SQLAlchemy Core, built once: on this path ORM objects would cost more than the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BindParameter, Connection, Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from workflow.clock import Clock
from workflow.engine import Decision, Engine, Facts, Outcome
from workflow.engine.data import check_changes
from workflow.engine.requirements import applies
from workflow.errors import Conflict, InvalidInput, NotFound, StaleVersion, TransitionNotAllowed
from workflow.services.definitions import DefinitionRegistry
from workflow.services.views import CredentialDetail, CredentialSummary, HistoryEvent, describe
from workflow.store.database import Database
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, GATE_DECISION

VERDICTS = ("approve", "reject", "request_changes")
MAX_COMMENT = 4000

_CID: BindParameter[int] = bindparam("cid")
_LOCK = select(CREDENTIAL).where(CREDENTIAL.c.id == _CID).with_for_update()
_READ = select(CREDENTIAL).where(CREDENTIAL.c.id == _CID)
_ENTRIES = select(CHECKLIST_ENTRY).where(CHECKLIST_ENTRY.c.credential_id == _CID)
_DECISIONS = (select(GATE_DECISION.c.gate, GATE_DECISION.c.round, GATE_DECISION.c.role, GATE_DECISION.c.actor,
                     GATE_DECISION.c.verdict, GATE_DECISION.c.comment)
              .where(GATE_DECISION.c.credential_id == _CID).order_by(GATE_DECISION.c.id))
# Without .values(): the SET clause is made of whatever columns each call passes.
_BUMP = update(CREDENTIAL).where(CREDENTIAL.c.id == _CID, CREDENTIAL.c.version == bindparam("seen"))
_ENTRY_UPDATE = update(CHECKLIST_ENTRY).where(CHECKLIST_ENTRY.c.id == bindparam("entry_id"))
_HISTORY = select(EVENT).where(EVENT.c.credential_id == _CID).order_by(EVENT.c.seq)


@dataclass
class _Action:
    """One action in progress: the locked credential row as read, and the columns the action changes."""

    conn: Connection
    row: Row[Any]
    engine: Engine
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return int(self.row.id)

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.changes.get("data", self.row.data))

    @property
    def rounds(self) -> dict[str, int]:
        return dict(self.row.rounds)


class CredentialService:
    """Create credentials, change their data, tick checklist items, record decisions, fire transitions."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, clock: Clock) -> None:
        self._db = database
        self._definitions = definitions
        self._clock = clock

    # -- writes -------------------------------------------------------------------------------------------

    def create(self, *, definition: str, title: str, actor: str, data: Mapping[str, Any] | None = None) -> int:
        """Start a credential in the initial state of the current version of ``definition``; returns its id."""
        version = self._definitions.current_version(definition)
        engine = self._definitions.engine(definition, version)
        title = title.strip()
        if not title:
            raise InvalidInput("title", "must not be empty")
        if len(title) > 300:
            raise InvalidInput("title", "is too long (at most 300 characters)")
        values = check_changes(engine.definition, {**(data or {}), "title": title})
        values = {k: v for k, v in values.items() if v is not None}
        now = self._clock.now()
        with self._db.begin() as conn:
            result = conn.execute(insert(CREDENTIAL), {
                "title": title, "definition_name": definition, "definition_version": version,
                "state": engine.initial, "previous_state": None, "data": values, "rounds": {}, "version": 1,
                "created_by": actor, "created_at": now, "updated_at": now, "state_entered_at": now,
            })
            key = result.inserted_primary_key
            assert key is not None
            credential_id = int(key[0])
            conn.execute(insert(EVENT), _event(credential_id, 1, now, actor, "created", to_state=engine.initial,
                                               details={"data": values}))
            return credential_id

    def update(self, *, credential_id: int, changes: Mapping[str, Any], actor: str,
               expected_version: int | None = None, comment: str = "") -> int:
        """Change fields of the credential's data; returns the new version."""
        _check_text("comment", comment)
        with self._action(credential_id, expected_version) as act:
            checked = check_changes(act.engine.definition, changes)
            data = act.data
            diff = {k: [data.get(k), v] for k, v in checked.items() if data.get(k) != v}
            if not diff:
                return int(act.row.version)
            for name, value in checked.items():
                if value is None:
                    data.pop(name, None)
                else:
                    data[name] = value
            if "title" in checked:
                if not checked["title"]:
                    raise InvalidInput("title", "must not be empty")
                act.changes["title"] = checked["title"]
            act.changes["data"] = data
            return self._record(act, actor, "data", comment=comment, details={"changes": diff})

    def set_item(self, *, credential_id: int, item: str, done: bool, actor: str, note: str = "",
                 expected_version: int | None = None) -> int:
        """Mark a checklist item done (or not done), with an optional note; returns the new version."""
        _check_text("note", note)
        with self._action(credential_id, expected_version) as act:
            spec = act.engine.items.get(item)
            if spec is None:
                raise NotFound("checklist item", item)
            if not applies(spec.when, act.data):
                raise InvalidInput("item", f"'{item}' does not apply to this credential ({dict(spec.when or {})})")
            round_ = act.rounds.get(item, 0)
            entry = next((e for e in act.conn.execute(_ENTRIES, {"cid": credential_id})
                          if e.item_key == item and e.round == round_), None)
            if entry is not None and entry.done == done and entry.note == note:
                return int(act.row.version)
            values = {"done": done, "note": note, "actor": actor, "updated_at": self._clock.now()}
            if entry is None:
                act.conn.execute(insert(CHECKLIST_ENTRY), {"credential_id": credential_id, "item_key": item,
                                                           "round": round_, **values})
            else:
                act.conn.execute(_ENTRY_UPDATE, {"entry_id": entry.id, **values})
            return self._record(act, actor, "checklist", comment=note,
                                details={"item": item, "done": done, "owner": spec.owner})

    def decide(self, *, credential_id: int, gate: str, role: str, verdict: str, actor: str, comment: str = "",
               expected_version: int | None = None) -> int:
        """Record a decision on a gate that is open in the credential's current state; returns the new version."""
        if verdict not in VERDICTS:
            raise InvalidInput("decision", f"must be one of {', '.join(VERDICTS)}")
        if verdict != "approve" and not comment.strip():
            raise InvalidInput("comment", f"a comment is required to {verdict.replace('_', ' ')}")
        _check_text("comment", comment)
        with self._action(credential_id, expected_version) as act:
            open_gates = {req.gate_id: req for _, req in act.engine.requirements_from(act.row.state)
                          if req.gate_id is not None}
            requirements = open_gates.get(gate)
            if requirements is None:
                if gate not in act.engine.definition.gates:
                    raise NotFound("gate", gate)
                raise Conflict(f"gate '{gate}' is not open while the credential is in '{act.row.state}'")
            roles = [a.role for a in requirements.approvers_for(act.data)]
            if role not in roles:
                raise InvalidInput("role", f"'{role}' does not decide gate '{gate}'; its approvers: {', '.join(roles)}")
            act.conn.execute(insert(GATE_DECISION), {
                "credential_id": credential_id, "gate": gate, "round": act.rounds.get(gate, 0), "role": role,
                "actor": actor, "verdict": verdict, "comment": comment, "decided_at": self._clock.now()})
            return self._record(act, actor, "decision", comment=comment,
                                details={"gate": gate, "role": role, "verdict": verdict})

    def fire(self, *, credential_id: int, trigger: str, actor: str, comment: str = "",
             expected_version: int | None = None) -> Outcome:
        """Perform a transition if every guard holds; otherwise raise :class:`TransitionNotAllowed`."""
        _check_text("comment", comment)
        with self._action(credential_id, expected_version) as act:
            facts = self._facts(act.conn, act.row, act.engine, trigger)
            try:
                outcome = act.engine.fire(facts, trigger)
            except TransitionNotAllowed as refused:
                raise refused.with_credential(credential_id) from None
            requirements = act.engine.requirements[outcome.index]
            consumed = [item.key for item in requirements.items] + ([outcome.gate] if outcome.gate else [])
            if consumed:
                rounds = act.rounds
                for key in consumed:
                    rounds[key] = rounds.get(key, 0) + 1
                act.changes["rounds"] = rounds
            act.changes.update(previous_state=outcome.source, state=outcome.dest,
                               state_entered_at=self._clock.now())
            self._record(act, actor, "transition", comment=comment, trigger=trigger,
                         from_state=outcome.source, to_state=outcome.dest,
                         details={"gate": outcome.gate} if outcome.gate else {})
            return outcome

    # -- reads --------------------------------------------------------------------------------------------

    def get(self, credential_id: int) -> CredentialDetail:
        """The credential with its checklist, gates and possible transitions (and what each is missing)."""
        with self._db.begin_read() as conn:
            row = conn.execute(_READ, {"cid": credential_id}).first()
            if row is None:
                raise NotFound("credential", credential_id)
            engine = self._definitions.engine(row.definition_name, row.definition_version)
            entries = _current_entries(conn, row)
            return describe(engine, row, self._facts(conn, row, engine, entries=entries), entries)

    def history(self, credential_id: int) -> list[HistoryEvent]:
        """The credential's history, oldest first."""
        with self._db.begin_read() as conn:
            if conn.execute(_READ, {"cid": credential_id}).first() is None:
                raise NotFound("credential", credential_id)
            return [HistoryEvent.from_row(row) for row in conn.execute(_HISTORY, {"cid": credential_id})]

    def list(self, *, state: str | None = None, limit: int = 50, offset: int = 0) -> list[CredentialSummary]:
        """Credentials, newest first, optionally in one state."""
        query = select(CREDENTIAL.c.id, CREDENTIAL.c.title, CREDENTIAL.c.definition_name, CREDENTIAL.c.state,
                       CREDENTIAL.c.version, CREDENTIAL.c.updated_at).order_by(CREDENTIAL.c.id.desc())
        if state is not None:
            query = query.where(CREDENTIAL.c.state == state)
        with self._db.begin_read() as conn:
            rows = conn.execute(query.offset(offset).limit(limit))
            return [CredentialSummary(r.id, r.title, r.definition_name, r.state, r.version, r.updated_at)
                    for r in rows]

    # -- internals ----------------------------------------------------------------------------------------

    @contextmanager
    def _action(self, credential_id: int, expected_version: int | None) -> Iterator[_Action]:
        try:
            with self._db.begin() as conn:
                row = conn.execute(_LOCK, {"cid": credential_id}).first()
                if row is None:
                    raise NotFound("credential", credential_id)
                if expected_version is not None and row.version != expected_version:
                    raise StaleVersion(credential_id, expected_version, row.version)
                engine = self._definitions.engine(row.definition_name, row.definition_version)
                if engine.definition.states[row.state].final:
                    raise Conflict(f"credential {credential_id} is {row.state}; it can no longer change")
                yield _Action(conn, row, engine)
        except IntegrityError as error:
            if "uq_event_seq" in str(error.orig) or "event.credential_id, event.seq" in str(error.orig):
                raise StaleVersion(credential_id, expected_version or 0) from None
            raise

    def _record(self, act: _Action, actor: str, kind: str, *, comment: str = "", trigger: str | None = None,
                from_state: str | None = None, to_state: str | None = None,
                details: dict[str, Any] | None = None) -> int:
        now = self._clock.now()
        version = int(act.row.version) + 1
        result = act.conn.execute(_BUMP, {"cid": act.id, "seen": act.row.version, "version": version,
                                          "updated_at": now, **act.changes})
        if result.rowcount != 1:
            raise StaleVersion(act.id, int(act.row.version))
        act.conn.execute(insert(EVENT), _event(act.id, version, now, actor, kind, trigger=trigger,
                                               from_state=from_state, to_state=to_state, comment=comment,
                                               details=details or {}))
        return version

    def _facts(self, conn: Connection, row: Row[Any], engine: Engine, trigger: str | None = None, *,
               entries: dict[str, Any] | None = None) -> Facts:
        """The engine's facts; checklist and decisions are read only if ``trigger`` (or any, if None) needs them."""
        needs_items, needs_gate = engine.needs(row.state, trigger)
        rounds = row.rounds
        done: frozenset[str] = frozenset()
        if needs_items:
            entries = _current_entries(conn, row) if entries is None else entries
            done = frozenset(key for key, entry in entries.items() if entry.done)
        decisions: tuple[Decision, ...] = ()
        if needs_gate:
            decisions = tuple(Decision(d.gate, d.role, d.actor, d.verdict, d.comment)
                              for d in conn.execute(_DECISIONS, {"cid": row.id})
                              if d.round == rounds.get(d.gate, 0))
        return Facts(state=row.state, data=row.data, done=done, decisions=decisions,
                     previous_state=row.previous_state)


def _current_entries(conn: Connection, row: Row[Any]) -> dict[str, Any]:
    rounds = row.rounds
    return {e.item_key: e for e in conn.execute(_ENTRIES, {"cid": row.id}) if e.round == rounds.get(e.item_key, 0)}


def _event(credential_id: int, seq: int, at: Any, actor: str, kind: str, *, trigger: str | None = None,
           from_state: str | None = None, to_state: str | None = None, comment: str = "",
           details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"credential_id": credential_id, "seq": seq, "at": at, "actor": actor, "kind": kind, "trigger": trigger,
            "from_state": from_state, "to_state": to_state, "comment": comment, "details": details or {}}


def _check_text(field_name: str, text: str) -> None:
    if len(text) > MAX_COMMENT:
        raise InvalidInput(field_name, f"is too long (at most {MAX_COMMENT} characters)")
