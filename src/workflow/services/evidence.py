"""Evidence: the files and links attached to a credential's checklist items and to its proposal.

Each upload or link is a new version (older ones are kept), recorded as an ``evidence`` event in the credential's
hash-chained history with the file's SHA-256, in the same transaction as its row (one action,
:mod:`workflow.services.actions`). A gate decision records which version of each item's evidence its approver saw
(:meth:`workflow.engine.requirements.Requirements.snapshot`), so replacing it outdates that approval.

Files arrive through :meth:`EvidenceService.receive`: streamed in chunks to the document store, counted against
the size limit as they come (nothing is kept past it), typed from their content against an allow-list, and kept
under their hash only once the action may record them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO
from urllib.parse import urlsplit

from sqlalchemy import select

from workflow.clock import Clock
from workflow.definitions.model import Definition
from workflow.definitions.words import role_title
from workflow.engine.requirements import PROPOSAL
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from workflow.services.access import Caller
from workflow.services.actions import Action, Actions
from workflow.services.filetypes import ALLOWED, FileType, safe_name, sniff
from workflow.store import history, lookups
from workflow.store.accounting import evidence_details
from workflow.store.database import Database
from workflow.store.documents import DocumentStore, Receiving
from workflow.store.lookups import EvidenceRow
from workflow.store.tables import CREDENTIAL


@dataclass(frozen=True)
class Evidence:
    """One version of a piece of evidence, as people see it."""

    target: str
    version: int
    filename: str
    content_type: str
    size: int
    sha256: str
    link: str
    actor: str
    created_at: datetime
    seq: int

    @property
    def kind(self) -> FileType | None:
        return ALLOWED.get(self.content_type)

    @property
    def previewable(self) -> bool:
        return self.kind is not None and self.kind.previewable

    @classmethod
    def of(cls, row: EvidenceRow) -> Evidence:
        return cls(row.target, row.version, row.filename, row.content_type, row.size, row.sha256, row.link,
                   row.actor, row.created_at, row.seq or 0)


def targets(definition: Definition) -> dict[str, str]:
    """What evidence can be attached to: the proposal, then every checklist item (by key → owner role)."""
    found = {PROPOSAL: ""}
    for gate in definition.gates.values():
        found.update({item.key: item.owner for item in gate.checklist})
    for transition in definition.transitions:
        found.update({item.key: item.owner for item in transition.checklist})
    return found


class EvidenceService:
    """Attach, list and read evidence; every change is one action on the credential."""

    def __init__(self, database: Database, actions: Actions, store: DocumentStore, clock: Clock, *,
                 max_bytes: int) -> None:
        self._db = database
        self._actions = actions
        self._store = store
        self._clock = clock
        self.max_bytes = max_bytes

    # -- attaching ------------------------------------------------------------------------------------------

    def may_attach(self, *, credential_id: int, target: str, by: Caller) -> None:
        """Check, before a file is read, that ``by`` may attach evidence to ``target`` (raises as attaching would)."""
        with self._actions.db.begin_read() as conn:
            row = conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.org_unit_id, CREDENTIAL.c.definition_name,
                                      CREDENTIAL.c.definition_version).where(CREDENTIAL.c.id == credential_id)).first()
        if row is None or not by.can_view(row.id, row.org_unit_id):
            raise NotFound("credential", credential_id)
        definition = self._actions.definitions.engine(row.definition_name, row.definition_version).definition
        _check_role(definition, by, credential_id, row.org_unit_id, target)

    @contextmanager
    def receive(self) -> Iterator[Receiving]:
        """A file to stream into (raises TooLarge past the limit); thrown away unless :meth:`attach_file` kept it."""
        incoming = self._store.receive(self.max_bytes)
        try:
            yield incoming
        finally:
            incoming.discard()

    def attach_file(self, *, credential_id: int, target: str, filename: str, incoming: Receiving,
                    by: Caller) -> Evidence:
        """Record a received file as the next version of ``target``'s evidence.

        Raises:
            InvalidInput: the file is empty or not of an allowed type (``file``), or its name is not a plain name
                (``filename``); nothing is stored.
            NotFound, Forbidden: the credential or item is not the caller's to add to.
        """
        kind = sniff(incoming.head(), incoming.path(), filename)
        name = safe_name(filename, kind)
        with self._actions.open(credential_id, None, by) as act:
            self._check(act, target)
            sha = incoming.keep()  # (content-addressed: a file kept for an action that then fails is harmless)
            return self._record(act, target, filename=name, content_type=kind.content_type, size=incoming.size,
                                sha256=sha, link="")

    def attach_link(self, *, credential_id: int, target: str, link: str, by: Caller) -> Evidence:
        """Record a link (http or https) as the next version of ``target``'s evidence."""
        link = link.strip()
        parts = urlsplit(link)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(link) > 2000 or any(
                c.isspace() or ord(c) < 32 for c in link):
            raise InvalidInput("link", "Give a web address starting with https:// (at most 2000 characters)")
        with self._actions.open(credential_id, None, by) as act:
            self._check(act, target)
            return self._record(act, target, filename="", content_type="", size=0, sha256="", link=link)

    def delete(self, *, credential_id: int, by: Caller) -> None:
        """Deleting a credential's documents: refused while its history must be kept (always, for now: the
        history vouches for every version by its hash)."""
        self.list(credential_id=credential_id, by=by)  # not found unless visible
        raise Conflict(f"credential {credential_id}: its documents cannot be deleted while its history must be kept "
                       "(each version is vouched for by the hash-chained history)")

    def _check(self, act: Action, target: str) -> None:
        _check_role(act.engine.definition, act.by, act.id, act.row.org_unit_id, target)

    def _record(self, act: Action, target: str, **values: str | int) -> Evidence:
        version = 1 + max((e.version for e in act.evidence() if e.target == target), default=0)
        row = history.evidence_row(act.id, target, version, actor=act.by.username, at=self._clock.now(),
                                   seq=act.version + 1, **values)  # type: ignore[arg-type]
        self._actions.record(act, "evidence", comment=str(values["filename"] or values["link"]),
                             details=evidence_details(row))
        history.write_evidence(act.conn, row)
        act.attached(row)
        return Evidence.of(EvidenceRow(0, *(row[n] for n in EvidenceRow._fields[1:])))

    # -- reading --------------------------------------------------------------------------------------------

    def list(self, *, credential_id: int, by: Caller) -> list[Evidence]:
        """Every version of every piece of the credential's evidence, by item then version."""
        with self._db.begin_read() as conn:
            row = conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.org_unit_id)
                               .where(CREDENTIAL.c.id == credential_id)).first()
            if row is None or not by.can_view(row.id, row.org_unit_id):
                raise NotFound("credential", credential_id)
            return [Evidence.of(e) for e in lookups.read_evidence(conn, credential_id)]

    def open(self, *, credential_id: int, target: str, version: int, by: Caller) -> tuple[Evidence, BinaryIO]:
        """One stored version and its bytes, for someone who may see the credential.

        Raises:
            NotFound: no such credential (visible to ``by``), version, or file (a link has none); a file gone
                from the store is also a conflict the administrator hears of through ``workflow audit verify``.
        """
        found = next((e for e in self.list(credential_id=credential_id, by=by)
                      if e.target == target and e.version == version), None)
        if found is None or not found.sha256:
            raise NotFound("document", f"{target} version {version}")
        try:
            return found, self._store.open(found.sha256)
        except FileNotFoundError:
            raise Conflict(f"the file of {target} version {version} is missing from the document store; an "
                           "administrator must restore it (see `workflow audit verify`)") from None


def _check_role(definition: Definition, by: Caller, credential_id: int, org_unit_id: int | None,
                target: str) -> None:
    """The item's owner role or an editor of the credential (the PM) may attach; the proposal is the editors'."""
    owners = targets(definition)
    if target not in owners:
        raise NotFound("checklist item", target)
    if by.is_system:
        return
    allowed = set(definition.permissions.edit) | ({owners[target]} if owners[target] else set())
    held = {g.role for g in by.grants_on(credential_id, org_unit_id) if not g.delegated}
    if not held & allowed:
        raise Forbidden(f"attaching evidence here needs one of the roles "
                        f"{', '.join(role_title(definition, r) for r in sorted(allowed))} on this credential")
