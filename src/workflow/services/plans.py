"""Changing a credential's plan — a target launch date (or an intake), a phase's date moved with a reason, a new
baseline — and telling the project manager once when the plan slips.

Each change is one action (:class:`workflow.services.actions.Actions`): an event of kind ``plan`` carrying the
whole plan (target, intake, dates, baseline) goes into the credential's history, and so into its hash chain,
in the same transaction as the plan row pages read. The first plan is the baseline; later changes keep it until
someone re-baselines, which is an act of its own with a reason. An alert is an event of kind ``plan_alert``
with its email and calendar entry in the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update

from workflow.clock import Clock
from workflow.definitions.words import role_title
from workflow.engine.data import check_plain_text
from workflow.errors import Forbidden, InvalidInput, WorkflowError
from workflow.notify.calendar import CalendarEntry
from workflow.notify.outbox import Notice, Notifier
from workflow.services.access import AccessService, Caller
from workflow.services.actions import Action, Actions
from workflow.services.definitions import DefinitionRegistry
from workflow.services.plan_views import PlanView, PlanViews
from workflow.services.schedule import back_schedule, plan_path
from workflow.store.database import Database
from workflow.store.tables import PLAN

log = logging.getLogger(__name__)
MAX_REASON = 4000
PLANNERS = ("project_manager",)
"""Who is told when a plan slips, beside the roles the definition's ``notify.plan_alerts`` names."""


def _iso(dates: Mapping[str, date]) -> dict[str, str]:
    return {k: v.isoformat() for k, v in dates.items()}


def _reason(text: str, *, required: bool, why: str) -> str:
    text = text.strip()
    if len(text) > MAX_REASON:
        raise InvalidInput("reason", f"is too long (at most {MAX_REASON} characters)")
    check_plain_text("reason", text)
    if required and not text:
        raise InvalidInput("reason", f"say why {why} (the history keeps the reason)")
    return text


def _require(act: Action, roles: Collection[str], what: str) -> None:
    """Refuse unless the caller holds one of ``roles`` on the credential themselves (the system always may)."""
    if act.by.is_system or act.by.roles_on(act.id, act.row.org_unit_id) & set(roles):
        return
    definition = act.engine.definition
    raise Forbidden(f"{what} needs one of the roles {', '.join(role_title(definition, r) for r in roles)} on this "
                    "credential")


class PlanService:
    """Sets targets, moves phase dates, re-baselines, and sends the alerts of plans that slip."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, access: AccessService, clock: Clock,
                 notifier: Notifier | None, views: PlanViews) -> None:
        self._db = database
        self._definitions = definitions
        self._access = access
        self._clock = clock
        self._actions = Actions(database, definitions, access, clock, notifier)
        self._notifier = notifier
        self.views = views

    def _today(self) -> date:
        return self._access.days.day_of(self._clock.now())

    def set_target(self, *, credential_id: int, by: Caller, target: date | None = None, intake: str = "",
                   reason: str = "", expected_version: int | None = None) -> int:
        """Set the target launch date (or take the date of an intake) and back-schedule every phase's end from it
        with the definition's planned days; the first plan becomes the baseline. Changing a target needs a
        reason. Returns the credential's new version.

        Raises:
            InvalidInput: no date nor intake, an unknown intake, a date not after today, a change with no reason.
        """
        intake = intake.strip()
        if intake:
            if intake not in self.views.terms:
                known = ", ".join(self.views.terms) or "none are set up"
                raise InvalidInput("intake", f"there is no intake named '{intake[:100]}' (the intakes: {known})")
            if target is not None and target != self.views.terms[intake]:
                raise InvalidInput("target", f"the intake {intake} starts on {self.views.terms[intake]}, not on "
                                             f"{target}: choose one or the other")
            target = self.views.terms[intake]
        if target is None:
            raise InvalidInput("target", "give a target launch date or choose an intake")
        today = self._today()
        if target <= today:
            raise InvalidInput("target", f"the target launch date ({target}) must be after today ({today})")
        text = _reason(reason, required=False, why="")
        with self._actions.open(credential_id, expected_version, by) as act:
            _require(act, act.engine.definition.permissions.edit, "planning this credential")
            definition = act.engine.definition
            path = plan_path(definition)
            if not path:
                raise InvalidInput("target", f"{definition.title} plans no phases (no state has planned days)")
            old = _read(act)
            if old is not None and not text:
                raise InvalidInput("reason", "say why the target changes (the history keeps the reason)")
            if old is not None and old.target_on == target and old.intake == intake:
                return act.version
            dates = _iso(back_schedule(definition, path, target))
            baseline = dict(old.baseline) if old is not None else dates
            now = self._clock.now()
            details = {"change": "target", "target": target.isoformat(), "intake": intake, "dates": dates,
                       "baseline": baseline}
            if old is not None:
                details["was"] = old.target_on.isoformat()
            version = self._actions.record(act, "plan", comment=text, details=details)
            _store(act, {"target_on": target, "intake": intake, "dates": dates, "baseline": baseline,
                         "alerted": {}, "updated_at": now}, new=old is None, now=now)
            return version

    def move_phase(self, *, credential_id: int, state: str, on: date, reason: str, by: Caller,
                   expected_version: int | None = None) -> int:
        """Move one phase's planned end, with a reason; the baseline stays. Returns the new version.

        Raises:
            InvalidInput: no reason, no plan yet, not a planned phase (or the launch itself: change the target),
                a date before today, after the target or out of order with the phases around it.
        """
        text = _reason(reason, required=True, why="the date moves")
        with self._actions.open(credential_id, expected_version, by) as act:
            _require(act, act.engine.definition.permissions.edit, "planning this credential")
            definition = act.engine.definition
            path = plan_path(definition)
            old = _read(act)
            if old is None:
                raise InvalidInput("target", "set a target launch date first; the phases are planned back from it")
            if state not in path:
                raise InvalidInput("state", "choose one of the planned phases: "
                                            + ", ".join(definition.states[s].title for s in path[:-1]))
            title = definition.states[state].title
            if state == path[-1]:
                raise InvalidInput("state", f"the end of {title} is the target launch date: change the target")
            dates = {k: date.fromisoformat(v) for k, v in old.dates.items()}
            if on < self._today():
                raise InvalidInput("on", f"{title} cannot be planned to end before today ({self._today()})")
            if on > old.target_on:
                raise InvalidInput("on", f"{title} cannot end after the target launch date ({old.target_on})")
            at = path.index(state)
            before = path[at - 1] if at > 0 else None
            after = path[at + 1]
            if before is not None and before in dates and on < dates[before]:
                raise InvalidInput("on", f"{title} cannot end before {definition.states[before].title} "
                                         f"({dates[before]})")
            if after in dates and on > dates[after]:
                raise InvalidInput("on", f"{title} cannot end after {definition.states[after].title} "
                                         f"({dates[after]})")
            was = dates.get(state)
            if was == on:
                return act.version
            dates[state] = on
            now = self._clock.now()
            version = self._actions.record(act, "plan", comment=text, details={
                "change": "moved", "state": state, "was": was.isoformat() if was else None, "to": on.isoformat(),
                "target": old.target_on.isoformat(), "intake": old.intake, "dates": _iso(dates),
                "baseline": dict(old.baseline)})
            _store(act, {"dates": _iso(dates), "alerted": {}, "updated_at": now}, new=False, now=now)
            return version

    def rebaseline(self, *, credential_id: int, reason: str, by: Caller, expected_version: int | None = None) -> int:
        """Make the plan as it stands the new baseline, with a reason. Returns the new version.

        Raises:
            InvalidInput: no reason, or no plan yet.
        """
        text = _reason(reason, required=True, why="the baseline is replaced")
        with self._actions.open(credential_id, expected_version, by) as act:
            _require(act, act.engine.definition.permissions.edit, "re-baselining this credential's plan")
            old = _read(act)
            if old is None:
                raise InvalidInput("target", "set a target launch date first; the first plan is the baseline")
            now = self._clock.now()
            version = self._actions.record(act, "plan", comment=text, details={
                "change": "rebaselined", "target": old.target_on.isoformat(), "intake": old.intake,
                "dates": dict(old.dates), "baseline": dict(old.dates), "was": dict(old.baseline)})
            _store(act, {"baseline": dict(old.dates), "baselined_at": now, "updated_at": now}, new=False, now=now)
            return version

    # -- alerts ---------------------------------------------------------------------------------------------------

    def run_alerts(self, *, batch: int = 500) -> int:
        """Tell the project manager (and the roles the definition names) once when a credential's launch forecast
        passes its target, and once when a phase's planned end passes with the phase not over; a plan changed
        since may be told again. Returns how many alerts were sent."""
        sent = 0
        after = 0
        everyone = Caller.system("plan")
        while True:
            with self._db.begin_read() as conn:
                ids = [r.credential_id for r in conn.execute(
                    select(PLAN.c.credential_id).where(PLAN.c.credential_id > after)
                    .order_by(PLAN.c.credential_id).limit(batch))]
            if not ids:
                return sent
            after = ids[-1]
            for credential_id in ids:
                try:
                    sent += self._alert(self.views.get(credential_id, by=everyone))
                except WorkflowError as error:  # a credential that cannot act now is looked at again next time
                    log.info("plan alert for credential #%d waits: %s", credential_id, error)

    def _due_alerts(self, view: PlanView, alerted: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The alerts a plan owes, given those already sent."""
        due: list[dict[str, Any]] = []
        if view.target is None or view.forecast.launched or view.forecast.launch is None:
            return due
        if view.forecast.launch > view.target and alerted.get("launch") != view.target.isoformat():
            due.append({"what": "launch"})
        current = next((p for p in view.phases if p.current), None)
        if (current is not None and current.planned is not None and current.planned < view.today
                and current.state not in alerted.get("missed", [])):
            due.append({"what": "missed", "state": current.state, "planned": current.planned.isoformat()})
        return due

    def _alert(self, view: PlanView) -> int:
        with self._db.begin_read() as conn:
            alerted = conn.execute(select(PLAN.c.alerted).where(PLAN.c.credential_id == view.credential_id)).scalar()
        due = self._due_alerts(view, alerted or {})
        rearm = (view.target is not None and view.forecast.launch is not None and not view.forecast.launched
                 and view.forecast.launch <= view.target and "launch" in (alerted or {}))
        if not due and not rearm:
            return 0
        with self._actions.open(view.credential_id, None, Caller.system("plan")) as act:
            plan = _read(act)
            if plan is None:
                return 0
            told = dict(plan.alerted or {})
            if rearm:
                told.pop("launch", None)
            due = self._due_alerts(view, told)  # again, under the credential's lock: another process may have told
            definition = act.engine.definition
            roles = [r for r in dict.fromkeys((*PLANNERS, *definition.notify.plan_alerts)) if r in definition.roles]
            for alert in due:
                launch = view.forecast.launch
                assert launch is not None and view.target is not None
                state = alert.get("state")
                details = {"what": alert["what"], "forecast": launch.isoformat(), "target": view.target.isoformat(),
                           **({"state": state, "planned": alert["planned"]} if state else {})}
                self._actions.record(act, "plan_alert", details=details)
                if alert["what"] == "launch":
                    told["launch"] = view.target.isoformat()
                else:
                    told["missed"] = [*told.get("missed", []), state]
                domain = self._notifier.mail_domain if self._notifier is not None else "workflow"
                self._actions.notify(act, Notice("plan_slipped", roles, {
                    "what": alert["what"], "phase_title": definition.states[state].title if state else "",
                    "planned": alert.get("planned", ""), "forecast": launch.isoformat(),
                    "target": view.target.isoformat(), "slip_days": (launch - view.target).days,
                    "intake": view.intake,
                }, entries=[CalendarEntry(f"plan-forecast-{view.credential_id}@{domain}",
                                          f"Expected launch (forecast) — {view.title}", launch,
                                          description=f"Target: {view.target.isoformat()}")]))
            act.conn.execute(update(PLAN).where(PLAN.c.credential_id == act.id).values(alerted=told))
            return len(due)


def _read(act: Action) -> Any | None:
    """The credential's plan row, as the action finds it (the credential is locked)."""
    return act.conn.execute(select(PLAN).where(PLAN.c.credential_id == act.id)).first()


def _store(act: Action, values: dict[str, Any], *, new: bool, now: datetime) -> None:
    """Write the plan row with the action's other writes."""
    if new:
        act.conn.execute(insert(PLAN), {"credential_id": act.id, "baselined_at": now, **values})
    else:
        act.conn.execute(update(PLAN).where(PLAN.c.credential_id == act.id).values(**values))

