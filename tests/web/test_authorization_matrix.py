"""No unauthorized success: every route of the app × every kind of caller, with the exact status expected.

``MATRIX`` below is the specification. Each row is a probe (one concrete request against one route; a route may
have several probes), each column a kind of caller, each cell the exact HTTP status. A cell ending in ``!`` is
the correct answer for a known authorization bug: it is left out of the matrix test and checked on its own by
``test_known_authorization_bug``, marked ``xfail(strict=True)`` (see ``KNOWN_BUGS``).

Every cell also checks that

* a 4xx body is ``application/problem+json`` whose ``status`` is the HTTP status (and a 401 asks for a Bearer);
* a refused request changed nothing (row counts, credential versions, history, decisions, tokens, sessions);
* a caller who may not see the credential never gets a byte of it (its title and purpose are marked), and gets
  exactly the answer a credential id that does not exist gets (no existence oracle);
* the probe really reaches the route it is filed under;

and ``test_every_route_is_in_the_matrix`` fails as soon as any route — API, page, mount — has no row.

The pages (``page.*``) are reached by a browser: every caller with a username signs in (a session cookie; the
forms carry the session's token, except for ``nocs`` whose forms come without it), callers with only a bearer
token or none are sent to the sign-in page (303). A page refusing a form re-shows it with the reason (so a
viewer may see the credential in a 403 page); to anyone else a credential they may not see does not exist.

The credential lives in ``logistics`` (a department under ``business``), was started by pm.business and is in
``feasibility``, so the feasibility gate is open; probes that change a credential get a fresh one each. Dates
come from the injected clock (2026-09-01).

Statuses: 200/201/204 allowed; 401 not authenticated; 403 forbidden; 404 not visible (or not yours); 422 only
where written: ``deleg.create.dean`` (delegating a role you do not hold yourself is invalid input).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from starlette.routing import BaseRoute, Match, Mount, Route

from tests.evidence import PDF
from tests.organisation import PASSWORD
from workflow.config import Settings
from workflow.context import Services
from workflow.services.access import Caller
from workflow.services.auth import SESSION, TOKEN
from workflow.store.people import ASSIGNMENT, DELEGATION, USER
from workflow.store.tables import CHECKLIST_ENTRY, CREDENTIAL, EVENT, EVIDENCE, GATE_DECISION
from workflow.web.app import create_app
from workflow.web.deps import CSRF_HEADER, SESSION_COOKIE
from workflow.web.ui.pages import LOGIN_CSRF_COOKIE

API = "/api/v1"
TITLE = "Drone pilots for logistics [confidential-7f3a]"
MARKER = "confidential-7f3a"
MISSING_ID = 987654
SUBMIT_ITEMS = {"labour_market_research": "pm.business", "working_group_formed": "pm.business",
                "employers_contacted": "engage", "industry_skills_identified": "sme"}

# -- callers --------------------------------------------------------------------------------------------------

CALLERS: dict[str, str] = {  # column → readable name (used in test ids and messages)
    "anon": "anonymous",
    "junk": "token(garbage)",
    "rvkd": "token(revoked)",
    "inac": "token(deactivated-user)",
    "endd": "session(logged-out)",
    "admn": "admin",
    "dBus": "dean.business",
    "dHea": "dean.health",
    "pmBu": "pm.business",
    "pmHe": "pm.health",
    "regi": "registrar",
    "sme": "sme",
    "outs": "outsider",
    "actg": "acting.dean(delegation-today)",
    "laps": "acting.dean(delegation-not-today)",
    "cook": "pm.business(session+csrf)",
    "nocs": "pm.business(session-no-csrf)",
}
USERNAMES = {"admn": "admin", "dBus": "dean.business", "dHea": "dean.health", "pmBu": "pm.business",
             "pmHe": "pm.health", "regi": "registrar", "sme": "sme", "outs": "outsider", "actg": "acting.dean",
             "laps": "acting.dean", "cook": "pm.business", "nocs": "pm.business"}
VIEWERS = {"admn", "dBus", "pmBu", "regi", "sme", "actg", "cook", "nocs"}  # may see the credential
DECIDERS = {"dBus", "actg"}  # the feasibility gate waits for them (/me/approvals)
ITEM_OWNERS = {"pmBu", "sme", "cook", "nocs"}  # own an open checklist item of it (/me/tasks)

# -- the matrix -----------------------------------------------------------------------------------------------
# anon: no credentials · junk: a bearer token that was never issued · rvkd: a revoked token of pm.business ·
# inac: the token of a deactivated user · endd: the cookie of a session that was signed out · admn..outs: a
# personal API token · actg: acting.dean, holding dean.business's `dean` role by a delegation in force today ·
# laps: acting.dean with delegations that ended yesterday, start tomorrow, or were revoked · cook: pm.business
# by session cookie with X-CSRF-Token · nocs: the same cookie without the header.
# /healthz, /static, the API's description (/openapi.json and /docs hold no data), the sign-in (API and page),
# sign-out and / (a redirect to /docs) are public by design, and so are the identity-provider sign-in (no provider
# is configured here: 404, and a made-up answer is refused, 403), the second-factor step (no half-open session
# here: back to the sign-in page or on) and /signed-out; the sign-in page answers in HTML, so its 401/403 are
# HTML too (it refuses a form posted without its own double-submit token: page.login.no_csrf).

MATRIX = """
probe                anon junk rvkd inac endd admn dBus dHea pmBu pmHe regi  sme outs actg laps cook nocs
login.wrong_password  401  401  401  401  401  401  401  401  401  401  401  401  401  401  401  401  401
login.right_password  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200
logout                204  204  204  204  204  204  204  204  204  204  204  204  204  204  204  204  204
page.home             303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.logout           303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  403
page.approvals        303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.tasks            303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.portfolio        303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.portfolio.csv    303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.analytics        303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.analytics.csv    303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.pathways         303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.cred             303  303  303  303  303  200  200  404  200  404  200  200  404  200  404  200  200
page.cred.summary     303  303  303  303  303  200  200  404  200  404  200  200  404  200  404  200  200
page.cred.gate        303  303  303  303  303  200  200  404  200  404  200  200  404  200  404  200  200
page.cred.move        303  303  303  303  303  403  200  404  200  404  403  403  404  403  404  200  200
page.cred.decide      303  303  303  303  303  403  303  404  403  404  403  403  404  303  404  403  403
page.cred.item.lead   303  303  303  303  303  403  403  404  303  404  403  403  404  403  404  303  403
page.cred.hold        303  303  303  303  303  403  303  404  303  404  403  403  404  403  404  303  403
page.cred.data        303  303  303  303  303  403  403  404  303  404  403  403  404  403  404  303  403
page.cred.comment     303  303  303  303  303  303  303  404  303  404  303  303  404  303  404  303  403
page.cred.new         303  303  303  303  303  403  200  200  200  200  200  403  403  403  403  200  200
page.cred.start       303  303  303  303  303  403  303  422  303  422  422  403  403  403  403  303  403
page.cred.edit        303  303  303  303  303  403  403  404  200  404  403  403  404  403  404  200  200
page.cred.edit.save   303  303  303  303  303  403  403  404  303  404  403  403  404  403  404  303  403
page.cred.team        303  303  303  303  303  200  200  404  200  404  200  200  404  200  404  200  200
page.cred.team.add    303  303  303  303  303  303  403  404  303  404  403  403  404  403  404  303  403
page.cred.team.remove 303  303  303  303  303  303  403  404  303  404  403  403  404  403  404  303  403
page.account          303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.account.password 303  303  303  303  303  422  422  422  422  422  422  422  422  422  422  422  403
page.account.token    303  303  303  303  303  201  201  201  201  201  201  201  201  201  201  201  403
page.account.revoke   303  303  303  303  303  404  303  404  404  404  404  404  404  404  404  404  403
page.account.calendar 303  303  303  303  303  201  201  201  201  201  201  201  201  201  201  201  403
page.account.prefs    303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  403
page.password.bad     404  404  404  404  404  404  404  404  404  404  404  404  404  404  404  404  404
page.password.set.bad 404  404  404  404  404  404  404  404  404  404  404  404  404  404  404  404  404
page.admin.add        303  303  303  303  303  303  403  403  403  403  403  403  403  403  403  403  403
page.admin.give       303  303  303  303  303  303  403  403  403  403  403  403  403  403  403  403  403
page.admin.take       303  303  303  303  303  303  403  403  403  403  403  403  403  403  403  403  403
page.admin.reset      303  303  303  303  303  303  403  403  403  403  403  403  403  403  403  403  403
page.plan.target      303  303  303  303  303  403  403  404  303  404  403  403  404  403  404  303  403
page.plan.phase       303  303  303  303  303  403  403  404  303  404  403  403  404  403  404  303  403
page.plan.baseline    303  303  303  303  303  403  403  404  303  404  403  403  404  403  404  303  403
page.plan.csv         303  303  303  303  303  200  200  404  200  404  200  200  404  200  404  200  200
page.plan.ics         303  303  303  303  303  200  200  404  200  404  200  200  404  200  404  200  200
page.timeline         303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.timeline.csv     303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.deleg.create     303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  403
page.deleg.revoke     303  303  303  303  303  303  303  404  404  404  404  404  404  404  404  404  403
page.admin            303  303  303  303  303  200  403  403  403  403  403  403  403  403  403  403  403
page.admin.people     303  303  303  303  303  200  403  403  403  403  403  403  403  403  403  403  403
page.admin.person     303  303  303  303  303  303  403  403  403  403  403  403  403  403  403  403  403
page.admin.outbox     303  303  303  303  303  200  403  403  403  403  403  403  403  403  403  403  403
page.admin.retry      303  303  303  303  303  409  403  403  403  403  403  403  403  403  403  403  403
page.admin.reload     303  303  303  303  303  303  403  403  403  403  403  403  403  403  403  403  403
page.admin.check      303  303  303  303  303  200  403  403  403  403  403  403  403  403  403  403  403
page.admin.migrate    303  303  303  303  303  200  403  403  403  403  403  403  403  403  403  403  403
page.admin.mig.plan   303  303  303  303  303  200  403  403  403  403  403  403  403  403  403  403  403
page.admin.mig.do     303  303  303  303  303  303  403  403  403  403  403  403  403  403  403  403  403
page.admin.dead.count 303  303  303  303  303  200  403  403  403  403  403  403  403  403  403  403  403
page.admin.dead.retry 303  303  303  303  303  303  403  403  403  403  403  403  403  403  403  403  403
page.login.form       200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200
page.activity         303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.2fa              303  303  303  303  303  200  200  200  200  200  200  200  200  200  200  200  200
page.2fa.enrol        303  303  303  303  303  422  422  422  422  422  422  422  422  422  422  422  403
page.admin.signins    303  303  303  303  303  200  403  403  403  403  403  403  403  403  403  403  403
page.2fa.form         303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303
page.2fa.give         303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303
page.oidc.start       404  404  404  404  404  404  404  404  404  404  404  404  404  404  404  404  404
page.oidc.callback    403  403  403  403  403  403  403  403  403  403  403  403  403  403  403  403  403
page.signed_out       303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303
page.login.no_csrf    403  403  403  403  403  403  403  403  403  403  403  403  403  403  403  403  403
page.login.wrong_pw   401  401  401  401  401  401  401  401  401  401  401  401  401  401  401  401  401
page.login.right_pw   303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303  303
healthz               200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200
static                200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200
openapi               200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200
docs                  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200  200
cred.create           401  401  401  401  401  403  201  403  201  403  403  403  403  403  403  201  403
cred.list             401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
cred.get              401  401  401  401  401  200  200  404  200  404  200  200  404  200  404  200  200
cred.summary          401  401  401  401  401  200  200  404  200  404  200  200  404  200  404  200  200
cred.impact           401  401  401  401  401  200  200  404  200  404  200  200  404  200  404  200  200
cred.achievement      401  401  401  401  401  409  409  404  409  404  409  409  404  409  404  409  409
pathways.graph        401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
analytics.api         401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
cred.patch            401  401  401  401  401  403  403  404  200  404  403  403  404  403  404  200  403
cred.item.lead        401  401  401  401  401  403  403  404  200  404  403  403  404  403  404  200  403
cred.item.sme         401  401  401  401  401  403  403  404  403  404  403  200  404  403  404  403  403
cred.decide           401  401  401  401  401  403  201  404  403  404  403  403  404  201  404  403  403
cred.fire.hold        401  401  401  401  401  403  200  404  200  404  403  403  404  403  404  200  403
cred.override         401  401  401  401  401  200  403  403  403  403  403  403  403  403  403  403  403
cred.team.sme         401  401  401  401  401  201  403  404  201  404  403  403  404  403  404  201  403
cred.team.dean        401  401  401  401  401  201  403  404  403  404  403  403  404  403  404  403  403
cred.events           401  401  401  401  401  200  200  404  200  404  200  200  404  200  404  200  200
plan.get              401  401  401  401  401  200  200  404  200  404  200  200  404  200  404  200  200
plan.target           401  401  401  401  401  403  403  404  200  404  403  403  404  403  404  200  403
plan.phase            401  401  401  401  401  403  403  404  200  404  403  403  404  403  404  200  403
plan.baseline         401  401  401  401  401  403  403  404  200  404  403  403  404  403  404  200  403
plans.intakes         401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
plans.timeline        401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
me                    401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
me.approvals          401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
me.tasks              401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
deleg.list            401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
deleg.create.all      401  401  401  401  401  201  201  201  201  201  201  201  201  201  201  201  403
deleg.create.dean     401  401  401  401  401  422  201  201  422  422  422  422  422  422  422  422  403
deleg.revoke          401  401  401  401  401  204  204  404  404  404  404  404  404  404  404  404  403
tokens.list           401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
tokens.create         401  401  401  401  401  201  201  201  201  201  201  201  201  201  201  201  403
tokens.revoke.other   401  401  401  401  401  404  204  404  404  404  404  404  404  404  404  404  403
timers.list           401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
outbox.list           401  401  401  401  401  200  403  403  403  403  403  403  403  403  403  403  403
outbox.get            401  401  401  401  401  200  403  403  403  403  403  403  403  403  403  403  403
outbox.retry.pending  401  401  401  401  401  409  403  403  403  403  403  403  403  403  403  403  403
outbox.retry.dead     401  401  401  401  401  200  403  403  403  403  403  403  403  403  403  403  403
mail.health           401  401  401  401  401  200  403  403  403  403  403  403  403  403  403  403  403
me.calendar           401  401  401  401  401  201  201  201  201  201  201  201  201  201  201  201  403
page.calendar.bad     404  404  404  404  404  404  404  404  404  404  404  404  404  404  404  404  404
defs.list             401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
defs.get              401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
defs.reload           401  401  401  401  401  200  403  403  403  403  403  403  403  403  403  403  403
orgunits.list         401  401  401  401  401  200  200  200  200  200  200  200  200  200  200  200  200
orgunits.create       401  401  401  401  401  201  403  403  403  403  403  403  403  403  403  403  403
users.list            401  401  401  401  401  200  403  403  403  403  403  403  403  403  403  403  403
users.create          401  401  401  401  401  201  403  403  403  403  403  403  403  403  403  403  403
users.patch           401  401  401  401  401  200  403  403  403  403  403  403  403  403  403  403  403
roles.assign          401  401  401  401  401  201  403  403  403  403  403  403  403  403  403  403  403
roles.unassign        401  401  401  401  401  204  403  403  403  403  403  403  403  403  403  403  403
evid.list             401  401  401  401  401  200  200  404  200  404  200  200  404  200  404  200  200
evid.upload           401  401  401  401  401  403  403  404  201  404  403  403  404  403  404  201  403
evid.link             401  401  401  401  401  403  403  404  201  404  403  403  404  403  404  201  403
evid.download         401  401  401  401  401  200  200  404  200  404  200  200  404  200  404  200  200
evid.delete           401  401  401  401  401  409  409  404  409  404  409  409  404  409  404  409  403
page.evid             303  303  303  303  303  200  200  404  200  404  200  200  404  200  404  200  200
page.evid.upload      303  303  303  303  303  403  403  404  303  404  403  403  404  403  404  303  403
page.evid.link        303  303  303  303  303  403  403  404  303  404  403  403  404  403  404  303  403
page.evid.download    303  303  303  303  303  200  200  404  200  404  200  200  404  200  404  200  200
page.evid.preview     303  303  303  303  303  200  200  404  200  404  200  200  404  200  404  200  200
"""

KNOWN_BUGS: dict[str, str] = {}


@dataclass(frozen=True)
class Cell:
    status: int
    known_bug: bool


def _parse(text: str) -> dict[str, dict[str, Cell]]:
    header, *rows = [line.split() for line in text.strip().splitlines()]
    assert header[1:] == list(CALLERS), "the matrix columns must be the callers, in order"
    parsed: dict[str, dict[str, Cell]] = {}
    for key, *cells in rows:
        assert len(cells) == len(CALLERS), f"row {key} has {len(cells)} cells"
        assert key not in parsed, f"row {key} twice"
        parsed[key] = {code: Cell(int(cell.rstrip("!")), cell.endswith("!"))
                       for code, cell in zip(CALLERS, cells, strict=True)}
    return parsed


EXPECTED = _parse(MATRIX)

# -- the world each test acts in ------------------------------------------------------------------------------


def credential_in_feasibility(org: Services, creator: str = "pm.business") -> int:
    """A credential in logistics, walked into feasibility by the people owning each step."""
    people = {name: org.access.caller_by_name(name) for name in {creator, "pm.business", *SUBMIT_ITEMS.values()}}
    cid = org.credentials.create(definition="microcredential", title=TITLE, org_unit_id=org.people.unit_id("logistics"),
                                 data={"purpose": f"Surveyors need drone pilots ({MARKER})"}, by=people[creator])
    for item, owner in SUBMIT_ITEMS.items():
        org.credentials.set_item(credential_id=cid, item=item, done=True, by=people[owner])
    org.credentials.fire(credential_id=cid, trigger="submit_for_feasibility", by=people["pm.business"])
    return cid


class World:
    """The test organisation, a credential in feasibility, and one caller's client (fresh state per cell)."""

    def __init__(self, org: Services, app: FastAPI, code: str) -> None:
        self.org = org
        self.app = app
        self.code = code
        self.system = Caller.system("matrix")
        self.today: date = org.clock.now().date()
        self.dean = org.access.caller_by_name("dean.business")
        self.credential_id = self.fresh_credential()
        assert org.views.get(self.credential_id, by=self.system).state == "feasibility"
        with org.evidence.receive() as incoming:  # the one-pager, as its owner attached it
            incoming.write(PDF)
            org.evidence.attach_file(credential_id=self.credential_id, target="one_pager", filename="one-pager.pdf",
                                     incoming=incoming, by=org.access.caller_by_name("pm.business"))
        self.other_token_id = org.auth.create_token(org.people.user_id("dean.business"), "not yours").id
        self._serial = 0
        self._headers: dict[str, str] = {}
        self._cookie: str | None = None
        self._new_session_for: str | None = None
        self.form_token = ""
        self._setup_identity()
        self.client = TestClient(app, base_url="https://testserver", headers=self._headers, follow_redirects=False,
                                 raise_server_exceptions=False)

    def a_message(self) -> int:
        """A message in the outbox (creating the credential wrote some: its checklist owners were told)."""
        rows, _ = self.org.outbox.listing(by=self.system, status="pending", limit=1)
        assert rows, "the outbox is empty"
        return rows[0].id

    def _token(self, username: str) -> str:
        return self.org.auth.create_token(self.org.people.user_id(username), "matrix").token

    def _setup_identity(self) -> None:
        org, code = self.org, self.code
        if code == "junk":
            self._headers = {"Authorization": "Bearer mcw_" + "A" * 43}
        elif code == "rvkd":
            token = org.auth.create_token(org.people.user_id("pm.business"), "revoked")
            org.auth.revoke_token(org.people.user_id("pm.business"), token.id)
            self._headers = {"Authorization": f"Bearer {token.token}"}
        elif code == "inac":
            self._headers = {"Authorization": f"Bearer {self._token('council.c')}"}
            org.people.set_active(user_id=org.people.user_id("council.c"), active=False, by=self.system)
        elif code == "endd":
            self._cookie, _ = org.auth.start_session(org.people.user_id("pm.business"))
            org.auth.end_session(self._cookie)
        elif code in ("cook", "nocs"):
            self._new_session_for = "pm.business"
        elif code in USERNAMES:
            if code == "actg":
                self.delegate(self.today - timedelta(days=7), self.today)  # the last day is today, included
            elif code == "laps":
                self.delegate(self.today - timedelta(days=30), self.today - timedelta(days=1), given_days_ago=30)
                self.delegate(self.today + timedelta(days=1), self.today + timedelta(days=30))
                revoked = self.delegate(self.today - timedelta(days=1), self.today + timedelta(days=1))
                org.people.revoke_delegation(delegation_id=revoked, by=self.dean)
            self._headers = {"Authorization": f"Bearer {self._token(USERNAMES[code])}"}
        else:
            assert code == "anon"

    def delegate(self, starts_on: date, ends_on: date, to: str = "acting.dean", given_days_ago: int = 0) -> int:
        """A delegation given ``given_days_ago`` (one already over cannot be given today)."""
        clock, now = self.org.clock, self.org.clock.now()
        clock.set(now - timedelta(days=given_days_ago))
        try:
            return self.org.people.delegate(to_username=to, role="dean", starts_on=starts_on, ends_on=ends_on,
                                            by=self.dean)
        finally:
            clock.set(now)

    def begin_cell(self, page: bool = False) -> dict[str, str]:
        """Reset the client's cookies for a new cell; returns the extra headers to send. On a page, every caller
        with a username is signed in (a browser has no bearer token)."""
        self.client.cookies.clear()
        self.form_token = ""
        if self._cookie is not None:
            self.client.cookies.set(SESSION_COOKIE, self._cookie)
        person = self._new_session_for or (USERNAMES.get(self.code) if page else None)
        if person is None:
            return {"Accept": "text/html"} if page else {}
        cookie, session = self.org.auth.start_session(self.org.people.user_id(person))
        self.client.cookies.set(SESSION_COOKIE, cookie)
        if page:
            self.form_token = "" if self.code == "nocs" else session.csrf_token
            return {"Accept": "text/html"}  # (pages ignore a bearer token: a browser has none)
        return {CSRF_HEADER: session.csrf_token} if self.code == "cook" else {}

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    # fresh things for the probes that change them

    def fresh_credential(self) -> int:
        return credential_in_feasibility(self.org)

    def version(self, credential_id: int) -> int:
        return self.org.views.get(credential_id, by=self.system).version

    def fresh_user(self, *, email: bool = False) -> tuple[int, str]:
        username = f"matrix.person.{self.serial()}"
        return self.org.people.create_user(username=username, display_name="Matrix person", by=self.system,
                                           email=f"{username}@test.example" if email else ""), username

    def team_member(self) -> tuple[str, dict[str, Any]]:
        """A form taking a role on a credential of its own away from its team member (council.a as SME)."""
        cid = self.fresh_credential()
        self.org.credentials.add_team_member(credential_id=cid, user_id=self.org.people.user_id("council.a"),
                                             role="sme", by=self.system)
        with self.org.database.begin_read() as conn:
            assignment = conn.execute(select(ASSIGNMENT.c.id).where(ASSIGNMENT.c.credential_id == cid)).scalar_one()
        return f"/credentials/{cid}/team/{assignment}/remove", {"csrf_token": SESSION_FORM}

    def fresh_assignment(self) -> int:
        user_id, _ = self.fresh_user()
        self.org.people.assign(user_id=user_id, role="sme", unit_id=self.org.people.unit_id("health"), by=self.system)
        with self.org.database.begin_read() as conn:
            return int(conn.execute(select(ASSIGNMENT.c.id).where(ASSIGNMENT.c.user_id == user_id)).scalar_one())


# -- the probes -----------------------------------------------------------------------------------------------

Request = tuple[str, dict[str, Any] | None]


@dataclass(frozen=True)
class Probe:
    method: str
    route: str  # as the app declares it; for a mount, its prefix
    request: Callable[[World], Request]
    mount: bool = False
    page: bool = False  # an HTML page: a form body in, HTML out (errors too)
    upload: bool = False  # the body goes as multipart/form-data with a PDF in its "file" field

    @property
    def route_key(self) -> tuple[str, str]:
        return ("MOUNT", self.route) if self.mount else (self.method, self.route)


def _cred(suffix: str = "", body: dict[str, Any] | None = None) -> Callable[[World], Request]:
    """A request on the shared credential (reads)."""
    return lambda w: (f"{API}/credentials/{w.credential_id}{suffix}", body)


def _fresh_cred(suffix: str, body: dict[str, Any]) -> Callable[[World], Request]:
    """A request on a credential of its own (changes)."""
    def build(w: World) -> Request:
        cid = w.fresh_credential()
        return f"{API}/credentials/{cid}{suffix}", body
    return build


SESSION_FORM = "the session's form token"  # stands for the token the signed-in person's pages carry


def _fresh_page(suffix: str, body: dict[str, Any]) -> Callable[[World], Request]:
    """A form posted on a credential of its own (changes), as the credential page sends it."""
    def build(w: World) -> Request:
        return f"/credentials/{w.fresh_credential()}{suffix}", {"csrf_token": SESSION_FORM, **body}
    return build


def _planned(suffix: str, body: dict[str, Any], *, page: bool = False) -> Callable[[World], Request]:
    """A change to the plan of a credential of its own, planned already."""
    def build(w: World) -> Request:
        cid = w.fresh_credential()
        w.org.plans.set_target(credential_id=cid, target=date(2027, 9, 7), by=w.system)
        if page:
            return f"/credentials/{cid}{suffix}", {"csrf_token": SESSION_FORM, **body}
        return f"{API}/credentials/{cid}{suffix}", body
    return build


def _patch(w: World) -> Request:
    cid = w.fresh_credential()
    return f"{API}/credentials/{cid}", {"version": w.version(cid), "data": {"description": "Changed by the matrix"}}


def _delegation(role: str | None) -> Callable[[World], Request]:
    def build(w: World) -> Request:
        return f"{API}/delegations", {"to": "council.a", "role": role, "starts_on": w.today.isoformat(),
                                      "ends_on": (w.today + timedelta(days=7)).isoformat()}
    return build


def _revoke_delegation(w: World) -> Request:
    # given by dean.business to someone who is no caller, and not in force yet: it changes no caller's rights
    delegation_id = w.delegate(w.today + timedelta(days=10), w.today + timedelta(days=20), to="council.a")
    return f"{API}/delegations/{delegation_id}", None


def _revoke_other_token(w: World) -> Request:
    token = w.org.auth.create_token(w.org.people.user_id("dean.business"), "someone's")
    return f"{API}/tokens/{token.id}", None


def _patch_user(w: World) -> Request:
    user_id, _ = w.fresh_user()
    return f"{API}/users/{user_id}", {"active": False}


def _assign(w: World) -> Request:
    _, username = w.fresh_user()
    return f"{API}/role-assignments", {"username": username, "role": "sme", "org_unit": "health"}


def _fixed(url: str, body: dict[str, Any] | None = None) -> Callable[[World], Request]:
    return lambda w: (url, body)


CID = f"{API}/credentials/{{credential_id}}"
HOLD = {"trigger": "hold", "comment": "Paused by the matrix"}
OVERRIDE = {"trigger": "approve_feasibility", "comment": "Approved by the council in session"}

PROBES: dict[str, Probe] = {
    "login.wrong_password": Probe("POST", f"{API}/auth/login", _fixed(
        f"{API}/auth/login", {"username": "pm.business", "password": "not the password at all"})),
    "login.right_password": Probe("POST", f"{API}/auth/login", _fixed(
        f"{API}/auth/login", {"username": "outsider", "password": PASSWORD})),
    "logout": Probe("POST", f"{API}/auth/logout", _fixed(f"{API}/auth/logout")),
    "page.home": Probe("GET", "/", _fixed("/"), page=True),
    "page.logout": Probe("POST", "/logout", _fixed("/logout", {"csrf_token": SESSION_FORM}), page=True),
    "page.approvals": Probe("GET", "/approvals", _fixed("/approvals"), page=True),
    "page.tasks": Probe("GET", "/tasks", _fixed("/tasks"), page=True),
    "page.portfolio": Probe("GET", "/portfolio", _fixed("/portfolio"), page=True),
    "page.portfolio.csv": Probe("GET", "/portfolio.csv", _fixed("/portfolio.csv"), page=True),
    "page.analytics": Probe("GET", "/analytics", _fixed("/analytics"), page=True),
    "page.analytics.csv": Probe("GET", "/analytics.csv", _fixed("/analytics.csv"), page=True),
    "page.pathways": Probe("GET", "/pathways", _fixed("/pathways"), page=True),
    "page.cred.summary": Probe("GET", "/credentials/{credential_id}/summary", lambda w: (
        f"/credentials/{w.credential_id}/summary", None), page=True),
    "page.cred": Probe("GET", "/credentials/{credential_id}", lambda w: (f"/credentials/{w.credential_id}", None),
                       page=True),
    "page.cred.gate": Probe("GET", "/credentials/{credential_id}/gates/{gate}", lambda w: (
        f"/credentials/{w.credential_id}/gates/feasibility_approval", None), page=True),
    "page.cred.move": Probe("GET", "/credentials/{credential_id}/moves/{trigger}", lambda w: (
        f"/credentials/{w.credential_id}/moves/withdraw", None), page=True),
    "page.cred.decide": Probe("POST", "/credentials/{credential_id}/gates/{gate}/decision", _fresh_page(
        "/gates/feasibility_approval/decision", {"verdict": "approve", "comment": "Go ahead"}), page=True),
    "page.cred.item.lead": Probe("POST", "/credentials/{credential_id}/items/{item}", _fresh_page(
        "/items/priorities_alignment", {"done": "yes", "note": "Shown in the one-pager"}), page=True),
    "page.cred.hold": Probe("POST", "/credentials/{credential_id}/transitions", _fresh_page("/transitions", HOLD),
                            page=True),
    "page.cred.data": Probe("POST", "/credentials/{credential_id}/data", _fresh_page(
        "/data", {"field.description": "Changed by the matrix"}), page=True),
    "page.cred.comment": Probe("POST", "/credentials/{credential_id}/comments", _fresh_page(
        "/comments", {"gate": "feasibility_approval", "text": "Asked by the matrix"}), page=True),
    "page.cred.new": Probe("GET", "/credentials/new", _fixed("/credentials/new"), page=True),
    "page.cred.start": Probe("POST", "/credentials/new", _fixed("/credentials/new", {
        "csrf_token": SESSION_FORM, "definition": "microcredential", "org_unit": "logistics",
        "field.title": "Started by the matrix"}), page=True),
    "page.cred.edit": Probe("GET", "/credentials/{credential_id}/edit", lambda w: (
        f"/credentials/{w.credential_id}/edit", None), page=True),
    "page.cred.edit.save": Probe("POST", "/credentials/{credential_id}/edit", _fresh_page(
        "/edit", {"field.description": "Changed by the matrix"}), page=True),
    "page.cred.team": Probe("GET", "/credentials/{credential_id}/team", lambda w: (
        f"/credentials/{w.credential_id}/team", None), page=True),
    "page.cred.team.add": Probe("POST", "/credentials/{credential_id}/team", _fresh_page(
        "/team", {"person": "council.a", "role": "sme"}), page=True),
    "page.cred.team.remove": Probe("POST", "/credentials/{credential_id}/team/{assignment_id}/remove",
                                   lambda w: w.team_member(), page=True),
    "page.account": Probe("GET", "/account", _fixed("/account"), page=True),
    "page.account.password": Probe("POST", "/account/password", _fixed("/account/password", {
        "csrf_token": SESSION_FORM, "current": "not the password", "password": "a new password",
        "repeat": "a new password"}), page=True),
    "page.account.token": Probe("POST", "/account/tokens", _fixed("/account/tokens", {
        "csrf_token": SESSION_FORM, "name": "matrix", "days": "7"}), page=True),
    "page.account.revoke": Probe("POST", "/account/tokens/{token_id}/revoke", lambda w: (
        f"/account/tokens/{_revoke_other_token(w)[0].rsplit('/', 1)[1]}/revoke", {"csrf_token": SESSION_FORM}),
        page=True),
    "page.account.calendar": Probe("POST", "/account/calendar", _fixed("/account/calendar", {
        "csrf_token": SESSION_FORM}), page=True),
    "page.account.prefs": Probe("POST", "/account/preferences", _fixed("/account/preferences", {
        "csrf_token": SESSION_FORM, "delivery": "now", "timezone": ""}), page=True),
    "page.password.bad": Probe("GET", "/password/{token}", _fixed("/password/not-a-real-link"), page=True),
    "page.password.set.bad": Probe("POST", "/password/{token}", _fixed("/password/not-a-real-link", {
        "password": "a new password", "repeat": "a new password"}), page=True),
    "page.admin.add": Probe("POST", "/admin/people/new", lambda w: ("/admin/people/new", {
        "csrf_token": SESSION_FORM, "display_name": "New person", "username": f"matrix.added.{w.serial()}",
        "email": "added@test.example"}), page=True),
    "page.admin.give": Probe("POST", "/admin/people/roles", lambda w: ("/admin/people/roles", {
        "csrf_token": SESSION_FORM, "person": w.fresh_user()[1], "role": "sme", "unit": "health"}), page=True),
    "page.admin.take": Probe("POST", "/admin/people/roles/{assignment_id}/remove", lambda w: (
        f"/admin/people/roles/{w.fresh_assignment()}/remove", {"csrf_token": SESSION_FORM}), page=True),
    "page.admin.reset": Probe("POST", "/admin/people/{user_id}/reset-link", lambda w: (
        f"/admin/people/{w.fresh_user(email=True)[0]}/reset-link", {"csrf_token": SESSION_FORM}), page=True),
    "page.plan.target": Probe("POST", "/credentials/{credential_id}/plan/target", _fresh_page(
        "/plan/target", {"target": "2027-09-07"}), page=True),
    "page.plan.phase": Probe("POST", "/credentials/{credential_id}/plan/phase", _planned(
        "/plan/phase", {"state": "design", "on": "2027-04-01", "reason": "Council meets late"}, page=True), page=True),
    "page.plan.baseline": Probe("POST", "/credentials/{credential_id}/plan/baseline", _planned(
        "/plan/baseline", {"reason": "Funding confirmed"}, page=True), page=True),
    "page.plan.csv": Probe("GET", "/credentials/{credential_id}/plan.csv", lambda w: (
        f"/credentials/{w.credential_id}/plan.csv", None), page=True),
    "page.plan.ics": Probe("GET", "/credentials/{credential_id}/plan.ics", lambda w: (
        f"/credentials/{w.credential_id}/plan.ics", None), page=True),
    "page.timeline": Probe("GET", "/timeline", _fixed("/timeline"), page=True),
    "page.timeline.csv": Probe("GET", "/timeline.csv", _fixed("/timeline.csv"), page=True),
    "page.deleg.create": Probe("POST", "/delegations", lambda w: ("/delegations", {
        "csrf_token": SESSION_FORM, "to": "council.a", "role": "", "starts_on": w.today.isoformat(),
        "ends_on": (w.today + timedelta(days=7)).isoformat()}), page=True),
    "page.deleg.revoke": Probe("POST", "/delegations/{delegation_id}/revoke", lambda w: (
        _revoke_delegation(w)[0].replace(f"{API}/delegations/", "/delegations/") + "/revoke",
        {"csrf_token": SESSION_FORM}), page=True),
    "page.admin": Probe("GET", "/admin", _fixed("/admin"), page=True),
    "page.admin.people": Probe("GET", "/admin/people", _fixed("/admin/people"), page=True),
    "page.admin.person": Probe("POST", "/admin/people/{user_id}", lambda w: (
        f"/admin/people/{w.fresh_user()[0]}", {"csrf_token": SESSION_FORM, "change": "deactivate"}), page=True),
    "page.admin.outbox": Probe("GET", "/admin/outbox", _fixed("/admin/outbox"), page=True),
    "page.admin.retry": Probe("POST", "/admin/outbox/{message_id}/retry", lambda w: (
        f"/admin/outbox/{w.a_message()}/retry", {"csrf_token": SESSION_FORM}), page=True),
    "page.admin.dead.count": Probe("GET", "/admin/outbox/retry-dead", _fixed("/admin/outbox/retry-dead?kind=reminder"),
                                   page=True),
    "page.admin.dead.retry": Probe("POST", "/admin/outbox/retry-dead", _fixed(
        "/admin/outbox/retry-dead", {"csrf_token": SESSION_FORM, "kind": "reminder"}), page=True),
    "page.admin.reload": Probe("POST", "/admin/definitions/reload", _fixed(
        "/admin/definitions/reload", {"csrf_token": SESSION_FORM}), page=True),
    "page.admin.check": Probe("POST", "/admin/definitions/check", _fixed(
        "/admin/definitions/check", {"csrf_token": SESSION_FORM}), page=True),
    "page.admin.migrate": Probe("GET", "/admin/definitions/{name}/migrate", _fixed(
        "/admin/definitions/microcredential/migrate"), page=True),
    "page.admin.mig.plan": Probe("POST", "/admin/definitions/{name}/migrate/plan", _fixed(
        "/admin/definitions/microcredential/migrate/plan", {"csrf_token": SESSION_FORM, "to": "1"}), page=True),
    "page.admin.mig.do": Probe("POST", "/admin/definitions/{name}/migrate", _fixed(
        "/admin/definitions/microcredential/migrate", {"csrf_token": SESSION_FORM, "to": "1"}), page=True),
    "page.login.form": Probe("GET", "/login", _fixed("/login"), page=True),
    "page.activity": Probe("GET", "/account/activity", _fixed("/account/activity"), page=True),
    "page.2fa": Probe("GET", "/account/second-factor", _fixed("/account/second-factor"), page=True),
    "page.2fa.enrol": Probe("POST", "/account/second-factor", _fixed("/account/second-factor", {
        "csrf_token": SESSION_FORM, "secret": "JBSWY3DPEHPK3PXP", "code": "000000"}), page=True),
    "page.admin.signins": Probe("GET", "/admin/sign-ins", _fixed("/admin/sign-ins"), page=True),
    "page.2fa.form": Probe("GET", "/login/second-factor", _fixed("/login/second-factor"), page=True),
    "page.2fa.give": Probe("POST", "/login/second-factor", _fixed("/login/second-factor", {
        "csrf_token": SESSION_FORM, "code": "123456"}), page=True),
    "page.oidc.start": Probe("GET", "/login/oidc/{key}", _fixed("/login/oidc/nowhere"), page=True),
    "page.oidc.callback": Probe("GET", "/login/oidc/{key}/callback", _fixed(
        "/login/oidc/nowhere/callback?code=made-up&state=made-up"), page=True),
    "page.signed_out": Probe("GET", "/signed-out", _fixed("/signed-out?provider=nowhere"), page=True),
    "page.login.no_csrf": Probe("POST", "/login", _fixed("/login", {
        "username": "outsider", "password": PASSWORD, "csrf_token": "forged by another site"}), page=True),
    "page.login.wrong_pw": Probe("POST", "/login", _fixed("/login", {
        "username": "outsider", "password": "not the password at all", "csrf_token": "form-token"}), page=True),
    "page.login.right_pw": Probe("POST", "/login", _fixed("/login", {
        "username": "outsider", "password": PASSWORD, "csrf_token": "form-token", "next": "//evil.example/x"}),
        page=True),
    "healthz": Probe("GET", "/healthz", _fixed("/healthz")),
    "static": Probe("GET", "/static", _fixed("/static/favicon.svg"), mount=True),
    "openapi": Probe("GET", "/openapi.json", _fixed("/openapi.json")),
    "docs": Probe("GET", "/docs", _fixed("/docs")),
    "cred.create": Probe("POST", f"{API}/credentials", _fixed(
        f"{API}/credentials", {"title": "Started by the matrix", "org_unit": "logistics"})),
    "cred.list": Probe("GET", f"{API}/credentials", _fixed(f"{API}/credentials?limit=200")),
    "cred.get": Probe("GET", CID, _cred()),
    "cred.summary": Probe("GET", f"{CID}/summary", _cred("/summary")),
    "cred.impact": Probe("GET", f"{CID}/impact", _cred("/impact")),
    "cred.achievement": Probe("GET", f"{CID}/achievement", _cred("/achievement")),
    "pathways.graph": Probe("GET", f"{API}/pathways", _fixed(f"{API}/pathways")),
    "analytics.api": Probe("GET", f"{API}/analytics", _fixed(f"{API}/analytics")),
    "cred.patch": Probe("PATCH", CID, _patch),
    "cred.item.lead": Probe("POST", f"{CID}/checklist/{{item}}", _fresh_cred(
        "/checklist/priorities_alignment", {"done": True, "note": "Shown in the one-pager"})),
    "cred.item.sme": Probe("POST", f"{CID}/checklist/{{item}}", _fresh_cred(
        "/checklist/curricular_proposal_started", {"done": True, "note": "Started"})),
    "cred.decide": Probe("POST", f"{CID}/gates/{{gate}}/decisions", _fresh_cred(
        "/gates/feasibility_approval/decisions", {"decision": "approve", "comment": "Go ahead"})),
    "cred.fire.hold": Probe("POST", f"{CID}/transitions", _fresh_cred("/transitions", HOLD)),
    "cred.override": Probe("POST", f"{CID}/override", _fresh_cred("/override", OVERRIDE)),
    "cred.team.sme": Probe("POST", f"{CID}/team", _fresh_cred("/team", {"username": "council.a", "role": "sme"})),
    "cred.team.dean": Probe("POST", f"{CID}/team", _fresh_cred("/team", {"username": "council.a", "role": "dean"})),
    "cred.events": Probe("GET", f"{CID}/events", _cred("/events")),
    "plan.get": Probe("GET", f"{CID}/plan", _cred("/plan")),
    "plan.target": Probe("PUT", f"{CID}/plan/target", _fresh_cred("/plan/target", {"target": "2027-09-07"})),
    "plan.phase": Probe("PUT", f"{CID}/plan/phases/{{state}}", _planned(
        "/plan/phases/design", {"on": "2027-04-01", "reason": "Council meets late"})),
    "plan.baseline": Probe("POST", f"{CID}/plan/baseline", _planned("/plan/baseline", {"reason": "Funding"})),
    "plans.intakes": Probe("GET", f"{API}/plans/intakes", _fixed(f"{API}/plans/intakes")),
    "plans.timeline": Probe("GET", f"{API}/plans/timeline", _fixed(f"{API}/plans/timeline")),
    "me": Probe("GET", f"{API}/me", _fixed(f"{API}/me")),
    "me.approvals": Probe("GET", f"{API}/me/approvals", _fixed(f"{API}/me/approvals?limit=200")),
    "me.tasks": Probe("GET", f"{API}/me/tasks", _fixed(f"{API}/me/tasks?limit=500")),
    "deleg.list": Probe("GET", f"{API}/delegations", _fixed(f"{API}/delegations")),
    "deleg.create.all": Probe("POST", f"{API}/delegations", _delegation(None)),
    "deleg.create.dean": Probe("POST", f"{API}/delegations", _delegation("dean")),
    "deleg.revoke": Probe("DELETE", f"{API}/delegations/{{delegation_id}}", _revoke_delegation),
    "tokens.list": Probe("GET", f"{API}/tokens", _fixed(f"{API}/tokens")),
    "tokens.create": Probe("POST", f"{API}/tokens", _fixed(f"{API}/tokens", {"name": "matrix"})),
    "tokens.revoke.other": Probe("DELETE", f"{API}/tokens/{{token_id}}", _revoke_other_token),
    "timers.list": Probe("GET", f"{API}/timers", _fixed(f"{API}/timers?limit=500")),
    "outbox.retry.dead": Probe("POST", f"{API}/outbox/retry-dead", _fixed(f"{API}/outbox/retry-dead",
                                                                        {"kind": "reminder"})),
    "mail.health": Probe("GET", f"{API}/admin/mail-health", _fixed(f"{API}/admin/mail-health")),
    "outbox.list": Probe("GET", f"{API}/outbox", _fixed(f"{API}/outbox")),
    "outbox.get": Probe("GET", f"{API}/outbox/{{message_id}}", lambda w: (f"{API}/outbox/{w.a_message()}", None)),
    "outbox.retry.pending": Probe("POST", f"{API}/outbox/{{message_id}}/retry",
                                  lambda w: (f"{API}/outbox/{w.a_message()}/retry", None)),
    "me.calendar": Probe("POST", f"{API}/me/calendar", _fixed(f"{API}/me/calendar")),
    "page.calendar.bad": Probe("GET", "/calendar/{token}.ics", _fixed("/calendar/not-a-real-token.ics")),
    "defs.list": Probe("GET", f"{API}/definitions", _fixed(f"{API}/definitions")),
    "defs.get": Probe("GET", f"{API}/definitions/{{name}}", _fixed(f"{API}/definitions/microcredential")),
    "defs.reload": Probe("POST", f"{API}/admin/definitions/reload", _fixed(f"{API}/admin/definitions/reload")),
    "orgunits.list": Probe("GET", f"{API}/org-units", _fixed(f"{API}/org-units")),
    "orgunits.create": Probe("POST", f"{API}/org-units", lambda w: (
        f"{API}/org-units", {"key": f"matrix-unit-{w.serial()}", "name": "New school", "kind": "department",
                             "parent": "business"})),
    "users.list": Probe("GET", f"{API}/users", _fixed(f"{API}/users")),
    "users.create": Probe("POST", f"{API}/users", lambda w: (
        f"{API}/users", {"username": f"matrix.new.{w.serial()}", "display_name": "New person"})),
    "users.patch": Probe("PATCH", f"{API}/users/{{user_id}}", _patch_user),
    "roles.assign": Probe("POST", f"{API}/role-assignments", _assign),
    "evid.list": Probe("GET", f"{CID}/evidence", _cred("/evidence")),
    "evid.upload": Probe("POST", f"{CID}/evidence/{{target}}", _fresh_cred("/evidence/one_pager", {}), upload=True),
    "evid.link": Probe("POST", f"{CID}/evidence/{{target}}/links", _fresh_cred(
        "/evidence/one_pager/links", {"link": "https://drive.example/one-pager"})),
    "evid.download": Probe("GET", f"{CID}/evidence/{{target}}/versions/{{version}}",
                           _cred("/evidence/one_pager/versions/1")),
    "evid.delete": Probe("DELETE", f"{CID}/evidence", _cred("/evidence")),
    "page.evid": Probe("GET", "/credentials/{credential_id}/evidence/{target}", lambda w: (
        f"/credentials/{w.credential_id}/evidence/one_pager", None), page=True),
    "page.evid.upload": Probe("POST", "/credentials/{credential_id}/evidence/{target}", _fresh_page(
        "/evidence/one_pager", {}), page=True, upload=True),
    "page.evid.link": Probe("POST", "/credentials/{credential_id}/evidence/{target}/links", _fresh_page(
        "/evidence/one_pager/links", {"link": "https://drive.example/one-pager"}), page=True),
    "page.evid.download": Probe("GET", "/credentials/{credential_id}/evidence/{target}/{version}/download", lambda w: (
        f"/credentials/{w.credential_id}/evidence/one_pager/1/download", None), page=True),
    "page.evid.preview": Probe("GET", "/credentials/{credential_id}/evidence/{target}/{version}/preview", lambda w: (
        f"/credentials/{w.credential_id}/evidence/one_pager/1/preview", None), page=True),
    "roles.unassign": Probe("DELETE", f"{API}/role-assignments/{{assignment_id}}",
                            lambda w: (f"{API}/role-assignments/{w.fresh_assignment()}", None)),
}

# -- what else a successful answer must (not) say ------------------------------------------------------------


def _credential_ids(items: list[dict[str, Any]], key: str = "credential_id") -> set[int]:
    return {item[key] for item in items}


def _check_timers(w: World, r: Response) -> str | None:
    listed = w.credential_id in _credential_ids(r.json()["items"])
    may_see = w.code in VIEWERS
    return None if listed == may_see else f"credential's timers listed={listed}, may see={may_see}"


def _check_list(w: World, r: Response) -> str | None:
    listed = w.credential_id in _credential_ids(r.json()["items"], "id")
    return None if listed == (w.code in VIEWERS) else f"credential listed={listed}, may see={w.code in VIEWERS}"


def _check_approvals(w: World, r: Response) -> str | None:
    mine = [i for i in r.json()["items"] if i["credential_id"] == w.credential_id]
    if bool(mine) != (w.code in DECIDERS):
        return f"feasibility gate listed={bool(mine)}, may decide={w.code in DECIDERS}"
    expected = "dean.business" if w.code == "actg" else None
    if any(i["on_behalf_of"] != expected for i in mine):
        return f"on_behalf_of should be {expected}: {mine}"
    return None


def _check_tasks(w: World, r: Response) -> str | None:
    listed = w.credential_id in _credential_ids(r.json()["items"])
    return None if listed == (w.code in ITEM_OWNERS) else f"tasks listed={listed}, owns={w.code in ITEM_OWNERS}"


def _check_me(w: World, r: Response) -> str | None:
    body = r.json()
    expected = (USERNAMES[w.code], ["dean.business"] if w.code == "actg" else [])
    found = (body["username"], body["acting_for"])
    return None if found == expected else f"(username, acting_for) {found} != {expected}"


def _check_decide(w: World, r: Response) -> str | None:
    expected = "dean.business" if w.code == "actg" else None
    body = r.json()
    if (body["role"], body["on_behalf_of"], body["fired"]) != ("dean", expected, None):
        return f"decision recorded as {body['role']} on behalf of {body['on_behalf_of']}, fired {body['fired']}"
    return None


def _check_delegations(w: World, r: Response) -> str | None:
    if w.code == "admn":
        return None
    me = USERNAMES[w.code]
    foreign = [d for d in r.json() if me not in (d["from_user"], d["to_user"])]
    return f"sees delegations of others: {foreign}" if foreign else None


def _check_tokens(w: World, r: Response) -> str | None:
    listed = w.other_token_id in {t["id"] for t in r.json()}
    owner = w.code == "dBus"
    return None if listed == owner else f"dean.business's token listed={listed}"


def _check_redirect(w: World, r: Response) -> str | None:
    return None if r.headers.get("location") == "/" else f"redirects to {r.headers.get('location')!r}"


CHECKS: dict[str, Callable[[World, Response], str | None]] = {
    "page.login.right_pw": _check_redirect,
    "cred.list": _check_list, "timers.list": _check_timers,
    "me.approvals": _check_approvals, "me.tasks": _check_tasks, "me": _check_me,
    "cred.decide": _check_decide, "deleg.list": _check_delegations, "tokens.list": _check_tokens,
}

# -- running one cell -----------------------------------------------------------------------------------------


def fingerprint(org: Services) -> dict[str, int]:
    """What a refused request must not change."""
    def count(table: Any, *where: Any) -> Any:
        return select(func.count()).select_from(table).where(*where).scalar_subquery()
    measures = {
        "users": count(USER), "active users": count(USER, USER.c.active.is_(True)),
        "role assignments": count(ASSIGNMENT), "delegations": count(DELEGATION),
        "revoked delegations": count(DELEGATION, DELEGATION.c.revoked_at.isnot(None)),
        "tokens": count(TOKEN), "revoked tokens": count(TOKEN, TOKEN.c.revoked_at.isnot(None)),
        "sessions": count(SESSION), "credentials": count(CREDENTIAL),
        "credential versions": select(func.coalesce(func.sum(CREDENTIAL.c.version), 0)).scalar_subquery(),
        "events": count(EVENT), "decisions": count(GATE_DECISION), "checklist entries": count(CHECKLIST_ENTRY),
        "evidence": count(EVIDENCE),
    }
    with org.database.begin_read() as conn:
        row = conn.execute(select(*(value.label(f"m{i}") for i, value in enumerate(measures.values())))).one()
    return {name: int(value) for name, value in zip(measures, row, strict=True)}


def flat_routes(app: FastAPI) -> list[tuple[BaseRoute, Any]]:
    """Every route and mount of the app, routers included in it opened up: (the route as declared, the route as
    the app serves it, with its full path and its ``matches``)."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI ≥ 0.165 keeps included routers whole
    except ImportError:
        return [(route, route) for route in app.routes]
    return [(context.original_route, context) for context in iter_route_contexts(app.routes)]


def route_keys(route: BaseRoute, served: Any) -> set[tuple[str, str]]:
    """(method, full path) for a route, ("MOUNT", prefix) for a mount."""
    if isinstance(route, Mount):
        return {("MOUNT", served.path)}
    if isinstance(route, Route):
        return {(method, served.path) for method in (served.methods or set()) - {"HEAD"}}
    return {(type(route).__name__, str(getattr(served, "path", route)))}


def resolve(app: FastAPI, method: str, url: str) -> tuple[str, str] | None:
    """The route (or mount) a request reaches."""
    scope = {"type": "http", "path": urlsplit(url).path, "root_path": "", "method": method, "headers": []}
    for route, served in flat_routes(app):
        match, _ = served.matches(scope)
        if match is Match.FULL:
            return ("MOUNT", served.path) if isinstance(route, Mount) else (method, served.path)
    return None


def label(code: str, key: str, status: int) -> str:
    probe = PROBES[key]
    path = probe.route.removeprefix(API).replace("{credential_id}", "{id}")
    variant = f" [{key}]" if sum(p.route_key == probe.route_key for p in PROBES.values()) > 1 else ""
    return f"{CALLERS[code]}-{probe.method} {path}{variant}-{status}"


def _shape(response: Response, page: bool) -> str | None:
    status = response.status_code
    if status >= 500:
        return f"server error: {response.text[:300]}"
    if status < 400:
        return None
    if page:
        html = response.headers.get("content-type", "").startswith("text/html")
        return None if html else f"a page answered {response.headers.get('content-type')!r}"
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"content-type {response.headers.get('content-type')!r}, not application/problem+json"
    body = response.json()
    if body.get("status") != status or not {"type", "title", "detail"} <= body.keys():
        return f"problem body does not say status {status}: {body}"
    if status == 401 and response.headers.get("www-authenticate") != "Bearer":
        return "a 401 without WWW-Authenticate: Bearer"
    return None


def _without(text: str, number: int) -> str:
    """The text with the credential's id taken out where it names the credential."""
    return re.sub(rf"(?<=credentials/){number}(?!\d)|(?<=credential ){number}(?!\d)", "ID", text)


def send(world: World, probe: Probe, url: str, body: dict[str, Any] | None, headers: dict[str, str]) -> Response:
    if body is not None and body.get("csrf_token") == SESSION_FORM:
        body = {k: v for k, v in body.items() if k != "csrf_token"} | (
            {"csrf_token": world.form_token} if world.form_token else {})
    if probe.upload:
        return world.client.request(probe.method, url, data=body or None, headers=headers,
                                    files={"file": ("one-pager.pdf", PDF, "application/pdf")})
    if not probe.page or body is None:
        return world.client.request(probe.method, url, json=body if not probe.page else None, headers=headers)
    if body.get("csrf_token") == "form-token":  # the form as the sign-in page gave it: its cookie holds the token
        world.client.cookies.set(LOGIN_CSRF_COOKIE, body["csrf_token"])
    return world.client.request(probe.method, url, data=body, headers=headers)


def run_cell(world: World, key: str) -> list[str]:
    """Send one probe as the world's caller; every way it differs from the matrix."""
    probe, expected = PROBES[key], EXPECTED[key][world.code].status
    name = label(world.code, key, expected)
    url, body = probe.request(world)
    if resolve(world.app, probe.method, url) != probe.route_key:
        return [f"{name}: {probe.method} {url} does not reach {probe.route_key}"]
    headers = world.begin_cell(probe.page)
    before = fingerprint(world.org)
    response = send(world, probe, url, body, headers)
    status = response.status_code
    if status != expected:
        return [f"{name}: got {status} {response.text[:300]}"]
    problems = [_shape(response, probe.page)]
    if status < 300 and key in CHECKS:
        problems.append(CHECKS[key](world, response))
    if (world.code not in VIEWERS or (status >= 400 and not probe.page)) and MARKER in response.text:
        problems.append("the answer shows the credential's data")
    if status >= 400:
        after = fingerprint(world.org)
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        if changed:
            problems.append(f"refused, yet changed {changed}")
    found = re.search(r"/credentials/(\d+)", url)
    if found and world.code not in VIEWERS:
        missing_url = url.replace(found.group(0), f"/credentials/{MISSING_ID}")
        missing = send(world, probe, missing_url, body, world.begin_cell(probe.page))
        if (missing.status_code, _without(missing.text, MISSING_ID)) != (status, _without(response.text,
                                                                                           int(found.group(1)))):
            problems.append(f"differs from a credential that does not exist: {missing.status_code} {missing.text}")
    return [f"{name}: {problem}" for problem in problems if problem]


# -- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture
def world_for(org: Services, app_client: TestClient) -> Iterator[Callable[[str], World]]:
    made: list[World] = []

    def make(code: str) -> World:
        made.append(World(org, app_client.app, code))
        return made[-1]

    yield make
    for world in made:
        world.client.close()


# -- the tests ------------------------------------------------------------------------------------------------


def enforced(keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The routes that must each have a row: every one (API, pages, mounts, anything not a plain route)."""
    return set(keys)


def test_every_route_is_in_the_matrix(settings: Settings) -> None:
    app = create_app(settings)
    routes = {key for route, served in flat_routes(app) for key in route_keys(route, served)}
    covered = {probe.route_key for probe in PROBES.values()}
    assert len({path for _, path in routes if path.startswith(API)}) > 20, f"API routes not found: {routes}"
    missing = enforced(routes) - covered
    assert not missing, f"routes without a row in the authorization matrix: {sorted(missing)}"
    assert not covered - routes, f"matrix rows for routes that do not exist: {sorted(covered - routes)}"
    assert set(EXPECTED) == set(PROBES), "every probe has a matrix row, and every row a probe"


@pytest.mark.parametrize("code", list(CALLERS), ids=list(CALLERS.values()))
def test_no_unauthorized_success(world_for: Callable[[str], World], code: str) -> None:
    world = world_for(code)
    mismatches: list[str] = []
    for key in PROBES:
        if not EXPECTED[key][code].known_bug:
            mismatches.extend(run_cell(world, key))
    assert not mismatches, f"{len(mismatches)} cell(s) differ from the matrix:\n" + "\n".join(mismatches)


BUG_CELLS = [(key, code) for key, cells in EXPECTED.items() for code in CALLERS if cells[code].known_bug]

if BUG_CELLS:  # (an empty parameter set would be a skip, which fails a strict run)
    @pytest.mark.parametrize(("key", "code"), [
        pytest.param(key, code, id=label(code, key, EXPECTED[key][code].status),
                     marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[key])) for key, code in BUG_CELLS])
    def test_known_authorization_bug(world_for: Callable[[str], World], key: str, code: str) -> None:
        mismatches = run_cell(world_for(code), key)
        assert not mismatches, "\n".join(mismatches)


def test_session_cookie_needs_the_csrf_token_to_change_anything(org: Services, app_client: TestClient) -> None:
    cid = credential_in_feasibility(org)
    version = org.views.get(cid, by=Caller.system()).version
    signed_in = app_client.post(f"{API}/auth/login", json={"username": "pm.business", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    csrf = signed_in.json()["csrf_token"]
    cookie_flags = {part.strip().lower() for part in signed_in.headers["set-cookie"].split(";")}
    assert {"httponly", "secure", "samesite=lax"} <= cookie_flags
    url = f"{API}/credentials/{cid}/transitions"

    assert app_client.get(f"{API}/credentials/{cid}").status_code == 200  # reading needs no CSRF token
    for headers in ({}, {CSRF_HEADER: ""}, {CSRF_HEADER: csrf[:-1]}, {CSRF_HEADER: "x" + csrf}):
        refused = app_client.post(url, json=HOLD, headers=headers)
        assert refused.status_code == 403, (headers, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["status"] == 403
    assert org.views.get(cid, by=Caller.system()).version == version, "a refused request changed it"

    allowed = app_client.post(url, json=HOLD, headers={CSRF_HEADER: csrf})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["state"] == "on_hold"

    session_cookie = app_client.cookies[SESSION_COOKIE]
    assert app_client.post(f"{API}/auth/logout").status_code == 204
    app_client.cookies.set(SESSION_COOKIE, session_cookie)
    ended = app_client.post(url, json={"trigger": "resume"}, headers={CSRF_HEADER: csrf})
    assert ended.status_code == 401, ended.text
    app_client.cookies.clear()


def test_malformed_credentials_are_not_authenticated(org: Services, app_client: TestClient) -> None:
    token = org.auth.create_token(org.people.user_id("admin"), "real").token
    variants = {
        "basic scheme": f"Basic {token}", "no scheme": token, "empty bearer": "Bearer ", "bearer only": "Bearer",
        "token with a space": f"Bearer {token[:10]} {token[10:]}", "token cut short": f"Bearer {token[:-1]}",
        "prefix missing": f"Bearer {token.removeprefix('mcw_')}",
    }
    for name, header in variants.items():
        response = app_client.get(f"{API}/users", headers={"Authorization": header})
        assert response.status_code == 401, (name, response.text)
        assert response.json()["status"] == 401
    assert app_client.get(f"{API}/users", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_delegation_passes_on_neither_administration_nor_itself(org: Services,
                                                                 client_for: Callable[[str], TestClient]) -> None:
    cid = credential_in_feasibility(org)
    today = org.clock.now().date()
    week = today + timedelta(days=7)
    admin, dean = org.access.caller_by_name("admin"), org.access.caller_by_name("dean.business")
    outsider, acting = client_for("outsider"), client_for("acting.dean")
    decide_url = f"{API}/credentials/{cid}/gates/feasibility_approval/decisions"
    approve = {"decision": "approve", "comment": "Go ahead"}

    org.people.delegate(to_username="outsider", starts_on=today, ends_on=week, by=admin)
    assert outsider.get(f"{API}/users").status_code == 403, "an administrator's delegate became an administrator"
    assert outsider.get(f"{API}/credentials/{cid}").status_code == 404

    delegation = org.people.delegate(to_username="acting.dean", starts_on=today, ends_on=week, by=dean)  # all roles
    org.people.delegate(to_username="outsider", starts_on=today, ends_on=week,
                        by=org.access.caller_by_name("acting.dean"))
    assert outsider.post(decide_url, json=approve).status_code == 404, "a delegate passed the delegation on"
    other = acting.post(decide_url, json={**approve, "on_behalf_of": "dean.health"})
    assert other.status_code == 403, "decided on behalf of someone who delegated nothing"
    assert outsider.delete(f"{API}/delegations/{delegation}").status_code == 404
    assert acting.delete(f"{API}/delegations/{delegation}").status_code == 404, "the delegate revoked it"

    deans_own = credential_in_feasibility(org, creator="dean.business")
    own_url = f"{API}/credentials/{deans_own}/gates/feasibility_approval/decisions"
    assert acting.post(own_url, json=approve).status_code == 403, "the proposer approved through a delegate"

    assert client_for("dean.business").delete(f"{API}/delegations/{delegation}").status_code == 204
    assert acting.get(f"{API}/credentials/{cid}").status_code == 404, "a revoked delegation still works"
    assert acting.post(decide_url, json=approve).status_code == 404

    org.people.delegate(to_username="acting.dean", role="dean", starts_on=today, ends_on=week, by=dean)
    assert acting.get(f"{API}/credentials/{cid}").status_code == 200
    org.people.set_active(user_id=org.people.user_id("dean.business"), active=False, by=Caller.system())
    assert acting.get(f"{API}/credentials/{cid}").status_code == 404, "a deactivated person's delegation still works"


def test_the_api_description_is_public_and_declares_how_to_sign_in(app_client: TestClient) -> None:
    app_client.cookies.clear()
    response = app_client.get("/openapi.json")
    assert response.status_code == 200, response.text
    document = response.json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiToken"]["type"] == "http" and schemes["apiToken"]["scheme"] == "bearer"
    assert (schemes["session"]["type"], schemes["session"]["in"], schemes["session"]["name"]) == (
        "apiKey", "cookie", SESSION_COOKIE)
    either = [{"apiToken": []}, {"session": []}]
    assert document["paths"][f"{API}/credentials"]["get"]["security"] == either
    assert document["paths"][f"{API}/users"]["post"]["security"] == either
    assert "security" not in document["paths"][f"{API}/auth/login"]["post"]  # signing in needs nothing
    docs = app_client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
