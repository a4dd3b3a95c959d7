"""What a credential publishes: its critical information summary and, once launched, its Open Badges 3.0
Achievement — both read from the credential's data and history, nothing kept beside them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from workflow.errors import Conflict
from workflow.services.access import AccessService, Caller
from workflow.services.badges import Issuer, achievement
from workflow.services.definitions import DefinitionRegistry
from workflow.services.summary import Summary, launched_on, summarize
from workflow.services.views import CredentialViews
from workflow.store.database import Database
from workflow.store.people import ORG_UNIT
from workflow.store.tables import CREDENTIAL

PATHWAY_FIELDS = ("stacks_into", "requires", "equivalent_to")


class PublicationService:
    """Reads only: the summary of any credential one may see, the Achievement of a launched one."""

    def __init__(self, database: Database, definitions: DefinitionRegistry, access: AccessService,
                 views: CredentialViews, public_url: str) -> None:
        self._db = database
        self._definitions = definitions
        self._access = access
        self._views = views
        self._public_url = public_url

    def summary(self, credential_id: int, *, by: Caller) -> Summary:
        """The critical information summary (a credential one may not see is not found)."""
        detail = self._views.get(credential_id, by=by)
        history = self._views.history(credential_id, by=by)
        definition = self._definitions.engine(detail.definition, detail.definition_version).definition
        named = {int(i) for name in PATHWAY_FIELDS for i in detail.data.get(name) or []}
        return summarize(definition, detail, launched_on(history, self._access.days.day_of), self._titles(named))

    def achievement(self, credential_id: int, *, by: Caller) -> dict[str, Any]:
        """The Open Badges 3.0 Achievement of a launched credential.

        Raises:
            NotFound: a credential ``by`` may not see.
            Conflict: it has not been launched (there is nothing to award yet).
        """
        summary = self.summary(credential_id, by=by)
        if summary.launched_on is None:
            raise Conflict(f"credential {credential_id} has not been launched; its Open Badges Achievement is "
                           "published once it is")
        detail = self._views.get(credential_id, by=by)
        return achievement(detail, summary, self.issuer(detail.org_unit_id), self._public_url)

    def issuer(self, org_unit_id: int | None) -> Issuer:
        """The institution issuing credentials of ``org_unit_id`` (the top of its org tree) and the unit itself."""
        tree = self._access.tree()
        with self._db.begin_read() as conn:
            units = {r.id: r for r in conn.execute(select(ORG_UNIT.c.id, ORG_UNIT.c.key, ORG_UNIT.c.name,
                                                          ORG_UNIT.c.parent_id))}
        above = tree.above(org_unit_id)
        top = next((units[u] for u in above if u in units and units[u].parent_id is None), None)
        own = units.get(org_unit_id) if org_unit_id is not None else None
        if top is None:
            return Issuer("institution", own.name if own else "The institution")
        return Issuer(top.key, top.name, own.name if own is not None and own.id != top.id else "")

    def _titles(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        with self._db.begin_read() as conn:
            return {r.id: r.title for r in conn.execute(select(CREDENTIAL.c.id, CREDENTIAL.c.title)
                                                        .where(CREDENTIAL.c.id.in_(ids)))}
