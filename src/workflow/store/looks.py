"""What each person last saw of each credential (so their inbox can say what changed since)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from workflow.store.types import UTCDateTime


class CredentialLook(SQLModel, table=True):
    """The newest history entry a person had seen when they last opened a credential's page."""

    __tablename__ = "credential_look"
    __table_args__ = (Index("ix_credential_look_credential", "credential_id"),)

    user_id: int = Field(sa_column=Column(Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True))
    credential_id: int = Field(sa_column=Column(Integer, ForeignKey("credential.id", ondelete="CASCADE"),
                                                primary_key=True))
    seq: int
    seen_at: datetime = Field(sa_type=UTCDateTime)


LOOK = SQLModel.metadata.tables["credential_look"]
