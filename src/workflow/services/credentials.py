"""The operations people perform on credentials. Each one is a single database transaction.

State, history and everything else an action changes are written together or not at all. Two actions on one
credential never both act on the same old state: the credential row is locked for the action (``BEGIN
IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL), every action bumps the credential's version,
and the history's ``(credential, seq)`` key refuses a second event for the same version.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workflow.clock import Clock
from workflow.engine import Decision, Engine, Facts, Outcome
from workflow.engine.data import check_changes
from workflow.engine.requirements import applies
from workflow.errors import Conflict, InvalidInput, NotFound, StaleVersion, TransitionNotAllowed
from workflow.services.definitions import DefinitionRegistry
from workflow.services.views import CredentialDetail, describe
from workflow.store.database import Database
from workflow.store.tables import ChecklistEntry, Credential, Event, GateDecision

VERDICTS = ("approve", "reject", "request_changes")
MAX_COMMENT = 4000


@dataclass
class _Action:
    session: Session
    credential: Credential
    engine: Engine


class CredentialService:
    """Create credentials, change their data, tick checklist items, record decisions, fire transitions."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, clock: Clock) -> None:
        self._db = database
        self._definitions = definitions
        self._clock = clock

    # -- writes -------------------------------------------------------------------------------------------

    def create(self, *, definition: str, title: str, actor: str, data: Mapping[str, Any] | None = None) -> int:
        """Start a credential in the initial state of the current version of ``definition``; returns its id."""
        engine = self._definitions.engine(definition)
        title = title.strip()
        if not title:
            raise InvalidInput("title", "must not be empty")
        if len(title) > 300:
            raise InvalidInput("title", "is too long (at most 300 characters)")
        values = check_changes(engine.definition, {**(data or {}), "title": title})
        now = self._clock.now()
        version = self._definitions.current_version(definition)
        with self._db.write() as session:
            credential = Credential(
                title=title, definition_name=definition, definition_version=version, state=engine.initial,
                data={k: v for k, v in values.items() if v is not None}, created_by=actor,
                created_at=now, updated_at=now, state_entered_at=now,
            )
            session.add(credential)
            session.flush()
            assert credential.id is not None
            session.add(Event(credential_id=credential.id, seq=1, at=now, actor=actor, kind="created",
                              to_state=engine.initial, details={"data": credential.data}))
            return credential.id

    def update(self, *, credential_id: int, changes: Mapping[str, Any], actor: str,
               expected_version: int | None = None, comment: str = "") -> int:
        """Change fields of the credential's data; returns the new version."""
        with self._action(credential_id, expected_version) as act:
            checked = check_changes(act.engine.definition, changes)
            data = dict(act.credential.data)
            diff = {k: [data.get(k), v] for k, v in checked.items() if data.get(k) != v}
            if not diff:
                return act.credential.version
            for name, value in checked.items():
                if value is None:
                    data.pop(name, None)
                else:
                    data[name] = value
            if "title" in checked:
                if not checked["title"]:
                    raise InvalidInput("title", "must not be empty")
                act.credential.title = checked["title"]
            act.credential.data = data
            return self._record(act, actor, "data", comment=comment, details={"changes": diff})

    def set_item(self, *, credential_id: int, item: str, done: bool, actor: str, note: str = "",
                 expected_version: int | None = None) -> int:
        """Mark a checklist item done (or not done), with an optional note; returns the new version."""
        _check_text("note", note)
        with self._action(credential_id, expected_version) as act:
            spec = act.engine.items.get(item)
            if spec is None:
                raise NotFound("checklist item", item)
            if not applies(spec.when, act.credential.data):
                raise InvalidInput("item", f"'{item}' does not apply to this credential ({dict(spec.when or {})})")
            round_ = act.credential.rounds.get(item, 0)
            entry = act.session.exec(select(ChecklistEntry).where(
                ChecklistEntry.credential_id == credential_id, ChecklistEntry.item_key == item,
                ChecklistEntry.round == round_)).first()
            if entry is not None and entry.done == done and entry.note == note:
                return act.credential.version
            if entry is None:
                entry = ChecklistEntry(credential_id=credential_id, item_key=item, round=round_, actor=actor,
                                       updated_at=self._clock.now())
            entry.done, entry.note, entry.actor, entry.updated_at = done, note, actor, self._clock.now()
            act.session.add(entry)
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
            open_gates = {req.gate_id: req for _, req in act.engine.requirements_from(act.credential.state)
                          if req.gate_id is not None}
            requirements = open_gates.get(gate)
            if requirements is None:
                if gate not in act.engine.definition.gates:
                    raise NotFound("gate", gate)
                raise Conflict(f"gate '{gate}' is not open while the credential is in '{act.credential.state}'")
            roles = [a.role for a in requirements.approvers_for(act.credential.data)]
            if role not in roles:
                raise InvalidInput("role", f"'{role}' does not decide gate '{gate}'; its approvers: {', '.join(roles)}")
            act.session.add(GateDecision(
                credential_id=credential_id, gate=gate, round=act.credential.rounds.get(gate, 0), role=role,
                actor=actor, verdict=verdict, comment=comment, decided_at=self._clock.now()))
            return self._record(act, actor, "decision", comment=comment,
                                details={"gate": gate, "role": role, "verdict": verdict})

    def fire(self, *, credential_id: int, trigger: str, actor: str, comment: str = "",
             expected_version: int | None = None) -> Outcome:
        """Perform a transition if every guard holds; otherwise raise :class:`TransitionNotAllowed`."""
        _check_text("comment", comment)
        with self._action(credential_id, expected_version) as act:
            facts = self._facts(act.session, act.credential)
            try:
                outcome = act.engine.fire(facts, trigger)
            except TransitionNotAllowed as refused:
                raise refused.with_credential(credential_id) from None
            credential = act.credential
            rounds = dict(credential.rounds)
            consumed = [item.key for item in act.engine.requirements[outcome.index].items]
            for key in consumed + ([outcome.gate] if outcome.gate else []):
                rounds[key] = rounds.get(key, 0) + 1
            credential.rounds = rounds
            credential.previous_state, credential.state = outcome.source, outcome.dest
            credential.state_entered_at = self._clock.now()
            self._record(act, actor, "transition", comment=comment, trigger=trigger,
                         from_state=outcome.source, to_state=outcome.dest,
                         details={"gate": outcome.gate} if outcome.gate else {})
            return outcome

    # -- reads --------------------------------------------------------------------------------------------

    def get(self, credential_id: int) -> CredentialDetail:
        """The credential with its checklist, gates and possible transitions (and what each is missing)."""
        with self._db.read() as session:
            credential = session.get(Credential, credential_id)
            if credential is None:
                raise NotFound("credential", credential_id)
            engine = self._definitions.engine(credential.definition_name, credential.definition_version)
            facts = self._facts(session, credential)
            entries = self._current_entries(session, credential)
            return describe(engine, credential, facts, entries)

    def history(self, credential_id: int) -> list[Event]:
        """The credential's history, oldest first."""
        with self._db.read() as session:
            if session.get(Credential, credential_id) is None:
                raise NotFound("credential", credential_id)
            return list(session.exec(select(Event).where(Event.credential_id == credential_id)
                                     .order_by(col(Event.seq))).all())

    def list(self, *, state: str | None = None, limit: int = 50, offset: int = 0) -> list[Credential]:
        """Credentials, newest first, optionally in one state."""
        with self._db.read() as session:
            query = select(Credential).order_by(col(Credential.id).desc()).offset(offset).limit(limit)
            if state is not None:
                query = query.where(Credential.state == state)
            return list(session.exec(query).all())

    # -- internals ----------------------------------------------------------------------------------------

    @contextmanager
    def _action(self, credential_id: int, expected_version: int | None) -> Iterator[_Action]:
        try:
            with self._db.write() as session:
                credential = session.exec(
                    select(Credential).where(Credential.id == credential_id).with_for_update()).first()
                if credential is None:
                    raise NotFound("credential", credential_id)
                if expected_version is not None and credential.version != expected_version:
                    raise StaleVersion(credential_id, expected_version, credential.version)
                if self._is_final(credential):
                    raise Conflict(f"credential {credential_id} is {credential.state}; it can no longer change")
                engine = self._definitions.engine(credential.definition_name, credential.definition_version)
                yield _Action(session, credential, engine)
        except IntegrityError as error:
            if "uq_event_seq" in str(error.orig) or "event.credential_id, event.seq" in str(error.orig):
                raise StaleVersion(credential_id, expected_version or 0) from None
            raise

    def _is_final(self, credential: Credential) -> bool:
        engine = self._definitions.engine(credential.definition_name, credential.definition_version)
        return engine.definition.states[credential.state].final

    def _record(self, act: _Action, actor: str, kind: str, *, comment: str = "", trigger: str | None = None,
                from_state: str | None = None, to_state: str | None = None,
                details: dict[str, Any] | None = None) -> int:
        credential = act.credential
        assert credential.id is not None
        now = self._clock.now()
        credential.version += 1
        credential.updated_at = now
        act.session.add(credential)
        act.session.add(Event(credential_id=credential.id, seq=credential.version, at=now, actor=actor, kind=kind,
                              trigger=trigger, from_state=from_state, to_state=to_state, comment=comment,
                              details=details or {}))
        act.session.flush()
        return credential.version

    def _current_entries(self, session: Session, credential: Credential) -> dict[str, ChecklistEntry]:
        rows = session.exec(select(ChecklistEntry).where(ChecklistEntry.credential_id == credential.id)).all()
        return {row.item_key: row for row in rows if row.round == credential.rounds.get(row.item_key, 0)}

    def _facts(self, session: Session, credential: Credential) -> Facts:
        entries = self._current_entries(session, credential)
        rows = session.exec(select(GateDecision).where(GateDecision.credential_id == credential.id)
                            .order_by(col(GateDecision.id))).all()
        decisions = tuple(
            Decision(row.gate, row.role, row.actor, row.verdict, row.comment)  # type: ignore[arg-type]
            for row in rows if row.round == credential.rounds.get(row.gate, 0)
        )
        return Facts(state=credential.state, data=credential.data,
                     done=frozenset(key for key, entry in entries.items() if entry.done),
                     decisions=decisions, previous_state=credential.previous_state)


def _check_text(field: str, text: str) -> None:
    if len(text) > MAX_COMMENT:
        raise InvalidInput(field, f"is too long (at most {MAX_COMMENT} characters)")
