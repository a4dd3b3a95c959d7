"""The typed, frozen model of one workflow definition (what a YAML file in ``definitions/`` describes)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import isodate
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
DURATION_PATTERN = r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$"
PREVIOUS = "@previous"
ANY_STATE = "*"

Id = Annotated[StrictStr, Field(pattern=ID_PATTERN)]
Duration = StrictStr  # ISO 8601, checked by the validator so that the message can name the rule
Scalar = bool | int | float | str
Condition = dict[str, Scalar | tuple[Scalar, ...]]


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


Names = Annotated[tuple[StrictStr, ...], BeforeValidator(_as_tuple)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Role(_Frozen):
    """A role named by the definition: a person's role, a department or a committee."""

    title: StrictStr
    kind: Literal["person", "department", "committee"] = "person"
    description: StrictStr = ""
    # A committee's meetings, as an RFC 5545 recurrence rule ("FREQ=MONTHLY;BYDAY=1TU"), and how many days before
    # a meeting its agenda closes (items ready later go to the next meeting).
    meets: StrictStr | None = None
    agenda_closes_days: Annotated[StrictInt, Field(ge=0)] = 0


class CredentialField(_Frozen):
    """A field of a credential's data (the critical information summary and the dates timers use)."""

    label: StrictStr
    type: Literal["text", "boolean", "integer", "number", "date", "choice", "list", "credentials"] = "text"
    options: tuple[StrictStr, ...] = ()
    description: StrictStr = ""  # help text: forms show it beside the field
    required: StrictBool = False  # must be given to start a credential, and may not be emptied afterwards
    # A field of type ``credentials`` (other credentials, by number) may say how this credential relates to them:
    # it stacks into them, requires them (neither may loop back), or is equivalent to them.
    pathway: Literal["stacks_into", "requires", "equivalent_to"] | None = None


class State(_Frozen):
    """A state of the lifecycle; ``phase`` groups states for milestones, ``planned_days`` is the plan."""

    title: StrictStr
    phase: StrictStr = ""
    initial: StrictBool = False
    final: StrictBool = False
    planned_days: Annotated[StrictInt, Field(ge=1)] | None = None
    description: StrictStr = ""


class ChecklistItem(_Frozen):
    """A task owned by a role or department that must be done before a transition may fire."""

    key: Id
    title: StrictStr
    owner: StrictStr
    when: Condition | None = None
    due_days: Annotated[StrictInt, Field(ge=1)] | None = None
    description: StrictStr = ""


class Approver(_Frozen):
    """Who must approve a gate: a role and its policy (``any``, ``all`` holders, or ``n_of``)."""

    role: StrictStr
    policy: Literal["any", "all", "n_of"] = "any"
    n: Annotated[StrictInt, Field(ge=1)] | None = None
    stage: Annotated[StrictInt, Field(ge=1)] = 1
    when: Condition | None = None


class Gate(_Frozen):
    """A guarded step that needs approvals, with its checklist and the fields it requires."""

    title: StrictStr
    description: StrictStr = ""
    approvers: tuple[Approver, ...] = ()
    checklist: tuple[ChecklistItem, ...] = ()
    requires_fields: Names = ()
    allow_self_approval: StrictBool = False
    due_days: Annotated[StrictInt, Field(ge=1)] | None = None


class Transition(_Frozen):
    """A move between states; ``source`` may be ``*`` (any non-final state), ``dest`` may be ``@previous``."""

    trigger: Id
    source: Names
    dest: StrictStr
    title: StrictStr = ""
    gate: StrictStr | None = None
    checklist: tuple[ChecklistItem, ...] = ()
    requires_fields: Names = ()
    by: Names = ()
    confirm: StrictBool = False  # hard to undo: people confirm it and say why (the history keeps the reason)
    # Ends the credential's offer: refused while other credentials stack into or require it, or name it (learners
    # enrolled), until the person acknowledges that list; the history keeps what was acknowledged.
    check_dependants: StrictBool = False


class Timer(_Frozen):
    """Something the scheduler does at a time derived from a state entry, a date field, or a cycle."""

    key: Id
    action: Literal["fire", "remind", "escalate", "warn"]
    state: Names = ()
    after: Duration | None = None
    at: StrictStr | None = None
    every: Duration | None = None
    every_field: StrictStr | None = None  # an integer field: the cycle in months, per credential
    before: tuple[Duration, ...] = ()
    trigger: StrictStr | None = None
    notify: Names = ()
    title: StrictStr = ""


class Permissions(_Frozen):
    """Which roles may start credentials, and change their data and fire transitions that name no ``by``."""

    create: Names = ()
    edit: Names = ()


class Notify(_Frozen):
    """Who is told what by email, beyond the owners of checklist items and the approvers of gates (who are told
    when their part comes up) and the roles each timer names."""

    item_assigned: StrictBool = True
    decision_needed: StrictBool = True
    decided: Names = ()
    state_changed: Names = ()
    plan_alerts: Names = ()  # told, beside the project manager, when a plan slips (a date missed, launch late)


class Definition(_Frozen):
    """One workflow: roles, credential fields, states, gates, transitions and timers."""

    name: Id
    title: StrictStr
    description: StrictStr = ""
    roles: dict[Id, Role]
    permissions: Permissions = Permissions()
    notify: Notify = Notify()
    fields: dict[Id, CredentialField] = {}
    states: dict[Id, State]
    gates: dict[Id, Gate] = {}
    transitions: tuple[Transition, ...]
    timers: tuple[Timer, ...] = ()

    def checklist_items(self) -> list[ChecklistItem]:
        """Every checklist item of the definition, gates' and transitions' alike."""
        found: list[ChecklistItem] = []
        for gate in self.gates.values():
            found.extend(gate.checklist)
        for transition in self.transitions:
            found.extend(transition.checklist)
        return found


def is_duration(text: str) -> bool:
    """Whether ``text`` is a positive ISO 8601 duration such as ``P14D``, ``P12M`` or ``PT4H``."""
    if re.match(DURATION_PATTERN, text) is None:
        return False
    try:
        return bool(isodate.parse_duration(text))
    except (isodate.ISO8601Error, ArithmeticError, ValueError):  # e.g. more days than a timedelta holds
        return False


def fits_in_years(text: str, years: int) -> bool:
    """Whether the duration ``text`` (valid per :func:`is_duration`) is at most ``years`` years long."""
    start = datetime(2000, 1, 1)
    try:
        end: datetime = start + isodate.parse_duration(text)
        return end <= start.replace(year=start.year + years)
    except (isodate.ISO8601Error, ArithmeticError, ValueError):  # past year 9999
        return False


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the definition format, as committed in ``definitions/definition.schema.json``."""
    schema = Definition.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Micro-credential workflow definition"
    return schema
