"""The commands people (and timers) perform on credentials: start one, change its data, tick checklist items,
decide gates, fire transitions, override, discuss, build its team, carry out timers. Each is one action
(:class:`workflow.services.actions.Actions`): a single database transaction.

Every command is told who acts (a :class:`Caller`) and checks that they belong: a credential the caller has no
role on is "not found"; one they see but may not change this way is "forbidden".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, select, update

from workflow.clock import Clock
from workflow.definitions.graph import transition_from
from workflow.definitions.model import Approver, Definition
from workflow.definitions.validate import did_you_mean
from workflow.definitions.words import gate_title, role_title, state_title, timer_title, transition_title
from workflow.engine import Engine, Facts, Outcome
from workflow.engine.data import check_changes, check_plain_text
from workflow.engine.requirements import Requirements, applies
from workflow.engine.timers import depends_on, depends_on_fields, parse_duration, plan
from workflow.errors import Conflict, Forbidden, ImpactNotAcknowledged, InvalidInput, NotFound, TransitionNotAllowed
from workflow.notify.calendar import CalendarEntry
from workflow.notify.outbox import CredentialRef, Notifier, Queued
from workflow.services.access import AccessService, Caller, Grant
from workflow.services.actions import Action, Actions
from workflow.services.definitions import DefinitionRegistry
from workflow.services.facts import next_timers
from workflow.services.missing import missing as lacking
from workflow.services.notices import Owing, overdue
from workflow.services.pathways import Pathways
from workflow.services.views import CredentialDetail, describe
from workflow.store import history
from workflow.store.accounting import DATA_DIGEST, data_digest, decision_details, entry_details
from workflow.store.database import Database
from workflow.store.lookups import CredentialRow
from workflow.store.people import ASSIGNMENT, ORG_UNIT, USER
from workflow.store.tables import CREDENTIAL, TIMER

VERDICTS = ("approve", "reject", "request_changes")
ASKING = {"reject": "reject", "request_changes": "ask for changes"}  # what a comment is required to do
MAX_COMMENT = 4000


@dataclass(frozen=True)
class DecisionResult:
    """A recorded decision, and the transition it completed, if it did."""

    version: int
    principal: str
    role: str
    fired: Outcome | None = None
    detail: CredentialDetail | None = None  # the credential as the decision left it, when asked for


class CredentialCommands:
    """Create credentials, change their data, tick checklist items, record decisions, fire transitions."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, access: AccessService,
                 clock: Clock, notifier: Notifier | None = None) -> None:
        self._db = database
        self._definitions = definitions
        self._access = access
        self._clock = clock
        self._notifier = notifier
        self._actions = Actions(database, definitions, access, clock, notifier)
        self.actions = self._actions  # shared with the other services that act on credentials (evidence)
        self._notices = self._actions.notices
        self._pathways = Pathways(definitions)

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
        _require_fields(engine.definition, values, values)
        now = self._clock.now()
        with self._db.begin() as conn:
            if org_unit_id is not None and conn.execute(
                    select(ORG_UNIT.c.id).where(ORG_UNIT.c.id == org_unit_id)).first() is None:
                raise NotFound("org unit", org_unit_id)
            self._pathways.check(conn, engine.definition, None, values,
                                 visible=lambda r: by.can_view(r.id, r.org_unit_id))
            created = history.start(conn, columns := {
                "title": title, "definition_name": definition, "definition_version": version,
                "state": engine.initial, "previous_state": None, "data": values, "rounds": {},
                "org_unit_id": org_unit_id, "created_by": by.username, "created_at": now, "updated_at": now,
                "state_entered_at": now,
            })
            credential_id = created.credential_id
            created.append(now, by.username, "created", to_state=engine.initial,
                           details={"data": values, DATA_DIGEST: data_digest(values)})
            history.write(conn, created, {}, engine, columns)
            history.sync_timers(conn, credential_id, plan(engine.definition, state=engine.initial, entered_at=now,
                                                          data=values, now=now, days=self._access.days), now, "created")
            if self._notifier is not None:
                ref = CredentialRef(credential_id, title, engine.initial, org_unit_id)
                notices = self._notices.announce_state(engine, ref, Facts(state=engine.initial, data=values), now)
                history.write_messages(conn, self._notifier.messages(conn, [Queued(n, ref, now) for n in notices],
                                                                     engine.definition, self._access.tree(conn)))
            return credential_id

    def update(self, *, credential_id: int, changes: Mapping[str, Any], by: Caller,
               expected_version: int | None = None, comment: str = "") -> int:
        """Change fields of the credential's data; returns the new version."""
        _check_text("comment", comment)
        with self._actions.open(credential_id, expected_version, by) as act:
            _require(act, act.engine.definition.permissions.edit, "changing its data")
            checked = check_changes(act.engine.definition, changes)
            _require_fields(act.engine.definition, checked, {**act.data, **checked})
            data = act.data
            diff = {k: [data.get(k), v] for k, v in checked.items() if data.get(k) != v}
            if not diff:
                return act.version
            self._pathways.check(act.conn, act.engine.definition, act.id, {k: checked[k] for k in diff},
                                 visible=lambda r: by.can_view(r.id, r.org_unit_id))
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
            version = self._actions.record(act, "data", comment=comment,
                                           details={"changes": diff, DATA_DIGEST: data_digest(data)})
            moved = set(diff) & depends_on(act.engine.definition)
            if moved:
                now = self._clock.now()
                # Only the timers of the changed fields are planned anew: a reminder that fired already in this
                # state is not planned again because a date changed.
                pending = {t["key"] for t in next_timers(act.conn, act.id)}
                planned = [p for p in plan(act.engine.definition, state=act.state,
                                           entered_at=act.row.state_entered_at, data=data, now=now,
                                           days=self._access.days)
                           if p.key in pending or depends_on_fields(act.engine.definition, p.timer) & moved]
                history.sync_timers(act.conn, act.id, planned, now, f"{', '.join(sorted(moved))} changed")
            return version

    def set_item(self, *, credential_id: int, item: str, done: bool, by: Caller, note: str = "",
                 expected_version: int | None = None) -> int:
        """Mark a checklist item done (or not done), with an optional note; returns the new version."""
        _check_text("note", note)
        with self._actions.open(credential_id, expected_version, by) as act:
            spec = act.engine.items.get(item)
            if spec is None:
                raise NotFound("checklist item", item)
            _require(act, [spec.owner], f"ticking “{spec.title}”")
            if not applies(spec.when, act.data):
                raise InvalidInput("item", f"“{spec.title}” does not apply to this credential")
            round_ = act.rounds.get(item, 0)
            entry = act.entries().get(item)
            if entry is not None and entry.done == done and entry.note == note:
                return act.version
            entry_row = history.entry_row(credential_id, item, round_, done=done, note=note, actor=by.username,
                                          at=self._clock.now(), seq=act.version + 1)
            version = self._actions.record(act, "checklist", comment=note, details=entry_details(entry_row,
                                                                                                spec.owner))
            history.write_entry(act.conn, entry_row)
            act.entered(entry_row)
            return version

    def decide(self, *, credential_id: int, gate: str, verdict: str, by: Caller, comment: str = "",
               role: str | None = None, on_behalf_of: str | None = None,
               expected_version: int | None = None, with_detail: bool = False,
               acknowledged: Collection[int] | None = None) -> DecisionResult:
        """Record a decision on a gate open in the credential's current state.

        The caller decides in one of the gate's approver roles, their own or one delegated to them (``role`` and
        ``on_behalf_of`` choose when there is more than one). An approval that completes the gate — and leaves
        nothing else missing — performs the gate's transition in the same transaction. ``with_detail`` adds the
        credential as the decision left it (what :meth:`get` would answer next). An approval that would end the
        credential's offer (a transition marked ``check_dependants``) while other credentials depend on it needs
        their numbers in ``acknowledged``.
        """
        if verdict not in VERDICTS:
            raise InvalidInput("decision", f"must be one of {', '.join(VERDICTS)}")
        if verdict != "approve" and not comment.strip():
            raise InvalidInput("comment", f"a comment is required to {ASKING[verdict]}")
        _check_text("comment", comment)
        with self._actions.open(credential_id, expected_version, by) as act:
            trigger, requirements = self._open_gate(act, gate)
            confirmed = transition_from(act.engine.definition, act.row.state, trigger).confirm
            if verdict == "approve" and not comment.strip() and confirmed:
                title = requirements.gate.title if requirements.gate else gate
                raise InvalidInput("comment", f"say why: approving “{title}” is hard to undo, and the history "
                                              "keeps the reason")
            facts = self._actions.facts(act)
            approver, grant_principal = _choose_role(act, requirements, facts, role, on_behalf_of)
            principal = grant_principal
            gate_spec = requirements.gate
            assert gate_spec is not None
            if verdict == "approve":
                if not gate_spec.allow_self_approval and act.row.created_by in (principal, by.username):
                    raise Forbidden(f"{act.row.created_by} proposed this credential; {gate_spec.title} does not "
                                    "accept its proposer's approval, in their own name or as anyone's delegate")
                stage = requirements.open_stage(facts)
                if stage is not None and approver.stage > stage:
                    waiting = sorted({requirements.role(a.role) for a, have, need in requirements.tally(facts)
                                      if a.stage == stage and have < need})
                    raise Conflict(f"The {requirements.role(approver.role)} approves at stage {approver.stage}; "
                                   f"stage {stage} ({', '.join(waiting)}) must approve first")
                valid, _ = requirements.standing(facts)
                people = {principal, by.username}
                if any(d.verdict == "approve" and ({d.who, d.actor} & people) for d in valid):
                    raise Conflict(f"{by.username} has already approved {gate_spec.title} (in their own name or as "
                                   "a delegate); one person gives one approval")
            decision = history.decision_row(credential_id, gate, act.rounds.get(gate, 0), role=approver.role,
                                            actor=by.username, principal=principal, verdict=verdict, comment=comment,
                                            seen=requirements.snapshot(facts), at=self._clock.now(),
                                            seq=act.version + 1)
            version = self._actions.record(act, "decision", comment=comment, details=decision_details(decision))
            history.write_decision(act.conn, decision)
            act.decided(decision)
            if verdict != "approve":
                self._actions.notify(act, self._notices.decided(act.engine.definition, gate_spec, by, verdict,
                                                                comment, principal))
            fired = None
            if verdict == "approve":
                after = self._actions.facts(act, trigger)
                if not requirements.unmet(after):  # one "approved" message for the gate, naming every approver
                    approvers = _approvers(act, requirements, after)
                    self._actions.notify(act, self._notices.approved(act.engine.definition, gate_spec, approvers,
                                                                     comment if len(approvers) == 1 else ""))
                    outcome = act.engine.fire(after, trigger)
                    fired = self._actions.move(act, outcome, comment=f"{gate_spec.title} approved",
                                               extra=self._impact(act, outcome, acknowledged))
                    version = act.version
                elif (requirements.open_stage(after) or 0) > (requirements.open_stage(facts) or 0):
                    now = self._clock.now()
                    for notice in self._notices.ask_for_decisions(act.engine, act.ref(), after, now,
                                                                  only=(trigger, requirements)):
                        self._actions.notify(act, notice, now)
            parts = self._detail_parts(act) if with_detail else None
        detail = describe(*parts) if parts is not None else None  # built once the credential is unlocked
        return DecisionResult(version, principal, approver.role, fired, detail)

    def fire(self, *, credential_id: int, trigger: str, by: Caller, comment: str = "",
             expected_version: int | None = None, acknowledged: Collection[int] | None = None) -> Outcome:
        """Perform a transition if every guard holds; otherwise raise :class:`TransitionNotAllowed`. One that
        ends the credential's offer while others depend on it needs their numbers in ``acknowledged``
        (:class:`ImpactNotAcknowledged` otherwise); the history keeps what was acknowledged."""
        _check_text("comment", comment)
        with self._actions.open(credential_id, expected_version, by) as act:
            _, outcome = self._allowed(act, trigger)
            transition = outcome.transition
            _require(act, transition.by or act.engine.definition.permissions.edit,
                     f"“{transition_title(act.engine.definition, trigger, outcome.source)}”")
            if transition.confirm and not by.is_system and not comment.strip():
                raise InvalidInput("comment", f"say why: “{transition.title or trigger}” is hard to undo, and the "
                                              "history keeps the reason")
            return self._actions.move(act, outcome, comment=comment,
                                      extra=self._impact(act, outcome, acknowledged))

    def impact(self, *, credential_id: int, by: Caller) -> list[dict[str, Any]]:
        """The credentials depending on this one (see :meth:`Pathways.dependants`); those ``by`` may not see
        are listed by number only."""
        with self._db.begin_read() as conn:
            row = conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.org_unit_id, CREDENTIAL.c.definition_name)
                               .where(CREDENTIAL.c.id == credential_id)).first()
            if row is None or not by.can_view(row.id, row.org_unit_id):
                raise NotFound("credential", credential_id)
            return self._visible_impact(conn, by, credential_id, row.definition_name)

    def _visible_impact(self, conn: Any, by: Caller, credential_id: int, definition: str) -> list[dict[str, Any]]:
        found = self._pathways.dependants(conn, credential_id, definition)
        units = {r.id: r.org_unit_id for r in conn.execute(
            select(CREDENTIAL.c.id, CREDENTIAL.c.org_unit_id).where(CREDENTIAL.c.id.in_([d["id"] for d in found])))}
        return [d if by.can_view(d["id"], units.get(d["id"])) else
                {**d, "title": "a credential you cannot open", "state": ""} for d in found]

    def _impact(self, act: Action, outcome: Outcome, acknowledged: Collection[int] | None) -> dict[str, Any]:
        """What the history keeps of the impact acknowledged for a move that ends the credential's offer;
        refused while a dependant is not acknowledged (timers move without asking)."""
        if not outcome.transition.check_dependants or act.by.is_system:
            return {}
        impact = self._visible_impact(act.conn, act.by, act.id, act.row.definition_name)
        unacknowledged = [d for d in impact if d["id"] not in set(acknowledged or ())]
        if unacknowledged:
            raise ImpactNotAcknowledged(act.id, transition_title(act.engine.definition, outcome.trigger,
                                                                 outcome.source), impact)
        return {"acknowledged": [{k: d[k] for k in ("id", "title", "relation")} for d in impact]} if impact else {}

    def override(self, *, credential_id: int, trigger: str, comment: str, by: Caller,
                 expected_version: int | None = None, acknowledged: Collection[int] | None = None) -> Outcome:
        """An administrator moves a credential past unmet guards: explicit, commented and kept in the history.
        Overriding guards does not skip acknowledging the credentials that depend on it (see :meth:`fire`)."""
        if not by.is_admin:
            raise Forbidden("only an administrator may override a transition's guards")
        if len(comment.strip()) < 10:
            raise InvalidInput("comment", "an override needs a comment saying why (at least 10 characters)")
        _check_text("comment", comment)
        with self._actions.open(credential_id, expected_version, by) as act:
            facts, outcome = self._allowed(act, trigger, force=True)
            skipped = [str(u) for u in act.engine.requirements[outcome.index].unmet(facts)]
            return self._actions.move(act, outcome, comment=comment, kind="override",
                                      extra={"skipped": skipped} | self._impact(act, outcome, acknowledged))

    def comment(self, *, credential_id: int, gate: str, text: str, by: Caller) -> int:
        """Add to a gate's discussion (anyone who can see the credential may); returns the new version."""
        text = text.strip()
        if not text:
            raise InvalidInput("comment", "write the comment before posting it")
        _check_text("comment", text)
        with self._actions.open(credential_id, None, by) as act:
            if gate not in act.engine.definition.gates:
                raise NotFound("gate", gate)
            return self._actions.record(act, "comment", comment=text, details={"gate": gate})

    def add_team_member(self, *, credential_id: int, user_id: int, role: str, by: Caller) -> int:
        """Give someone a role on this credential alone (its design team); kept in the credential's history."""
        with self._actions.open(credential_id, None, by) as act:
            if not by.is_admin:
                _require(act, act.engine.definition.permissions.edit, "changing the team")
            if role not in act.engine.definition.roles:
                raise InvalidInput("role", f"unknown role '{role}'{did_you_mean(role, act.engine.definition.roles)}")
            approvers = {a.role for gate in act.engine.definition.gates.values() for a in gate.approvers}
            if not by.is_admin:
                title = role_title(act.engine.definition, role)
                if role in approvers:
                    raise Forbidden(f"The {title} decides gates; only an administrator may give that role, so that "
                                    "a credential's team never picks its own approvers")
                if act.engine.definition.roles[role].kind != "person":
                    raise Forbidden(f"The {title} is a department's or committee's role; only an administrator may "
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
            return self._actions.record(act, "team", details={"added": user.username, "role": role})

    def remove_team_member(self, *, credential_id: int, assignment_id: int, by: Caller) -> int:
        """Take a role on this credential away from someone (the same people who may give it); kept in the
        credential's history."""
        with self._actions.open(credential_id, None, by) as act:
            row = act.conn.execute(select(ASSIGNMENT.c.role, USER.c.username, USER.c.id)
                                   .join(USER, USER.c.id == ASSIGNMENT.c.user_id)
                                   .where(ASSIGNMENT.c.id == assignment_id,
                                          ASSIGNMENT.c.credential_id == credential_id)).first()
            if row is None:
                raise NotFound("team member", assignment_id)
            if not by.is_admin:
                _require(act, act.engine.definition.permissions.edit, "changing the team")
                approvers = {a.role for gate in act.engine.definition.gates.values() for a in gate.approvers}
                if row.role in approvers or (row.role in act.engine.definition.roles
                                             and act.engine.definition.roles[row.role].kind != "person"):
                    raise Forbidden(f"only an administrator may take the role "
                                    f"{role_title(act.engine.definition, row.role)} away")
            act.conn.execute(ASSIGNMENT.delete().where(ASSIGNMENT.c.id == assignment_id))
            return self._actions.record(act, "team", details={"removed": row.username, "role": row.role})

    def run_timer(self, timer_id: int, owner: str) -> str:
        """Carry out a claimed timer, once: fire its transition or record its reminder, escalation or warning
        in the credential's history, and mark it done — all in one transaction. Returns what happened."""
        with self._db.begin_read() as conn:
            found = conn.execute(select(TIMER.c.credential_id, TIMER.c.timer).where(TIMER.c.id == timer_id)).first()
        if found is None:
            return "gone"
        caller = Caller.system(f"timer:{found.timer}")
        try:
            with self._actions.open(found.credential_id, None, caller) as act:
                timer = act.conn.execute(select(TIMER).where(TIMER.c.id == timer_id).with_for_update()).one()
                if timer.status != "running" or timer.lease_owner != owner:
                    return "already handled"
                outcome = self._carry_out(act, timer)
                history.timer_done(act.conn, timer_id, outcome, self._clock.now())
                return outcome
        except Conflict as error:  # the credential reached a final state: nothing is left to do
            with self._db.begin() as conn:
                conn.execute(update(TIMER).where(TIMER.c.id == timer_id, TIMER.c.lease_owner == owner)
                             .values(status="cancelled", outcome=f"cancelled: {error}", fired_at=self._clock.now()))
            return f"cancelled: {error}"

    def _carry_out(self, act: Action, timer: Row[Any]) -> str:
        title = timer_title(act.engine.definition, timer.timer)
        if timer.state is not None and act.state != timer.state:
            return f"cancelled: the credential left '{timer.state}'"
        details = {"timer": timer.key, "due_at": timer.due_at.isoformat()}
        if timer.action == "fire":
            facts = self._actions.facts(act, timer.trigger)
            try:
                outcome = act.engine.fire(facts, timer.trigger)
            except TransitionNotAllowed as refused:
                self._actions.record(act, "timer", comment=title, trigger=timer.trigger,
                                     details=details | {"refused": [str(u) for u in refused.unmet] or [str(refused)]})
                return f"refused: {refused}"
            self._actions.move(act, outcome, comment=title, extra=details)
            return f"fired {timer.trigger}: {outcome.source} → {outcome.dest}"
        kind = history.KIND_OF_TIMER[timer.action]
        if kind in ("warning", "reminder"):  # missed while nothing ran: the latest one alone is sent
            same = TIMER.c.timer == timer.timer if kind == "warning" else TIMER.c.action == timer.action
            later = act.conn.execute(select(TIMER.c.key).where(
                TIMER.c.credential_id == timer.credential_id, same, TIMER.c.id != timer.id,
                TIMER.c.status.in_(("pending", "running")), TIMER.c.due_at > timer.due_at,
                TIMER.c.due_at <= self._clock.now())).first()
            if later is not None:
                return f"skipped: the later {kind} {later.key} is due too"
        self._actions.record(act, kind, comment=title, details=details | {"notify": list(timer.notify)})
        if self._notifier is not None:
            facts = self._actions.facts(act)
            missing = [str(u) for _, req in act.engine.requirements_from(act.state) if req.gate or req.items
                       for u in lacking(req, facts).unmet]
            days = self._access.days  # the date warned of is a local day; offsets before it count local days
            target = days.local(timer.due_at)
            if "@" in timer.key:
                target += parse_duration(timer.key.split("@", 1)[1])
            day = days.day_of(target)
            entries = [CalendarEntry(f"{timer.timer}-{act.id}-{day:%Y%m%d}@{self._notifier.mail_domain}",
                                     f"{title} — {act.value('title')}", day,
                                     url=self._notifier.link(act.id))] if kind == "warning" else []
            today = days.day_of(self._clock.now())
            late = overdue(act.engine, facts, act.row.state_entered_at, today, days)
            self._actions.notify(act, self._notices.timer(kind, timer.notify, {
                "timer_title": title, "state_title": act.engine.definition.states[act.state].title,
                "since": days.day_of(act.row.state_entered_at).isoformat(), "missing": missing,
                "due": day.isoformat(), "days_left": max(0, (day - today).days), "late": late,
                "days_late": late[0]["days_late"] if late else 0},
                entries=entries, owing=Owing.of(act.engine, facts) if kind == "reminder" else None))
        return f"{kind} to {', '.join(timer.notify)}"


    # -- internals ----------------------------------------------------------------------------------------

    def _open_gate(self, act: Action, gate: str) -> tuple[str, Requirements]:
        for trigger, requirements in act.engine.requirements_from(act.state):
            if requirements.gate_id == gate:
                return trigger, requirements
        if gate not in act.engine.definition.gates:
            raise NotFound("gate", gate)
        definition = act.engine.definition
        raise Conflict(f"{gate_title(definition, gate)} is not open while the credential is in "
                       f"{state_title(definition, act.state)}")

    def _allowed(self, act: Action, trigger: str, *, force: bool = False) -> tuple[Facts, Outcome]:
        """The facts and the engine's outcome for ``trigger`` (``force``: past unmet guards, for an override);
        a refusal names the credential."""
        facts = self._actions.facts(act, trigger)
        try:
            return facts, (act.engine.force if force else act.engine.fire)(facts, trigger)
        except TransitionNotAllowed as refused:
            raise refused.with_credential(act.id) from None

    def _detail_parts(self, act: Action) -> tuple[Engine, CredentialRow | Row[Any], Facts, dict[str, Any],
                                                  list[dict[str, Any]]]:
        """What :func:`describe` needs to show the credential as this action leaves it (read in the action, once
        what it recorded is written)."""
        self._actions.write(act)
        row = act.latest()
        return (act.engine, row, self._actions.facts(act), act.entries(),
                next_timers(act.conn, act.id))


def _approvers(act: Action, requirements: Requirements, facts: Facts) -> list[str]:
    """The names of the people whose approvals complete a gate, in the order they gave them."""
    approvals = [d for d in requirements.standing(facts)[0] if d.verdict == "approve"]
    usernames = list(dict.fromkeys(d.who for d in approvals))
    names: dict[str, str] = dict(act.conn.execute(select(USER.c.username, USER.c.display_name)
                                  .where(USER.c.username.in_(usernames))).all()) if usernames else {}
    return [names.get(u, u) for u in usernames]


def _require(act: Action, roles: Collection[str], what: str, *, delegation: bool = False) -> None:
    """Refuse unless the caller holds one of ``roles`` on the credential themselves (the system always may).
    Delegations cover decisions on gates only, which ``_choose_role`` handles."""
    if act.by.is_system:
        return
    held = {g.role for g in act.by.grants_on(act.id, act.row.org_unit_id) if delegation or not g.delegated}
    if not held & set(roles):
        definition = act.engine.definition
        yours = f"; you hold {', '.join(sorted(role_title(definition, r) for r in held))}" if held else ""
        raise Forbidden(f"{what} needs one of the roles {', '.join(role_title(definition, r) for r in roles)} "
                        f"on this credential{yours}")


def _choose_role(act: Action, requirements: Requirements, facts: Facts, role: str | None,
                 on_behalf_of: str | None) -> tuple[Approver, str]:
    """The approver rule the caller decides under, and the principal the decision counts for."""
    approvers = requirements.approvers_for(facts.data)
    roles = [a.role for a in approvers]
    titles = ", ".join(requirements.role(r) for r in roles)
    gate = requirements.gate.title if requirements.gate is not None else requirements.gate_id
    if role is not None and role not in roles:
        raise InvalidInput("role", f"'{role}' does not decide {gate}; its approvers: {titles}")
    if act.by.is_system:
        if role is None:
            raise InvalidInput("role", f"say which role decides; the approvers: {titles}")
        return next(a for a in approvers if a.role == role), on_behalf_of or act.by.username
    grants: list[Grant] = [g for g in act.by.grants_on(act.id, act.row.org_unit_id) if g.role in roles
                           and (role is None or g.role == role)
                           and (on_behalf_of is None or g.principal == on_behalf_of)]
    if not grants:
        raise Forbidden(f"deciding {gate} needs one of the roles {titles} on this credential, held or delegated "
                        "to you today")
    grants.sort(key=lambda g: (g.delegated, roles.index(g.role)))
    chosen = grants[0]
    return next(a for a in approvers if a.role == chosen.role), chosen.principal


def _require_fields(definition: Definition, asked: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    """Refuse when a field the definition marks required is empty after the change (only fields ``asked`` about
    when editing; every required field when starting, where ``asked`` is the whole data)."""
    for name, spec in definition.fields.items():
        if spec.required and (name in asked or asked is after) and after.get(name) in (None, "", []):
            raise InvalidInput(name, "is required", label=spec.label)


def _check_text(field_name: str, text: str) -> None:
    if len(text) > MAX_COMMENT:
        raise InvalidInput(field_name, f"is too long (at most {MAX_COMMENT} characters)")
    check_plain_text(field_name, text)
