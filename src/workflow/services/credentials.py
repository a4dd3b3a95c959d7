"""The operations people perform on credentials. Each one is a single database transaction.

State, history and everything else an action changes are written together or not at all. Two actions on one
credential never both act on the same old state: the credential row is locked for the action (``BEGIN
IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL), every action bumps the credential's version
with an update that also checks the version it read, and the history's ``(credential, seq)`` key refuses a
second event for the same version.

Every operation is told who acts (a :class:`Caller`) and checks that they belong: a credential the caller has no
role on is "not found"; one they see but may not change this way is "forbidden".

The statements are SQLAlchemy Core, built once: on this path ORM objects would cost more than the database.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Connection, Row, and_, bindparam, exists, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from workflow.audit import chain_rows
from workflow.clock import Clock
from workflow.definitions.model import PREVIOUS, Approver
from workflow.definitions.validate import did_you_mean
from workflow.engine import Decision, Engine, Facts, Outcome
from workflow.engine.data import check_changes, check_plain_text
from workflow.engine.requirements import Requirements, applies
from workflow.engine.timers import depends_on, parse_duration, plan
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion, TransitionNotAllowed
from workflow.notify.calendar import CalendarEntry
from workflow.notify.outbox import CredentialRef, Notice, Notifier, Queued
from workflow.services.access import ASSIGNMENT, ORG_UNIT, USER, AccessService, Caller, Grant, OrgTree
from workflow.services.definitions import DefinitionRegistry
from workflow.services.timers import sync_timers
from workflow.services.views import CredentialDetail, CredentialSummary, HistoryEvent, describe
from workflow.store.database import Database
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, GATE_DECISION, GENESIS, TIMER

VERDICTS = ("approve", "reject", "request_changes")
GATHER_STATE = 10_000  # lists of one state with at most this many rows are gathered before being sorted
MAX_COMMENT = 4000
MAX_PAGE = 200

_CID: BindParameter[int] = bindparam("cid")
_LOCK = select(CREDENTIAL).where(CREDENTIAL.c.id == _CID).with_for_update()
_READ = select(CREDENTIAL).where(CREDENTIAL.c.id == _CID)
_ENTRIES = select(CHECKLIST_ENTRY).where(CHECKLIST_ENTRY.c.credential_id == _CID)
_DECISIONS = (select(GATE_DECISION.c.gate, GATE_DECISION.c.round, GATE_DECISION.c.role, GATE_DECISION.c.actor,
                     GATE_DECISION.c.principal, GATE_DECISION.c.verdict, GATE_DECISION.c.comment,
                     GATE_DECISION.c.seen)
              .where(GATE_DECISION.c.credential_id == _CID).order_by(GATE_DECISION.c.id))
# Without .values(): the SET clause is made of whatever columns each call passes.
_BUMP = (update(CREDENTIAL).where(CREDENTIAL.c.id == _CID, CREDENTIAL.c.version == bindparam("seen"))
         .returning(*CREDENTIAL.c))
_HEAD = update(CREDENTIAL).where(CREDENTIAL.c.id == _CID)
_ENTRY_UPDATE = update(CHECKLIST_ENTRY).where(CHECKLIST_ENTRY.c.id == bindparam("entry_id"))
_NEXT_TIMERS = (select(TIMER.c.key, TIMER.c.timer, TIMER.c.action, TIMER.c.due_at, TIMER.c.state, TIMER.c.trigger)
                .where(TIMER.c.credential_id == _CID, TIMER.c.status == "pending").order_by(TIMER.c.due_at))
_HISTORY = select(EVENT).where(EVENT.c.credential_id == _CID).order_by(EVENT.c.seq)
# Inboxes and task lists read the checklist entries and decisions of a page of credentials at once.
CANDIDATE_PAGE, MAX_CANDIDATE_PAGE = 20, 800  # the first page is as long as the list asked for
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_PAGE_CREDENTIALS = select(CREDENTIAL).where(CREDENTIAL.c.id.in_(_IDS))
_PAGE_ENTRIES = select(CHECKLIST_ENTRY).where(CHECKLIST_ENTRY.c.credential_id.in_(_IDS))
_PAGE_SOME_ENTRIES = _PAGE_ENTRIES.where(CHECKLIST_ENTRY.c.item_key.in_(bindparam("keys", expanding=True)))
_PAGE_DECISIONS = (select(GATE_DECISION.c.credential_id, GATE_DECISION.c.gate, GATE_DECISION.c.round,
                          GATE_DECISION.c.role, GATE_DECISION.c.actor, GATE_DECISION.c.principal,
                          GATE_DECISION.c.verdict, GATE_DECISION.c.comment, GATE_DECISION.c.seen)
                   .where(GATE_DECISION.c.credential_id.in_(_IDS))
                   .order_by(GATE_DECISION.c.credential_id, GATE_DECISION.c.id))


@dataclass
class _Action:
    """One action in progress: the locked credential row as read, and the columns the action changes.

    It also keeps what the action has read once — checklist entries, gate decisions (with those the action
    adds), role holders, the org tree — and what it writes together: its history events and the credential's
    new columns (one update however many events), then the notices for the outbox.
    """

    conn: Connection
    row: Row[Any]
    engine: Engine
    by: Caller
    version: int
    changes: dict[str, Any] = field(default_factory=dict)
    latest: Row[Any] | None = None  # the row as the last update of this action left it
    events: list[dict[str, Any]] = field(default_factory=list)  # recorded, not yet written
    queued: list[Queued] = field(default_factory=list)
    holders: dict[str, int] = field(default_factory=dict)
    _tree: OrgTree | None = None
    _entries: list[Any] | None = None
    _decisions: list[Any] | None = None

    @property
    def id(self) -> int:
        return int(self.row.id)

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

    def tree(self, access: AccessService) -> OrgTree:
        """The org tree, read once per action."""
        if self._tree is None:
            self._tree = access.tree(self.conn)
        return self._tree

    def entries(self) -> dict[str, Any]:
        """The checklist entries of the current rounds (all rounds are read once per action)."""
        if self._entries is None:
            self._entries = list(self.conn.execute(_ENTRIES, {"cid": self.id}))
        rounds = self.rounds
        return {e.item_key: e for e in self._entries if e.round == rounds.get(e.item_key, 0)}

    def decisions(self) -> list[Any]:
        """Every gate decision on the credential, oldest first: read once per action, then kept up to date."""
        if self._decisions is None:
            self._decisions = list(self.conn.execute(_DECISIONS, {"cid": self.id}))
        return self._decisions

    def decided(self, values: Mapping[str, Any]) -> None:
        """Keep a decision this action has just stored."""
        if self._decisions is not None:
            self._decisions.append(_Decided(values["gate"], values["round"], values["role"], values["actor"],
                                            values["principal"], values["verdict"], values["comment"],
                                            values["seen"]))


@dataclass(frozen=True)
class _Decided:
    """A decision as stored (the columns ``_DECISIONS`` reads)."""

    gate: str
    round: int
    role: str
    actor: str
    principal: str
    verdict: str
    comment: str
    seen: Any


@dataclass(frozen=True)
class DecisionResult:
    """A recorded decision, and the transition it completed, if it did."""

    version: int
    principal: str
    role: str
    fired: Outcome | None = None
    detail: CredentialDetail | None = None  # the credential as the decision left it, when asked for


class CredentialService:
    """Create credentials, change their data, tick checklist items, record decisions, fire transitions."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, access: AccessService,
                 clock: Clock, notifier: Notifier | None = None) -> None:
        self._db = database
        self._definitions = definitions
        self._access = access
        self._clock = clock
        self._notifier = notifier

    # -- writes -------------------------------------------------------------------------------------------

    def create(self, *, definition: str, title: str, by: Caller, org_unit_id: int | None = None,
               data: Mapping[str, Any] | None = None) -> int:
        """Start a credential in the initial state of the current version of ``definition``; returns its id."""
        try:
            version = self._definitions.current_version(definition)
        except NotFound:
            raise InvalidInput("definition", f"no definition named '{definition}'"
                                             f"{did_you_mean(definition, self._definitions.names())}") from None
        engine = self._definitions.engine(definition, version)
        if org_unit_id is None and not by.is_system:
            raise InvalidInput("org_unit", "say which faculty or department the credential belongs to")
        creators = engine.definition.permissions.create
        if not by.is_system and not set(creators) & by.roles_on(None, org_unit_id):
            raise Forbidden(f"starting a credential here needs one of the roles {', '.join(creators)} "
                            "in this org unit or above it")
        title = title.strip()
        check_plain_text("title", title)
        if not title:
            raise InvalidInput("title", "must not be empty")
        if len(title) > 300:
            raise InvalidInput("title", "is too long (at most 300 characters)")
        # The title is also a data field where the definition has one (the critical information summary does).
        titled = {**(data or {}), "title": title} if "title" in engine.definition.fields else dict(data or {})
        values = check_changes(engine.definition, titled)
        values = {k: v for k, v in values.items() if v is not None}
        now = self._clock.now()
        with self._db.begin() as conn:
            if org_unit_id is not None and conn.execute(
                    select(ORG_UNIT.c.id).where(ORG_UNIT.c.id == org_unit_id)).first() is None:
                raise NotFound("org unit", org_unit_id)
            result = conn.execute(insert(CREDENTIAL), {
                "title": title, "definition_name": definition, "definition_version": version,
                "state": engine.initial, "previous_state": None, "data": values, "rounds": {}, "version": 1,
                "org_unit_id": org_unit_id, "created_by": by.username, "created_at": now, "updated_at": now,
                "state_entered_at": now,
            })
            key = result.inserted_primary_key
            assert key is not None
            credential_id = int(key[0])
            created = _event(credential_id, 1, now, by.username, "created", to_state=engine.initial,
                             details={"data": values})
            head = chain_rows(GENESIS, [created])
            conn.execute(insert(EVENT), created)
            conn.execute(_HEAD, {"cid": credential_id, "chain_seq": head.seq, "chain_hash": head.hash})
            sync_timers(conn, credential_id, plan(engine.definition, state=engine.initial, entered_at=now,
                                                  data=values, now=now), now, "created")
            if self._notifier is not None:
                ref = CredentialRef(credential_id, title, engine.initial, org_unit_id)
                notices = self._announce_state(engine, ref, Facts(state=engine.initial, data=values), now)
                self._notifier.enqueue_all(conn, [Queued(n, ref, now) for n in notices], engine.definition,
                                           self._access.tree(conn))
            return credential_id

    def update(self, *, credential_id: int, changes: Mapping[str, Any], by: Caller,
               expected_version: int | None = None, comment: str = "") -> int:
        """Change fields of the credential's data; returns the new version."""
        _check_text("comment", comment)
        with self._action(credential_id, expected_version, by) as act:
            _require(act, act.engine.definition.permissions.edit, "changing its data")
            checked = check_changes(act.engine.definition, changes)
            data = act.data
            diff = {k: [data.get(k), v] for k, v in checked.items() if data.get(k) != v}
            if not diff:
                return act.version
            for name, value in checked.items():
                if value is None:
                    data.pop(name, None)
                else:
                    data[name] = value
            if "title" in checked:
                title = (checked["title"] or "").strip()
                if not title or len(title) > 300:
                    raise InvalidInput("title", "must be 1 to 300 characters")
                data["title"] = act.changes["title"] = title
            act.changes["data"] = data
            version = self._record(act, "data", comment=comment, details={"changes": diff})
            if set(diff) & depends_on(act.engine.definition):
                now = self._clock.now()
                sync_timers(act.conn, act.id, plan(act.engine.definition, state=act.state,
                                                   entered_at=act.row.state_entered_at, data=data, now=now),
                            now, f"{', '.join(sorted(set(diff) & depends_on(act.engine.definition)))} changed")
            return version

    def set_item(self, *, credential_id: int, item: str, done: bool, by: Caller, note: str = "",
                 expected_version: int | None = None) -> int:
        """Mark a checklist item done (or not done), with an optional note; returns the new version."""
        _check_text("note", note)
        with self._action(credential_id, expected_version, by) as act:
            spec = act.engine.items.get(item)
            if spec is None:
                raise NotFound("checklist item", item)
            _require(act, [spec.owner], f"ticking '{item}'")
            if not applies(spec.when, act.data):
                raise InvalidInput("item", f"'{item}' does not apply to this credential ({dict(spec.when or {})})")
            round_ = act.rounds.get(item, 0)
            entry = next((e for e in act.conn.execute(_ENTRIES, {"cid": credential_id})
                          if e.item_key == item and e.round == round_), None)
            if entry is not None and entry.done == done and entry.note == note:
                return act.version
            values = {"done": done, "note": note, "actor": by.username, "updated_at": self._clock.now()}
            if entry is None:
                act.conn.execute(insert(CHECKLIST_ENTRY), {"credential_id": credential_id, "item_key": item,
                                                           "round": round_, **values})
            else:
                act.conn.execute(_ENTRY_UPDATE, {"entry_id": entry.id, **values})
            return self._record(act, "checklist", comment=note,
                                details={"item": item, "done": done, "owner": spec.owner})

    def decide(self, *, credential_id: int, gate: str, verdict: str, by: Caller, comment: str = "",
               role: str | None = None, on_behalf_of: str | None = None,
               expected_version: int | None = None, with_detail: bool = False) -> DecisionResult:
        """Record a decision on a gate open in the credential's current state.

        The caller decides in one of the gate's approver roles, their own or one delegated to them (``role`` and
        ``on_behalf_of`` choose when there is more than one). An approval that completes the gate — and leaves
        nothing else missing — performs the gate's transition in the same transaction. ``with_detail`` adds the
        credential as the decision left it (what :meth:`get` would answer next).
        """
        if verdict not in VERDICTS:
            raise InvalidInput("decision", f"must be one of {', '.join(VERDICTS)}")
        if verdict != "approve" and not comment.strip():
            raise InvalidInput("comment", f"a comment is required to {verdict.replace('_', ' ')}")
        _check_text("comment", comment)
        with self._action(credential_id, expected_version, by) as act:
            trigger, requirements = self._open_gate(act, gate)
            facts = self._facts(act.conn, act, act.engine)
            approver, grant_principal = _choose_role(act, requirements, facts, role, on_behalf_of)
            principal = grant_principal
            gate_spec = requirements.gate
            assert gate_spec is not None
            if verdict == "approve":
                if not gate_spec.allow_self_approval and act.row.created_by in (principal, by.username):
                    raise Forbidden(f"{act.row.created_by} proposed this credential; gate '{gate}' does not accept "
                                    "its proposer's approval, in their own name or as anyone's delegate")
                stage = requirements.open_stage(facts)
                if stage is not None and approver.stage > stage:
                    waiting = sorted({a.role for a, have, need in requirements.tally(facts)
                                      if a.stage == stage and have < need})
                    raise Conflict(f"'{approver.role}' approves at stage {approver.stage}; stage {stage} "
                                   f"({', '.join(waiting)}) must approve first")
                valid, _ = requirements.standing(facts)
                people = {principal, by.username}
                if any(d.verdict == "approve" and ({d.who, d.actor} & people) for d in valid):
                    raise Conflict(f"{by.username} has already approved gate '{gate}' (in their own name or as a "
                                   "delegate); one person gives one approval")
            decision = {
                "credential_id": credential_id, "gate": gate, "round": act.rounds.get(gate, 0),
                "role": approver.role, "actor": by.username, "principal": principal, "verdict": verdict,
                "comment": comment, "seen": requirements.snapshot(facts), "decided_at": self._clock.now()}
            act.conn.execute(insert(GATE_DECISION), decision)
            act.decided(decision)
            details = {"gate": gate, "role": approver.role, "verdict": verdict}
            if principal != by.username:
                details["on_behalf_of"] = principal
            version = self._record(act, "decision", comment=comment, details=details)
            self._notify(act, Notice("decided", act.engine.definition.notify.decided, {
                "gate_title": gate_spec.title, "decided_by": by.display_name, "comment": comment,
                "verdict_text": {"approve": "approved", "reject": "rejected",
                                 "request_changes": "asked for changes to"}[verdict],
                "on_behalf_of": principal if principal != by.username else None}))
            fired = None
            if verdict == "approve":
                after = self._facts(act.conn, act, act.engine, trigger)
                if not requirements.unmet(after):
                    fired = self._move(act, act.engine.fire(after, trigger), comment=f"{gate_spec.title} approved")
                    version = act.version
                elif (requirements.open_stage(after) or 0) > (requirements.open_stage(facts) or 0):
                    now = self._clock.now()
                    for notice in self._ask_for_decisions(act.engine, self._ref(act), after, now,
                                                          only=(trigger, requirements)):
                        self._notify(act, notice, now)
            parts = self._detail_parts(act) if with_detail else None
        detail = describe(*parts) if parts is not None else None  # built once the credential is unlocked
        return DecisionResult(version, principal, approver.role, fired, detail)

    def fire(self, *, credential_id: int, trigger: str, by: Caller, comment: str = "",
             expected_version: int | None = None) -> Outcome:
        """Perform a transition if every guard holds; otherwise raise :class:`TransitionNotAllowed`."""
        _check_text("comment", comment)
        with self._action(credential_id, expected_version, by) as act:
            facts = self._facts(act.conn, act.row, act.engine, trigger)
            try:
                outcome = act.engine.fire(facts, trigger)
            except TransitionNotAllowed as refused:
                raise refused.with_credential(credential_id) from None
            transition = outcome.transition
            _require(act, transition.by or act.engine.definition.permissions.edit, f"'{trigger}'")
            return self._move(act, outcome, comment=comment)

    def override(self, *, credential_id: int, trigger: str, comment: str, by: Caller,
                 expected_version: int | None = None) -> Outcome:
        """An administrator moves a credential past unmet guards: explicit, commented and kept in the history."""
        if not by.is_admin:
            raise Forbidden("only an administrator may override a transition's guards")
        if len(comment.strip()) < 10:
            raise InvalidInput("comment", "an override needs a comment saying why (at least 10 characters)")
        _check_text("comment", comment)
        with self._action(credential_id, expected_version, by) as act:
            facts = self._facts(act.conn, act.row, act.engine, trigger)
            try:
                outcome = act.engine.force(facts, trigger)
            except TransitionNotAllowed as refused:
                raise refused.with_credential(credential_id) from None
            skipped = [str(u) for u in act.engine.requirements[outcome.index].unmet(facts)]
            return self._move(act, outcome, comment=comment, kind="override", extra={"skipped": skipped})

    def comment(self, *, credential_id: int, gate: str, text: str, by: Caller) -> int:
        """Add to a gate's discussion (anyone who can see the credential may); returns the new version."""
        text = text.strip()
        if not text:
            raise InvalidInput("comment", "write the comment before posting it")
        _check_text("comment", text)
        with self._action(credential_id, None, by) as act:
            if gate not in act.engine.definition.gates:
                raise NotFound("gate", gate)
            return self._record(act, "comment", comment=text, details={"gate": gate})

    def add_team_member(self, *, credential_id: int, user_id: int, role: str, by: Caller) -> int:
        """Give someone a role on this credential alone (its design team); kept in the credential's history."""
        with self._action(credential_id, None, by) as act:
            if not by.is_admin:
                _require(act, act.engine.definition.permissions.edit, "changing the team")
            if role not in act.engine.definition.roles:
                raise InvalidInput("role", f"unknown role '{role}'{did_you_mean(role, act.engine.definition.roles)}")
            approvers = {a.role for gate in act.engine.definition.gates.values() for a in gate.approvers}
            if not by.is_admin:
                if role in approvers:
                    raise Forbidden(f"'{role}' decides gates; only an administrator may give it, so that a "
                                    "credential's team never picks its own approvers")
                if act.engine.definition.roles[role].kind != "person":
                    raise Forbidden(f"'{role}' is a department's or committee's role; only an administrator may "
                                    "give it")
                if user_id == by.user_id:
                    raise Forbidden("you cannot give yourself a role; ask a colleague or an administrator")
            user = act.conn.execute(select(USER.c.username, USER.c.active).where(USER.c.id == user_id)).first()
            if user is None or not user.active:
                raise NotFound("user", user_id)
            exists = act.conn.execute(select(ASSIGNMENT.c.id).where(
                ASSIGNMENT.c.user_id == user_id, ASSIGNMENT.c.role == role,
                ASSIGNMENT.c.credential_id == credential_id)).first()
            if exists is not None:
                return act.version
            act.conn.execute(insert(ASSIGNMENT), {"user_id": user_id, "role": role, "org_unit_id": None,
                                                  "credential_id": credential_id})
            return self._record(act, "team", details={"added": user.username, "role": role})

    def run_timer(self, timer_id: int, owner: str) -> str:
        """Carry out a claimed timer, once: fire its transition or record its reminder, escalation or warning
        in the credential's history, and mark it done — all in one transaction. Returns what happened."""
        with self._db.begin_read() as conn:
            found = conn.execute(select(TIMER.c.credential_id, TIMER.c.timer).where(TIMER.c.id == timer_id)).first()
        if found is None:
            return "gone"
        caller = Caller.system(f"timer:{found.timer}")
        try:
            with self._action(found.credential_id, None, caller) as act:
                timer = act.conn.execute(select(TIMER).where(TIMER.c.id == timer_id).with_for_update()).one()
                if timer.status != "running" or timer.lease_owner != owner:
                    return "already handled"
                now = self._clock.now()
                outcome = self._carry_out(act, timer)
                act.conn.execute(update(TIMER).where(TIMER.c.id == timer_id).values(
                    status="cancelled" if outcome.startswith("cancelled") else "done", outcome=outcome, fired_at=now))
                return outcome
        except Conflict as error:  # the credential reached a final state: nothing is left to do
            with self._db.begin() as conn:
                conn.execute(update(TIMER).where(TIMER.c.id == timer_id, TIMER.c.lease_owner == owner)
                             .values(status="cancelled", outcome=f"cancelled: {error}", fired_at=self._clock.now()))
            return f"cancelled: {error}"

    def _carry_out(self, act: _Action, timer: Row[Any]) -> str:
        spec = next((t for t in act.engine.definition.timers if t.key == timer.timer), None)
        title = spec.title if spec is not None and spec.title else timer.timer
        if timer.state is not None and act.state != timer.state:
            return f"cancelled: the credential left '{timer.state}'"
        details = {"timer": timer.key, "due_at": timer.due_at.isoformat()}
        if timer.action == "fire":
            facts = self._facts(act.conn, act, act.engine, timer.trigger)
            try:
                outcome = act.engine.fire(facts, timer.trigger)
            except TransitionNotAllowed as refused:
                self._record(act, "timer", comment=title, trigger=timer.trigger,
                             details=details | {"refused": [str(u) for u in refused.unmet] or [str(refused)]})
                return f"refused: {refused}"
            self._move(act, outcome, comment=title, extra=details)
            return f"fired {timer.trigger}: {outcome.source} → {outcome.dest}"
        kind = {"remind": "reminder", "escalate": "escalation", "warn": "warning"}[timer.action]
        self._record(act, kind, comment=title, details=details | {"notify": list(timer.notify)})
        if self._notifier is not None:
            facts = self._facts(act.conn, act, act.engine)
            missing = [str(u) for _, req in act.engine.requirements_from(act.state) if req.gate or req.items
                       for u in req.unmet(facts)]
            target = timer.due_at + parse_duration(timer.key.split("@", 1)[1]) if "@" in timer.key else timer.due_at
            entries = [CalendarEntry(f"{timer.timer}-{act.id}-{target:%Y%m%d}@{self._notifier.mail_domain}",
                                     f"{title} — {act.value('title')}", target,
                                     url=self._notifier.link(act.id))] if kind == "warning" else []
            self._notify(act, Notice(kind, list(timer.notify), {
                "timer_title": title, "state_title": act.engine.definition.states[act.state].title,
                "since": f"{act.row.state_entered_at:%Y-%m-%d}", "missing": missing,
                "due": f"{target:%Y-%m-%d}", "days_left": max(0, (target - self._clock.now()).days)},
                entries=entries))
        return f"{kind} to {', '.join(timer.notify)}"

    # -- notifications ---------------------------------------------------------------------------------------

    def _ref(self, act: _Action) -> CredentialRef:
        return CredentialRef(act.id, str(act.value("title")), act.state, act.row.org_unit_id)

    def _notify(self, act: _Action, notice: Notice, now: datetime | None = None) -> None:
        """Queue a notice; the action writes its notices to the outbox together when it ends."""
        if self._notifier is not None:
            act.queued.append(Queued(notice, self._ref(act), now or self._clock.now()))

    def _announce_state(self, engine: Engine, ref: CredentialRef, facts: Facts, now: datetime) -> list[Notice]:
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
                    due = (now + timedelta(days=item.due_days)).date() if item.due_days else None
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
            notices += self._ask_for_decisions(engine, ref, facts, now)
        return notices

    def _ask_for_decisions(self, engine: Engine, ref: CredentialRef, facts: Facts, now: datetime,
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
            due = (now + timedelta(days=gate.due_days)).date() if gate.due_days else None
            entries = [CalendarEntry(f"gate-{ref.id}-{requirements.gate_id}-{now:%Y%m%d}@{notifier.mail_domain}",
                                     f"Decision due: {gate.title} — {ref.title}", due, url=notifier.link(ref.id))
                       ] if due else []
            items = requirements.items_for(facts.data)
            notices.append(Notice("decision_needed", roles, {
                "gate": requirements.gate_id, "gate_title": gate.title, "due": due.isoformat() if due else None,
                "state_title": engine.definition.states[ref.state].title,
                "checklist_done": sum(1 for i in items if i.key in facts.done), "checklist_total": len(items),
                "missing": [str(u) for u in requirements.unmet(facts) if u.kind != "approval"]},
                entries=entries, delegates=True))
        return notices

    # -- reads --------------------------------------------------------------------------------------------

    def get(self, credential_id: int, *, by: Caller) -> CredentialDetail:
        """The credential with its checklist, gates and possible transitions (and what each is missing)."""
        with self._db.begin_read() as conn:
            row = conn.execute(_READ, {"cid": credential_id}).first()
            if row is None or not by.can_view(row.id, row.org_unit_id):
                raise NotFound("credential", credential_id)
            engine = self._definitions.engine(row.definition_name, row.definition_version)
            entries = _current_entries(conn, row)
            timers = _next_timers(conn, credential_id)
            return describe(engine, row, self._facts(conn, row, engine, entries=entries), entries, timers)

    def _detail_parts(self, act: _Action) -> tuple[Engine, Row[Any], Facts, dict[str, Any], list[dict[str, Any]]]:
        """What :func:`describe` needs to show the credential as this action leaves it (read in the action, once
        what it recorded is written)."""
        _write(act)
        row = act.latest if act.latest is not None else act.row
        return act.engine, row, self._facts(act.conn, act, act.engine), act.entries(), _next_timers(act.conn, act.id)

    def history(self, credential_id: int, *, by: Caller) -> list[HistoryEvent]:
        """The credential's history, oldest first."""
        with self._db.begin_read() as conn:
            row = conn.execute(_READ, {"cid": credential_id}).first()
            if row is None or not by.can_view(row.id, row.org_unit_id):
                raise NotFound("credential", credential_id)
            return [HistoryEvent.from_row(event) for event in conn.execute(_HISTORY, {"cid": credential_id})]

    def search(self, *, by: Caller, state: str | None = None, org_unit_id: int | None = None,
               overdue: bool = False, limit: int = 50, offset: int = 0, states: Collection[str] | None = None,
               due_within_days: int | None = None) -> tuple[list[CredentialSummary], int]:
        """Credentials the caller may see, newest first: one page and the total count. ``states`` keeps those in
        any of them; ``due_within_days`` those a timer will move (renewal review, expiry) within that many days."""
        limit = max(1, min(limit, MAX_PAGE))
        conditions = [self.visible_clause(by)]
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

    def approvals_waiting(self, *, by: Caller, limit: int = 50) -> list[dict[str, Any]]:
        """Gates waiting for the caller's decision (in their own roles or as a delegate), oldest first."""
        roles = {g.role for g in by.grants}  # only states where one of these decides a gate can hold work
        gated = self._states_with(lambda req: req.gate is not None and any(a.role in roles
                                                                          for a in req.gate.approvers))
        found: list[dict[str, Any]] = []
        with self._db.begin_read() as conn:
            for row, entries, decisions in self._candidate_pages(conn, by, gated, limit, decisions=True):
                engine = self._definitions.engine(row.definition_name, row.definition_version)
                grants = by.grants_on(row.id, row.org_unit_id)
                facts = self._facts(conn, row, engine, entries=entries, decisions=decisions)
                for trigger, requirements in engine.requirements_from(row.state):
                    if requirements.gate is None:
                        continue
                    stage = requirements.open_stage(facts)
                    valid, _ = requirements.standing(facts)
                    approved = {d.who for d in valid if d.verdict == "approve"}
                    for approver, have, need in requirements.tally(facts):
                        if have >= need or (stage is not None and approver.stage > stage):
                            continue
                        for grant in grants:
                            if grant.role != approver.role or grant.principal in approved:
                                continue
                            done = [i for i in requirements.items_for(facts.data) if i.key in facts.done]
                            found.append({
                                "credential_id": row.id, "title": row.title, "state": row.state,
                                "definition": row.definition_name, "definition_version": row.definition_version,
                                "gate": requirements.gate_id, "gate_title": requirements.gate.title,
                                "trigger": trigger, "role": approver.role, "stage": approver.stage,
                                "on_behalf_of": grant.principal if grant.delegated else None,
                                "checklist_done": len(done),
                                "checklist_total": len(requirements.items_for(facts.data)),
                                "missing": [str(u) for u in requirements.unmet(facts)],
                                "waiting_since": row.state_entered_at,
                            })
                            approved.add(grant.principal)
                if len(found) >= limit:
                    break
        return found[:limit]

    def tasks(self, *, by: Caller, limit: int = 100) -> list[dict[str, Any]]:
        """Checklist items the caller's own roles owe on the credentials they can see."""
        own = {g.role for g in by.grants if not g.delegated}  # only states with items these own can hold work
        with_items = self._states_with(lambda req: any(item.owner in own for item in req.items))
        owned = {item.key for name in self._definitions.names()
                 for item in self._definitions.engine(name).items.values() if item.owner in own}
        found: list[dict[str, Any]] = []
        with self._db.begin_read() as conn:
            for row, entries, _ in self._candidate_pages(conn, by, with_items, limit, decisions=False,
                                                              items=owned):
                engine = self._definitions.engine(row.definition_name, row.definition_version)
                roles = by.roles_on(row.id, row.org_unit_id)
                for trigger, requirements in engine.requirements_from(row.state):
                    for item in requirements.items_for(row.data):
                        entry = entries.get(item.key)
                        if item.owner in roles and not (entry and entry.done):
                            found.append({"credential_id": row.id, "title": row.title, "state": row.state,
                                          "trigger": trigger, "item": item.key, "item_title": item.title,
                                          "owner": item.owner, "waiting_since": row.state_entered_at,
                                          "due_at": _due(engine, row, requirements, item.due_days),
                                          "note": entry.note if entry else "", "version": row.version})
                if len(found) >= limit:
                    break
        return found[:limit]

    def calendar(self, *, by: Caller, link: Callable[[int], str], domain: str) -> list[CalendarEntry]:
        """The caller's dates: gates waiting for their decision, planned ends of phases, reviews and expiries."""
        entries: list[CalendarEntry] = []
        for waiting in self.approvals_waiting(by=by, limit=200):
            engine = self._definitions.engine(waiting["definition"], waiting["definition_version"])
            gate = engine.definition.gates[waiting["gate"]]
            if gate.due_days:
                entries.append(CalendarEntry(
                    f"gate-{waiting['credential_id']}-{waiting['gate']}@{domain}",
                    f"Decision due: {gate.title} — {waiting['title']}",
                    waiting["waiting_since"] + timedelta(days=gate.due_days), url=link(waiting["credential_id"])))
        rows, _ = self.search(by=by, limit=MAX_PAGE)
        for row in rows:
            engine = self._definitions.engine(row.definition)
            state = engine.definition.states.get(row.state)
            if state is not None and state.planned_days and row.state_entered_at is not None:
                entries.append(CalendarEntry(
                    f"milestone-{row.id}-{row.state}@{domain}",
                    f"Milestone: {state.title} planned to end — {row.title}",
                    row.state_entered_at + timedelta(days=state.planned_days), url=link(row.id)))
        with self._db.begin_read() as conn:
            timers = conn.execute(select(TIMER.c.credential_id, TIMER.c.timer, TIMER.c.due_at, CREDENTIAL.c.title)
                                  .join(CREDENTIAL, CREDENTIAL.c.id == TIMER.c.credential_id)
                                  .where(TIMER.c.status == "pending", TIMER.c.action == "fire",
                                         self.visible_clause(by)).order_by(TIMER.c.due_at).limit(500)).all()
        for t in timers:
            entries.append(CalendarEntry(f"timer-{t.credential_id}-{t.timer}@{domain}",
                                         f"{t.timer.replace('_', ' ').capitalize()} — {t.title}", t.due_at,
                                         url=link(t.credential_id)))
        return entries

    # -- internals ----------------------------------------------------------------------------------------

    @contextmanager
    def _action(self, credential_id: int, expected_version: int | None, by: Caller) -> Iterator[_Action]:
        try:
            with self._db.begin() as conn:
                row = conn.execute(_LOCK, {"cid": credential_id}).first()
                if row is None or not by.can_view(row.id, row.org_unit_id):
                    raise NotFound("credential", credential_id)
                if expected_version is not None and row.version != expected_version:
                    raise StaleVersion(credential_id, expected_version, row.version)
                engine = self._definitions.engine(row.definition_name, row.definition_version)
                if engine.definition.states[row.state].final:
                    raise Conflict(f"credential {credential_id} is {row.state}; it can no longer change")
                act = _Action(conn, row, engine, by, int(row.version))
                yield act
                _write(act)
                if act.queued and self._notifier is not None:
                    self._notifier.enqueue_all(conn, act.queued, engine.definition, act.tree(self._access))
        except IntegrityError as error:
            if "uq_event_seq" in str(error.orig) or "event.credential_id, event.seq" in str(error.orig):
                raise StaleVersion(credential_id, expected_version or 0) from None
            raise

    def _open_gate(self, act: _Action, gate: str) -> tuple[str, Requirements]:
        for trigger, requirements in act.engine.requirements_from(act.state):
            if requirements.gate_id == gate:
                return trigger, requirements
        if gate not in act.engine.definition.gates:
            raise NotFound("gate", gate)
        raise Conflict(f"gate '{gate}' is not open while the credential is in '{act.state}'")

    def _move(self, act: _Action, outcome: Outcome, *, comment: str, kind: str = "transition",
              extra: dict[str, Any] | None = None) -> Outcome:
        requirements = act.engine.requirements[outcome.index]
        consumed = [item.key for item in requirements.items] + ([outcome.gate] if outcome.gate else [])
        if consumed:
            rounds = act.rounds
            for key in consumed:
                rounds[key] = rounds.get(key, 0) + 1
            act.changes["rounds"] = rounds
        now = self._clock.now()
        act.changes.update(previous_state=outcome.source, state=outcome.dest, state_entered_at=now)
        details = {"gate": outcome.gate} if outcome.gate else {}
        self._record(act, kind, comment=comment, trigger=outcome.trigger, from_state=outcome.source,
                     to_state=outcome.dest, details=details | (extra or {}))
        if _has_timers(act.engine, outcome.source) or _has_timers(act.engine, outcome.dest):
            # (otherwise none can be pending: leaving or entering a state is when they are kept in step)
            sync_timers(act.conn, act.id, plan(act.engine.definition, state=outcome.dest, entered_at=now,
                                               data=act.data, now=now), now, f"left '{outcome.source}'")
        if self._notifier is not None:
            definition = act.engine.definition
            self._notify(act, Notice("state_changed", definition.notify.state_changed, {
                "state_title": definition.states[outcome.dest].title,
                "from_title": definition.states[outcome.source].title, "by": act.by.display_name,
                "comment": comment}))
            if outcome.transition.dest != PREVIOUS:  # coming back from hold: the work was announced before
                facts = self._facts(act.conn, act, act.engine)
                for notice in self._announce_state(act.engine, self._ref(act), facts, now):
                    self._notify(act, notice, now)
        return outcome

    def _record(self, act: _Action, kind: str, *, comment: str = "", trigger: str | None = None,
                from_state: str | None = None, to_state: str | None = None,
                details: dict[str, Any] | None = None) -> int:
        now = self._clock.now()
        version = act.version + 1
        event = _event(act.id, version, now, act.by.username, kind, trigger=trigger, from_state=from_state,
                       to_state=to_state, comment=comment, details=details or {})
        # The chain continues from the head on the locked row (or the event this action already recorded).
        act.changes["chain_seq"], act.changes["chain_hash"] = chain_rows(act.value("chain_hash"), [event])
        act.changes["updated_at"] = now
        act.events.append(event)  # written with the credential's new version by _write
        act.version = version
        return version

    def _facts(self, conn: Connection, row: Row[Any] | _Action, engine: Engine, trigger: str | None = None, *,
               entries: dict[str, Any] | None = None, decisions: list[Row[Any]] | None = None) -> Facts:
        """The engine's facts; checklist and decisions are read only if ``trigger`` (or any, if None) needs them,
        and within an action only once."""
        act: _Action | None = None
        if isinstance(row, _Action):
            act = row
            state, rounds, data = act.state, act.rounds, act.data
            cid, unit, previous = act.id, act.row.org_unit_id, act.value("previous_state")
        else:
            state, rounds, data = row.state, row.rounds, row.data
            cid, unit, previous = row.id, row.org_unit_id, row.previous_state
        needs_items, needs_gate = engine.needs(state, trigger)
        done: frozenset[str] = frozenset()
        if needs_items:
            if entries is None:
                entries = act.entries() if act is not None else {
                    e.item_key: e for e in conn.execute(_ENTRIES, {"cid": cid}) if e.round == rounds.get(e.item_key, 0)}
            done = frozenset(key for key, entry in entries.items() if entry.done)
        current: tuple[Decision, ...] = ()
        holders: dict[str, int] = {}
        if needs_gate:
            if decisions is None and act is not None:
                decisions = act.decisions()
            stored = decisions if decisions is not None else conn.execute(_DECISIONS, {"cid": cid})
            current = tuple(Decision(d.gate, d.role, d.actor, d.verdict, d.comment, d.principal, d.seen or None)
                            for d in stored if d.round == rounds.get(d.gate, 0))
            everyone = {a.role for _, req in engine.requirements_from(state) if req.gate
                        for a in req.gate.approvers if a.policy == "all"}
            if act is not None:
                if everyone - act.holders.keys():
                    act.holders.update(self._access.holders(conn, everyone - act.holders.keys(), cid, unit,
                                                            act.tree(self._access)))
                holders = {role: act.holders[role] for role in everyone}
            elif everyone:
                holders = self._access.holders(conn, everyone, cid, unit, self._access.tree(conn))
        return Facts(state=state, data=data, done=done, decisions=current, previous_state=previous,
                     role_holders=holders)

    def visible_clause(self, by: Caller) -> Any:
        """A SQL condition on the credential table: the credentials ``by`` may see."""
        if by.sees_everything:
            return CREDENTIAL.c.id.isnot(None)
        units, credentials = by.visible_units(), by.visible_credentials()
        if not units and not credentials:
            return false()
        # No OR with an empty list: it would keep the planner from the (state, org unit) index.
        if not credentials:
            return CREDENTIAL.c.org_unit_id.in_(sorted(units))
        if not units:
            return CREDENTIAL.c.id.in_(sorted(credentials))
        return or_(CREDENTIAL.c.org_unit_id.in_(sorted(units)), CREDENTIAL.c.id.in_(sorted(credentials)))

    def _overdue(self) -> Any:
        now = self._clock.now()
        late = []
        for name in self._definitions.names():
            for sid, state in self._definitions.engine(name).definition.states.items():
                if state.planned_days and not state.final:
                    late.append(and_(CREDENTIAL.c.definition_name == name, CREDENTIAL.c.state == sid,
                                     CREDENTIAL.c.state_entered_at < now - timedelta(days=state.planned_days)))
        return or_(*late) if late else false()

    def _states_with(self, wanted: Any) -> dict[str, set[str]]:
        """Definition name → states with a transition out whose requirements satisfy ``wanted``."""
        found: dict[str, set[str]] = {}
        for name in self._definitions.names():
            engine = self._definitions.engine(name)
            found[name] = {sid for sid in engine.definition.states
                           if any(wanted(req) for _, req in engine.requirements_from(sid))}
        return found

    def _candidates(self, by: Caller, states: Mapping[str, Collection[str]]) -> Any:
        in_states = or_(*(and_(CREDENTIAL.c.definition_name == name, CREDENTIAL.c.state.in_(sids))
                          for name, sids in states.items() if sids)) if any(states.values()) else false()
        return (select(CREDENTIAL.c.id, CREDENTIAL.c.state_entered_at).where(self.visible_clause(by), in_states)
                .order_by(CREDENTIAL.c.state_entered_at, CREDENTIAL.c.id))

    def _candidate_pages(self, conn: Connection, by: Caller, states: Mapping[str, Collection[str]], first: int, *,
                         decisions: bool, items: Collection[str] | None = None,
                         ) -> Iterator[tuple[Row[Any], dict[str, Any], list[Row[Any]]]]:
        """Every candidate, oldest in its state first, with its current checklist entries (only of ``items``, if
        given) and its gate decisions if asked: a page of credentials at a time, one statement per table per page.
        """
        if not any(states.values()):
            return
        query = self._candidates(by, states)
        page, after = max(CANDIDATE_PAGE, min(first, MAX_CANDIDATE_PAGE)), None
        while True:
            paged = query if after is None else query.where(or_(
                CREDENTIAL.c.state_entered_at > after[0],
                and_(CREDENTIAL.c.state_entered_at == after[0], CREDENTIAL.c.id > after[1])))
            keys = conn.execute(paged.limit(page)).all()  # read from the index alone; whole rows for this page
            if not keys:
                return
            ids = [key.id for key in keys]
            found = {row.id: row for row in conn.execute(_PAGE_CREDENTIALS, {"ids": ids})}
            rows = [found[cid] for cid in ids if cid in found]
            entries: dict[int, list[Row[Any]]] = {cid: [] for cid in ids}
            for entry in (conn.execute(_PAGE_ENTRIES, {"ids": ids}) if items is None else
                          conn.execute(_PAGE_SOME_ENTRIES, {"ids": ids, "keys": sorted(items)})):
                entries[entry.credential_id].append(entry)
            decided: dict[int, list[Any]] = {cid: [] for cid in ids}
            if decisions:
                for decision in conn.execute(_PAGE_DECISIONS, {"ids": ids}):
                    decided[decision.credential_id].append(decision)
            for row in rows:
                rounds = row.rounds
                current = {e.item_key: e for e in entries[row.id] if e.round == rounds.get(e.item_key, 0)}
                yield row, current, decided[row.id]
            if len(keys) < page:
                return
            after = (keys[-1].state_entered_at, keys[-1].id)
            page = min(page * 2, MAX_CANDIDATE_PAGE)


def _write(act: _Action) -> None:
    """Store what the action has recorded so far: the credential's new version and columns, in one update that
    checks the version it started from, and its new history events."""
    if not act.events:
        return
    seen = int(act.events[0]["seq"]) - 1
    latest = act.conn.execute(_BUMP, {"cid": act.id, "seen": seen, "version": act.version, **act.changes}).first()
    if latest is None:
        raise StaleVersion(act.id, seen)
    act.conn.execute(insert(EVENT), act.events)
    act.latest, act.events = latest, []


def _require(act: _Action, roles: Collection[str], what: str, *, delegation: bool = False) -> None:
    """Refuse unless the caller holds one of ``roles`` on the credential themselves (the system always may).
    Delegations cover decisions on gates only, which ``_choose_role`` handles."""
    if act.by.is_system:
        return
    held = {g.role for g in act.by.grants_on(act.id, act.row.org_unit_id) if delegation or not g.delegated}
    if not held & set(roles):
        yours = f"; you hold {', '.join(sorted(held))}" if held else ""
        raise Forbidden(f"{what} needs one of the roles {', '.join(roles)} on this credential{yours}")


def _choose_role(act: _Action, requirements: Requirements, facts: Facts, role: str | None,
                 on_behalf_of: str | None) -> tuple[Approver, str]:
    """The approver rule the caller decides under, and the principal the decision counts for."""
    approvers = requirements.approvers_for(facts.data)
    roles = [a.role for a in approvers]
    if role is not None and role not in roles:
        raise InvalidInput("role", f"'{role}' does not decide gate '{requirements.gate_id}'; "
                                   f"its approvers: {', '.join(roles)}")
    if act.by.is_system:
        if role is None:
            raise InvalidInput("role", f"say which role decides; the approvers: {', '.join(roles)}")
        return next(a for a in approvers if a.role == role), on_behalf_of or act.by.username
    grants: list[Grant] = [g for g in act.by.grants_on(act.id, act.row.org_unit_id) if g.role in roles
                           and (role is None or g.role == role)
                           and (on_behalf_of is None or g.principal == on_behalf_of)]
    if not grants:
        raise Forbidden(f"deciding gate '{requirements.gate_id}' needs one of the roles {', '.join(roles)} on this "
                        "credential, held or delegated to you today")
    grants.sort(key=lambda g: (g.delegated, roles.index(g.role)))
    chosen = grants[0]
    return next(a for a in approvers if a.role == chosen.role), chosen.principal


def _due(engine: Engine, row: Row[Any], requirements: Requirements, item_days: int | None) -> datetime | None:
    """When a checklist item is due: its own days, else its gate's, else the end of the state's planned stay."""
    days = item_days or (requirements.gate.due_days if requirements.gate else None) \
        or engine.definition.states[row.state].planned_days
    return row.state_entered_at + timedelta(days=days) if days else None


def _has_timers(engine: Engine, state: str) -> bool:
    """Whether any timer of the definition can apply while a credential is in ``state``."""
    return any(not timer.state or state in timer.state for timer in engine.definition.timers)


def _next_timers(conn: Connection, credential_id: int) -> list[dict[str, Any]]:
    return [dict(t._mapping) for t in conn.execute(_NEXT_TIMERS, {"cid": credential_id})]


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
    check_plain_text(field_name, text)
