"""Request bodies of the JSON API, and the JSON shape of the read models.

Bodies take JSON's types as the document states them: a boolean is ``true`` or ``false`` (never ``0``, ``1`` or
``"true"``), an integer is a JSON integer (never ``"3"`` or ``3.0``); anything else is a 422 naming the field.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from workflow.engine.data import check_plain_text
from workflow.errors import InvalidInput
from workflow.services.views import CredentialDetail, CredentialSummary, HistoryEvent


def _storable(text: str) -> str:
    try:
        check_plain_text("text", text)
    except InvalidInput as error:
        raise ValueError(error.message) from None
    return text


# Text every database stores as given: PostgreSQL refuses NUL characters, and no database takes lone surrogates.
Text = Annotated[str, AfterValidator(_storable), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})]
Comment = Field(default="", max_length=4000)
MAX_ID = 2**31 - 1  # PostgreSQL integer columns
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="a row id")]
Key = Annotated[Text, Path(min_length=1, max_length=100, description="a key from the definition")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
Version = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Acknowledge = list[Annotated[StrictInt, Field(ge=1, le=MAX_ID)]]
ACKNOWLEDGE = ("the numbers of the credentials depending on this one (GET /credentials/{id}/impact) that you have "
               "read about, for a move that ends its offer, such as a sunset")
# A query parameter is text: FastAPI reads these spellings as booleans, and the document says so.
Flag = Annotated[bool, Query(description="`true` or `false` (`1`/`0`, `yes`/`no`, `on`/`off`, `t`/`f` and `y`/`n` "
                                         "are read the same way, in any case)")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_Body):
    username: Text = Field(min_length=1, max_length=100)
    password: Text = Field(min_length=1, max_length=1000)
    second_factor: Text | None = Field(default=None, max_length=100,
                                       description="the authenticator app's code (or a recovery code), for an "
                                                   "account that has a second factor")


class CredentialIn(_Body):
    title: Text = Field(min_length=1, max_length=300)
    org_unit: Text = Field(min_length=1, max_length=100, description="key of the faculty or department")
    definition: Text = Field(default="microcredential", max_length=100)
    data: dict[str, Any] = Field(default_factory=dict, max_length=100)


class CredentialPatch(_Body):
    version: Version = Field(description="the version you saw; a stale one is refused with 409")
    data: dict[str, Any] = Field(max_length=100)
    comment: Text = Comment


class ItemIn(_Body):
    done: StrictBool
    note: Text = Comment
    version: Version | None = None


class DecisionIn(_Body):
    decision: Literal["approve", "reject", "request_changes"]
    comment: Text = Comment
    role: Text | None = Field(default=None, max_length=100)
    on_behalf_of: Text | None = Field(default=None, max_length=100)
    version: Version | None = None
    acknowledge: Acknowledge = Field(default_factory=list, max_length=1000, description=ACKNOWLEDGE)


class TransitionIn(_Body):
    trigger: Text = Field(min_length=1, max_length=100)
    comment: Text = Comment
    version: Version | None = None
    acknowledge: Acknowledge = Field(default_factory=list, max_length=1000, description=ACKNOWLEDGE)


class OverrideIn(_Body):
    trigger: Text = Field(min_length=1, max_length=100)
    comment: Text = Field(min_length=10, max_length=4000)
    version: Version | None = None
    acknowledge: Acknowledge = Field(default_factory=list, max_length=1000, description=ACKNOWLEDGE)


class TeamMemberIn(_Body):
    username: Text = Field(min_length=1, max_length=100)
    role: Text = Field(min_length=1, max_length=100)


class UserIn(_Body):
    username: Text = Field(min_length=1, max_length=100)
    display_name: Text = Field(default="", max_length=200)
    email: Text = Field(default="", max_length=320)
    password: Text | None = Field(default=None, max_length=1000)
    admin: StrictBool = False


class OrgUnitIn(_Body):
    key: Text = Field(min_length=1, max_length=100)
    name: Text = Field(min_length=1, max_length=300)
    kind: Literal["institution", "faculty", "department"]
    parent: Text | None = Field(default=None, max_length=100)
    email: Text | None = Field(default=None, max_length=320)


class UserPatch(_Body):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    active: StrictBool | None = Field(default=None, description="false deactivates the person, true reactivates")
    admin: StrictBool | None = Field(default=None, description="whether the person is an administrator")

    @model_validator(mode="after")
    def _something(self) -> UserPatch:
        if self.active is None and self.admin is None:
            raise ValueError("give active, admin or both")
        return self


class AssignmentIn(_Body):
    username: Text = Field(min_length=1, max_length=100)
    role: Text = Field(min_length=1, max_length=100)
    org_unit: Text = Field(min_length=1, max_length=100)


LOCAL_DAY = "a calendar day in the institution's time zone (named in the API description)"


def _day_text(value: Any) -> Any:
    if not isinstance(value, str):  # a number would otherwise be read as seconds since 1970
        raise ValueError("give the day as text, YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_day_text)]


class DelegationIn(_Body):
    to: Text = Field(min_length=1, max_length=100, description="username of the delegate")
    role: Text | None = Field(default=None, max_length=100, description="one role, or all when left out")
    starts_on: Day = Field(description=f"the first day, {LOCAL_DAY}; from its local midnight (may be today)")
    ends_on: Day = Field(description=f"the last day, {LOCAL_DAY}, included; until the local midnight after it "
                                      "(a last day already over is refused)")


class TokenIn(_Body):
    name: Text = Field(min_length=1, max_length=100)
    days: int | None = Field(default=None, ge=1, le=730, strict=True,
                             description="how many days the token works (none: until revoked)")


def summary_json(row: CredentialSummary) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "definition": row.definition, "state": row.state,
            "version": row.version, "org_unit_id": row.org_unit_id, "updated_at": row.updated_at,
            "state_entered_at": row.state_entered_at}


def detail_json(detail: CredentialDetail) -> dict[str, Any]:
    return {
        "id": detail.id, "title": detail.title, "definition": detail.definition,
        "definition_version": detail.definition_version, "state": detail.state, "state_title": detail.state_title,
        "phase": detail.phase, "previous_state": detail.previous_state, "version": detail.version,
        "org_unit_id": detail.org_unit_id, "created_by": detail.created_by,
        "state_entered_at": detail.state_entered_at, "data": detail.data,
        "checklist": {role: [{"key": i.key, "title": i.title, "trigger": i.trigger, "done": i.done, "note": i.note,
                              "done_by": i.done_by, "updated_at": i.updated_at} for i in items]
                      for role, items in detail.checklist_by_role().items()},
        "gates": [{"gate": g.gate, "title": g.title, "trigger": g.trigger, "open_stage": g.open_stage,
                   "approvers": [{"role": a.role, "policy": a.policy, "stage": a.stage, "approvals": a.approvals,
                                  "needed": a.needed} for a in g.approvers],
                   "decisions": list(g.decisions)} for g in detail.gates],
        "timers": [{"key": t["key"], "title": t["title"], "action": t["action"], "due_at": t["due_at"],
                    "state": t["state"], "trigger": t["trigger"]} for t in detail.timers],
        "transitions": [{"trigger": o.trigger, "dest": o.dest, "title": o.title, "gate": o.gate,
                         "allowed": o.allowed, "missing": [str(u) for u in o.unmet],
                         "unmet": [{"kind": u.kind, "subject": u.subject, "message": u.message} for u in o.unmet],
                         "missing_summary": _summary(detail, o.trigger)} for o in detail.options],
    }


def _summary(detail: CredentialDetail, trigger: str) -> str:
    """What a transition lacks, counted as the pages count it ("7 checklist items, 1 field and …")."""
    lacking = detail.missing.get(trigger)
    return lacking.summary() if lacking is not None else ""


def event_json(event: HistoryEvent) -> dict[str, Any]:
    return {"seq": event.seq, "at": event.at, "actor": event.actor, "kind": event.kind, "trigger": event.trigger,
            "from_state": event.from_state, "to_state": event.to_state, "comment": event.comment,
            "details": event.details, "summary": event.summary}
