"""The test organisation: two faculties (one with a department), their deans and PMs, offices, a committee.

Everyone who signs in has the same password, and everyone gets a mailbox, <username>@test.example. The ``org``
fixture (tests/conftest.py) loads it; ``load_org`` also loads extra people or units on top of it.
"""

from __future__ import annotations

from functools import cache

import pytest
from sqlalchemy import update

from workflow.context import Services
from workflow.services import people as people_module
from workflow.services.access import Caller
from workflow.services.auth import hash_password
from workflow.services.orgfile import parse_org
from workflow.store.people import USER

PASSWORD = "correct horse battery"

ORG = f"""
units:
  - {{key: northern, name: Northern College, kind: institution}}
  - {{key: business, name: Faculty of Business, kind: faculty, parent: northern}}
  - {{key: logistics, name: School of Logistics, kind: department, parent: business}}
  - {{key: health, name: Faculty of Health, kind: faculty, parent: northern}}
users:
  - {{username: admin, name: Admin, admin: true, password: "{PASSWORD}"}}
  - {{username: dean.business, name: Dean of Business, password: "{PASSWORD}", roles: [{{role: dean, unit: business}}]}}
  - {{username: dean.health, name: Dean of Health, password: "{PASSWORD}", roles: [{{role: dean, unit: health}}]}}
  - {{username: pm.business, name: PM Business, password: "{PASSWORD}",
     roles: [{{role: project_manager, unit: business}}, {{role: initiative_lead, unit: business}}]}}
  - {{username: pm.health, name: PM Health, password: "{PASSWORD}",
     roles: [{{role: project_manager, unit: health}}, {{role: initiative_lead, unit: health}}]}}
  - {{username: registrar, name: Registrar, password: "{PASSWORD}", roles: [{{role: registrar, unit: northern}}]}}
  - {{username: qa, name: QA Office, password: "{PASSWORD}", roles: [{{role: qa_office, unit: northern}}]}}
  - {{username: council.a, name: Council A, password: "{PASSWORD}",
     roles: [{{role: academic_governance, unit: northern}}]}}
  - {{username: council.b, name: Council B, password: "{PASSWORD}",
     roles: [{{role: academic_governance, unit: northern}}]}}
  - {{username: council.c, name: Council C, roles: [{{role: academic_governance, unit: northern}}]}}
  - {{username: sme, name: SME, roles: [{{role: sme, unit: northern}}]}}
  - {{username: engage, name: Engagement lead, roles: [{{role: employer_engagement_lead, unit: northern}}]}}
  - {{username: chair, name: Department chair, roles: [{{role: department_chair, unit: business}}]}}
  - {{username: ccc.a, name: Curriculum A, roles: [{{role: curriculum_committee, unit: business}}]}}
  - {{username: ccc.b, name: Curriculum B, roles: [{{role: curriculum_committee, unit: business}}]}}
  - {{username: fc.a, name: Faculty council A, roles: [{{role: faculty_council, unit: northern}}]}}
  - {{username: fc.b, name: Faculty council B, roles: [{{role: faculty_council, unit: northern}}]}}
  - {{username: senate.a, name: Senate A, roles: [{{role: senate, unit: northern}}]}}
  - {{username: senate.b, name: Senate B, roles: [{{role: senate, unit: northern}}]}}
  - {{username: oqc, name: Quality council, roles: [{{role: quality_council, unit: northern}}]}}
  - {{username: instructor, name: Instructor, password: "{PASSWORD}", roles: [{{role: instructor, unit: northern}}]}}
  - {{username: assessor, name: PLAR assessor, roles: [{{role: plar_assessor, unit: northern}}]}}
  - {{username: acting.dean, name: Acting Dean, password: "{PASSWORD}"}}
  - {{username: outsider, name: Nobody in particular, password: "{PASSWORD}"}}
"""


@cache
def _hash_once(password: str, *, username: str = "") -> str:
    return hash_password(password)  # the same hash for everyone: the shared password is no one's username


def load_org(services: Services, text: str = ORG) -> Services:
    """Load an organisation file (units may refer to units loaded before); everyone without an address gets
    <username>@test.example.

    Everyone here has the same password: one Argon2 hash of it serves them all while the file loads (hashing it
    anew for each user would take most of a short test's time). Passwords set later are hashed as usual.
    """
    loaded = parse_org(text, file="org.yaml", known_roles=services.people.known_roles,
                       existing_units=services.people.unit_keys())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(people_module, "hash_password", _hash_once)
        services.people.load(loaded, by=Caller.system("test"))
    with services.database.begin() as conn:
        conn.execute(update(USER).where(USER.c.email == "").values(email=USER.c.username + "@test.example"))
    return services


def as_person(services: Services, username: str) -> Caller:
    """The service-level caller for a person of the test organisation, as of the clock's today (delegations are
    read when the caller is built)."""
    return services.access.caller_by_name(username)
