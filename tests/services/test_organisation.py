"""The organisation file and role assignments: roles must come from the definitions, problems name file and line."""

from __future__ import annotations

import pytest

from workflow.context import Services
from workflow.errors import Forbidden, InvalidFile, InvalidInput
from workflow.services.access import Caller
from workflow.services.orgfile import parse_org

SYSTEM = Caller.system("test")

GOOD = """
units:
  - {key: northern, name: Northern College, kind: institution}
  - {key: arts, name: Faculty of Arts, kind: faculty, parent: northern}
users:
  - {username: dean.arts, name: Dean of Arts, roles: [{role: dean, unit: arts}]}
"""


def test_an_unknown_role_or_unit_in_the_file_is_refused_with_its_line(services: Services) -> None:
    broken = GOOD.replace("role: dean, unit: arts", "role: deen, unit: artz") + \
        "  - {username: x, name: X, roles: [{role: registrar, unit: northern}], shoe_size: 9}\n"
    with pytest.raises(InvalidFile) as caught:
        parse_org(broken, file="org.yaml", known_roles=services.people.known_roles)
    assert [str(p) for p in caught.value.problems] == [
        "org.yaml:7: [unknown-key] users[1]: unknown key 'shoe_size'; allowed: username, name, email, password, "
        "admin, digest_hour, timezone, roles"]
    with pytest.raises(InvalidFile) as caught:
        parse_org(GOOD.replace("role: dean, unit: arts", "role: deen, unit: artz"), file="org.yaml",
                  known_roles=services.people.known_roles)
    assert [str(p) for p in caught.value.problems] == [
        "org.yaml:6: [unknown-role] unknown role 'deen' — did you mean 'dean'? — roles come from the definitions",
        "org.yaml:6: [unknown-unit] unknown unit 'artz' — did you mean 'arts'?",
    ]


def test_loading_twice_adds_nothing_the_second_time(services: Services) -> None:
    org = parse_org(GOOD, file="org.yaml", known_roles=services.people.known_roles)
    first = services.people.load(org, by=SYSTEM)
    second = services.people.load(org, by=SYSTEM)
    assert (first.units_added, first.users_added, first.roles_added) == (2, 1, 1)
    assert (second.units_added, second.units_updated, second.users_added, second.roles_added) == (0, 2, 0, 0)


def test_assignments_need_a_known_role_and_an_administrator(services: Services) -> None:
    services.people.load(parse_org(GOOD, file="org.yaml", known_roles=services.people.known_roles), by=SYSTEM)
    user = services.people.user_id("dean.arts")
    arts = services.people.unit_id("arts")
    with pytest.raises(InvalidInput, match="unknown role 'registar' — did you mean 'registrar'"):
        services.people.assign(user_id=user, role="registar", unit_id=arts, by=SYSTEM)
    with pytest.raises(Forbidden, match="only an administrator"):
        services.people.assign(user_id=user, role="registrar", unit_id=arts,
                               by=services.access.caller_by_name("dean.arts"))
    services.people.assign(user_id=user, role="registrar", unit_id=arts, by=SYSTEM)
    assert {r["role"] for r in services.people.users()[0]["roles"]} == {"dean", "registrar"}
