"""The demo college grown into a consortium: more faculties and departments, each with a dean and a project
manager, loaded with the demo password."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, update

from workflow.context import Services
from workflow.demo.college import FACULTY, ORGANISATION, PASSWORD
from workflow.services.access import Caller
from workflow.services.auth import hash_password
from workflow.services.orgfile import OrgFile, RoleSpec, UnitSpec, UserSpec, read_org_file
from workflow.store.people import USER

# The consortium beyond the demo college's three faculties: more faculties, each with departments, a dean and a
# project manager (who also leads the initiatives).
EXTRA_FACULTIES: list[tuple[str, str, list[tuple[str, str]], tuple[str, str], tuple[str, str]]] = [
    ("arts", "Faculty of Arts and Humanities", [("languages", "Department of Languages"),
                                                ("media", "School of Media and Design")],
     ("dean.moreau", "Dr Claire Moreau, Dean of Arts"), ("pm.silva", "Rita Silva, Project Manager (Arts)")),
    ("trades", "School of Skilled Trades", [("construction", "Construction Trades"),
                                            ("automotive", "Automotive and Heavy Equipment")],
     ("dean.obi", "Dr Chidi Obi, Dean of Skilled Trades"), ("pm.kowalski", "Jan Kowalski, Project Manager (Trades)")),
    ("community", "Faculty of Community Services", [("education", "Early Childhood Education"),
                                                    ("justice", "Justice Studies")],
     ("dean.haddad", "Dr Lina Haddad, Dean of Community Services"),
     ("pm.nakamura", "Yuki Nakamura, Project Manager (Community Services)")),
]
EXTRA_DEPARTMENTS = [("nursing", "School of Nursing", "health"), ("software", "School of Software", "technology")]


def organisation(known_roles: Collection[str]) -> OrgFile:
    """The demo college (``organisation.yaml``) grown into a consortium: more faculties and departments."""
    demo = read_org_file(ORGANISATION, known_roles=known_roles)
    units = list(demo.units)
    users = list(demo.users)
    for key, name, departments, dean, pm in EXTRA_FACULTIES:
        units.append(UnitSpec(key=key, name=name, kind="faculty", parent="northern"))
        units.extend(UnitSpec(key=d, name=n, kind="department", parent=key) for d, n in departments)
        users.append(UserSpec(username=dean[0], name=dean[1], email=f"{dean[0]}@northern.example", password=PASSWORD,
                              roles=(RoleSpec(role="dean", unit=key),)))
        users.append(UserSpec(username=pm[0], name=pm[1], email=f"{pm[0]}@northern.example", password=PASSWORD,
                              roles=(RoleSpec(role="project_manager", unit=key),
                                     RoleSpec(role="initiative_lead", unit=key))))
    units.extend(UnitSpec(key=key, name=name, kind="department", parent=parent)
                 for key, name, parent in EXTRA_DEPARTMENTS)
    return OrgFile(units=tuple(units), users=tuple(users))


def faculty_people() -> dict[str, dict[str, str]]:
    """Faculty key → who holds each faculty role there (dean, project manager, initiative lead)."""
    people = {key: dict(holders) for key, holders in FACULTY.items()}
    for key, _, _, dean, pm in EXTRA_FACULTIES:
        people[key] = {"dean": dean[0], "project_manager": pm[0], "initiative_lead": pm[0]}
    return people


def load_organisation(services: Services) -> None:
    """Load the consortium; people new here get the demo password. Every demo account shares one Argon2 hash of
    that well-known password (hashing it for each would cost a second for every few people)."""
    org = organisation(services.people.known_roles)
    with services.database.begin_read() as conn:
        existing = set(conn.execute(select(USER.c.username)).scalars())
    services.people.load(org.model_copy(update={"users": tuple(u.model_copy(update={"password": None})
                                                               for u in org.users)}), by=Caller.system("generate"))
    fresh = [u.username for u in org.users if u.password and u.username not in existing]
    if fresh:
        with services.database.begin() as conn:
            conn.execute(update(USER).where(USER.c.username.in_(fresh)).values(password_hash=hash_password(PASSWORD)))


def departments() -> list[tuple[str, str, str]]:
    found = [("supply_chain", "", "business")] + [(key, name, parent) for key, name, parent in EXTRA_DEPARTMENTS]
    for faculty, _, departments, _, _ in EXTRA_FACULTIES:
        found.extend((key, name, faculty) for key, name in departments)
    return found
