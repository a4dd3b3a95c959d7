"""The tables: definitions by version, credentials, checklist entries, gate decisions and the history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflow.store.frozen import GENESIS, JSONDocument, UTCDateTime


def _when(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class StoredDefinition(SQLModel, table=True):
    """One version of a workflow definition: its exact text and that text's SHA-256."""

    __tablename__ = "definition"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_definition_name_version"),
        UniqueConstraint("name", "content_hash", name="uq_definition_name_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    version: int
    content_hash: str = Field(max_length=64)
    source: str = Field(sa_type=Text)
    created_at: datetime = _when()


class Credential(SQLModel, table=True):
    """A micro-credential moving through its lifecycle, pinned to one definition version."""

    __tablename__ = "credential"
    __table_args__ = (
        # inboxes and task lists: candidates by state, oldest first, read from the index alone
        Index("ix_credential_state", "definition_name", "state", "state_entered_at", "org_unit_id"),
        Index("ix_credential_unit_state", "org_unit_id", "state"),  # lists and counts by org unit and state
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    definition_name: str = Field(max_length=100)
    definition_version: int
    state: str = Field(max_length=100)
    previous_state: str | None = Field(default=None, max_length=100)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDocument)
    rounds: dict[str, int] = Field(default_factory=dict, sa_type=JSONDocument)
    version: int = 1
    org_unit_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("org_unit.id"), nullable=True,
                                                                   index=True))
    created_by: str = Field(max_length=200)
    created_at: datetime = _when()
    updated_at: datetime = _when()
    state_entered_at: datetime = _when()
    # The head of the history's hash chain: seq and hash of the newest event (see workflow.store.history).
    chain_seq: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    chain_hash: str = Field(default=GENESIS, max_length=64, sa_column_kwargs={"server_default": GENESIS})


class ChecklistEntry(SQLModel, table=True):
    """Whether one checklist item is done for one credential, in one round of its gate."""

    __tablename__ = "checklist_entry"
    __table_args__ = (UniqueConstraint("credential_id", "item_key", "round", name="uq_checklist_entry"),)

    id: int | None = Field(default=None, primary_key=True)
    credential_id: int = Field(sa_column=Column(Integer, ForeignKey("credential.id", ondelete="CASCADE"),
                                                nullable=False))
    item_key: str = Field(max_length=100)
    round: int = 0
    done: bool = False
    note: str = Field(default="", max_length=4000)
    actor: str = Field(max_length=200)
    updated_at: datetime = _when()
    seq: int | None = None  # the event that wrote it (see workflow.store.accounting)


class GateDecision(SQLModel, table=True):
    """A decision on a gate (approve, reject, request changes), in one round of that gate."""

    __tablename__ = "gate_decision"
    __table_args__ = (Index("ix_gate_decision_credential", "credential_id", "gate", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    credential_id: int = Field(sa_column=Column(Integer, ForeignKey("credential.id", ondelete="CASCADE"),
                                                nullable=False))
    gate: str = Field(max_length=100)
    round: int = 0
    role: str = Field(max_length=100)
    actor: str = Field(max_length=200)  # who decided (a delegate, or the principal)
    principal: str = Field(max_length=200)  # on whose behalf
    verdict: str = Field(max_length=20)
    comment: str = Field(default="", max_length=4000)
    seen: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDocument)  # what the decision was made on
    decided_at: datetime = _when()
    seq: int | None = None  # the event that wrote it (see workflow.store.accounting)


class Event(SQLModel, table=True):
    """One entry of a credential's append-only history."""

    __tablename__ = "event"
    __table_args__ = (UniqueConstraint("credential_id", "seq", name="uq_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    credential_id: int = Field(sa_column=Column(Integer, ForeignKey("credential.id", ondelete="CASCADE"),
                                                nullable=False))
    seq: int
    at: datetime = _when()
    actor: str = Field(max_length=200)
    kind: str = Field(max_length=30)
    trigger: str | None = Field(default=None, max_length=100)
    from_state: str | None = Field(default=None, max_length=100)
    to_state: str | None = Field(default=None, max_length=100)
    comment: str = Field(default="", max_length=4000)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDocument)
    prev_hash: str = Field(max_length=64)  # the hash of the credential's previous event
    hash: str = Field(max_length=64)  # SHA-256 of this event's content and prev_hash (see workflow.store.history)


# The same tables for SQLAlchemy Core, used on the hot paths where building ORM objects would cost more than
# the database work itself.
CREDENTIAL = SQLModel.metadata.tables["credential"]
CHECKLIST_ENTRY = SQLModel.metadata.tables["checklist_entry"]
GATE_DECISION = SQLModel.metadata.tables["gate_decision"]
EVENT = SQLModel.metadata.tables["event"]


class TimerRow(SQLModel, table=True):
    """A timer of one credential: due at a time, guarded by the state it expects, fired at most once.

    ``status`` runs pending → running (claimed by ``lease_owner`` until ``lease_until``) → done, or cancelled when
    the credential leaves the state or its date changes first.
    """

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_due", "status", "due_at"),
        Index("ix_timer_credential", "credential_id", "status", "due_at"),
        # renewals and expiries coming (analytics): every column that count reads, so the rows are not visited
        Index("ix_timer_upcoming", "status", "action", "due_at", "timer", "credential_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    credential_id: int = Field(sa_column=Column(Integer, ForeignKey("credential.id", ondelete="CASCADE"),
                                                nullable=False))
    key: str = Field(max_length=150)
    timer: str = Field(max_length=100)
    action: str = Field(max_length=20)
    due_at: datetime = _when()
    state: str | None = Field(default=None, max_length=100)
    trigger: str | None = Field(default=None, max_length=100)
    notify: list[str] = Field(default_factory=list, sa_type=JSONDocument)
    status: str = Field(default="pending", max_length=20)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = _when(default=None)
    attempts: int = 0
    outcome: str = Field(default="", max_length=1000)
    created_at: datetime = _when()
    fired_at: datetime | None = _when(default=None)


TIMER = SQLModel.metadata.tables["timer"]


class OutboxMessage(SQLModel, table=True):
    """An email waiting to go out (or gone, or given up on), written with the change that caused it.

    ``status``: held (for a digest) → pending → sending (claimed with a lease) → sent, or dead with the server's
    reply; ``digested`` once a held message went out as part of a digest.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_recipient", "recipient", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=250, unique=True)
    kind: str = Field(max_length=40)
    recipient: str = Field(max_length=320)
    recipient_name: str = Field(default="", max_length=300)
    user_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="SET NULL"),
                                                               nullable=True))
    org_unit_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("org_unit.id",
                                                                                       ondelete="SET NULL"),
                                                                   nullable=True))
    credential_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("credential.id",
                                                                                         ondelete="SET NULL"),
                                                                     nullable=True))
    subject: str = Field(max_length=500)
    text_body: str = Field(sa_type=Text)
    html_body: str = Field(sa_type=Text)
    ics: str | None = Field(default=None, sa_type=Text)
    status: str = Field(max_length=20)
    urgent: bool = False
    digest_id: int | None = None
    attempts: int = 0
    next_attempt_at: datetime = _when()
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = _when(default=None)
    last_error: str = Field(default="", max_length=2000)
    created_at: datetime = _when()
    sent_at: datetime | None = _when(default=None)


OUTBOX = SQLModel.metadata.tables["outbox"]


class MailHealthRow(SQLModel, table=True):
    """Whether email is getting out: one row (id 1), kept by the dispatchers.

    ``failing_since`` is set when the mail server stops answering (refused, timed out, unknown host, TLS or login
    failure) and cleared when a connection succeeds; while it is set the whole queue waits for ``next_probe_at``,
    when one dispatcher tries one connection (``probes`` counts the failed ones, for the backoff).
    """

    __tablename__ = "mail_health"

    id: int = Field(primary_key=True)
    failing_since: datetime | None = _when(default=None)
    last_error: str = Field(default="", max_length=2000)
    probes: int = 0
    next_probe_at: datetime | None = _when(default=None)
    last_success_at: datetime | None = _when(default=None)


MAIL_HEALTH = SQLModel.metadata.tables["mail_health"]


class CalendarEventRow(SQLModel, table=True):
    """What each person's calendar feed last said of one event (by its UID): the day it gave and its SEQUENCE, so
    that a date that moves goes out again with the same UID and a higher SEQUENCE, and calendars update it."""

    __tablename__ = "calendar_event"

    uid: str = Field(primary_key=True, max_length=300)
    day: date
    sequence: int = 0
    changed_at: datetime = _when()


CALENDAR_EVENT = SQLModel.metadata.tables["calendar_event"]


class CredentialPlan(SQLModel, table=True):
    """A credential's plan: the target date of each phase's end (``dates``, state → ISO day, the last one the
    launch), the baseline they are measured against, the intake it was planned for and which alerts went out.

    Every change is also an event of the credential's history carrying the whole plan (see
    :mod:`workflow.services.plans`), so the hash chain accounts for it; this row is what pages read.
    """

    __tablename__ = "credential_plan"
    __table_args__ = (Index("ix_credential_plan_intake", "intake", "credential_id"),)

    credential_id: int = Field(sa_column=Column(Integer, ForeignKey("credential.id", ondelete="CASCADE"),
                                                primary_key=True))
    target_on: date
    intake: str = Field(default="", max_length=100)
    dates: dict[str, str] = Field(default_factory=dict, sa_type=JSONDocument)
    baseline: dict[str, str] = Field(default_factory=dict, sa_type=JSONDocument)
    baselined_at: datetime = _when()
    alerted: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDocument)  # what was told, to tell it once
    updated_at: datetime = _when()


PLAN = SQLModel.metadata.tables["credential_plan"]


class EvidenceDocument(SQLModel, table=True):
    """One version of the evidence attached to a checklist item (or, with ``target`` ``proposal``, to the
    credential's proposal): a stored file, named by the SHA-256 of its bytes, or a link. Written by the event
    ``seq``, whose details carry what the row holds (see workflow.store.accounting)."""

    __tablename__ = "evidence_document"
    __table_args__ = (UniqueConstraint("credential_id", "target", "version", name="uq_evidence_version"),
                      Index("ix_evidence_sha256", "sha256"))

    id: int | None = Field(default=None, primary_key=True)
    credential_id: int = Field(sa_column=Column(Integer, ForeignKey("credential.id", ondelete="CASCADE"),
                                                nullable=False))
    target: str = Field(max_length=100)  # a checklist item's key, or "proposal"
    version: int
    filename: str = Field(default="", max_length=255)  # sanitised; empty for a link
    content_type: str = Field(default="", max_length=150)  # as sniffed from the content
    size: int = Field(default=0, sa_type=BigInteger)
    sha256: str = Field(default="", max_length=64)  # of the file's bytes; empty for a link
    link: str = Field(default="", max_length=2000)
    actor: str = Field(max_length=200)
    created_at: datetime = _when()
    seq: int | None = None  # the event that wrote it


EVIDENCE = SQLModel.metadata.tables["evidence_document"]


class AnalyticsCount(SQLModel, table=True):
    """How many times something took some days, folded from the histories (see :mod:`workflow.store.analytics`):
    ``kind`` ``entered`` counts entries into state ``key`` in month ``period`` (YYYY-MM, ``days`` 0); ``stay``
    (a state), ``gate`` (a gate's move), ``decision`` (an approver role) and ``item`` (a checklist owner role)
    count how many whole days from entering the state it took, by the year it ended (``period`` YYYY; ``*``: every
    year together) and
    ``days`` bucket (exact to 120 days, then by weeks, then by 30 days)."""

    __tablename__ = "analytics_count"
    __table_args__ = (  # the figures read one kind and period at a time: this index holds every column they read
        Index("ix_analytics_count_kind", "kind", "period", "definition_name", "faculty_id", "key", "days", "count"),
    )

    definition_name: str = Field(max_length=100, primary_key=True)
    faculty_id: int = Field(primary_key=True)  # the faculty (or top unit) of the credential; 0 for none
    kind: str = Field(max_length=20, primary_key=True)
    key: str = Field(max_length=100, primary_key=True)
    period: str = Field(max_length=7, primary_key=True)
    days: int = Field(primary_key=True)
    count: int = 0


class AnalyticsMark(SQLModel, table=True):
    """How far the histories are folded into ``analytics_count``: every event up to ``last_event_id``."""

    __tablename__ = "analytics_mark"

    id: int = Field(primary_key=True)
    last_event_id: int = 0
    folded_at: datetime | None = _when(default=None)


ANALYTICS_COUNT = SQLModel.metadata.tables["analytics_count"]
ANALYTICS_MARK = SQLModel.metadata.tables["analytics_mark"]
