"""Nobody locks the organisation out: the last active administrator can be neither deactivated nor made an
ordinary user, whether through the API, the command line or an organisation file, and not by two administrators
deactivating each other at the same moment either."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.pages import sign_in
from workflow.context import Services
from workflow.errors import LastAdministrator
from workflow.services.access import Caller
from workflow.services.orgfile import parse_org

LAST = "Admin is the last active administrator; make someone else an administrator first"


def _state(org: Services, username: str) -> tuple[bool, bool]:
    user = org.people.user(org.people.user_id(username))
    return user["active"], user["is_admin"]


def test_the_only_administrator_cannot_deactivate_themselves_or_drop_the_flag(
        org: Services, client_for: Callable[[str], TestClient]) -> None:
    admin = client_for("admin")
    me = org.people.user_id("admin")
    for change in ({"active": False}, {"admin": False}, {"active": False, "admin": False}):
        refused = admin.patch(f"/api/v1/users/{me}", json=change)
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "/problems/last-administrator"
        assert refused.json()["detail"] == LAST
    assert _state(org, "admin") == (True, True)
    assert admin.get("/api/v1/me").status_code == 200  # still signed in, still an administrator
    assert admin.patch(f"/api/v1/users/{me}", json={"active": True}).json() == \
        {"id": me, "active": True, "is_admin": True}


def test_with_two_administrators_one_may_deactivate_the_other_but_not_then_themselves(
        org: Services, client_for: Callable[[str], TestClient]) -> None:
    admin = client_for("admin")
    dana = org.people.user_id("acting.dean")
    made = admin.patch(f"/api/v1/users/{dana}", json={"admin": True})
    assert made.json() == {"id": dana, "active": True, "is_admin": True}
    acting = client_for("acting.dean")
    me = org.people.user_id("admin")
    assert acting.patch(f"/api/v1/users/{me}", json={"active": False}).json() == \
        {"id": me, "active": False, "is_admin": True}
    refused = acting.patch(f"/api/v1/users/{dana}", json={"active": False})
    assert refused.status_code == 409
    assert refused.json()["detail"] == \
        "Acting Dean is the last active administrator; make someone else an administrator first"
    assert acting.patch(f"/api/v1/users/{dana}", json={"admin": False}).status_code == 409
    assert _state(org, "acting.dean") == (True, True)
    # Reactivating the first administrator lets the second step down.
    assert acting.patch(f"/api/v1/users/{me}", json={"active": True}).status_code == 200
    assert acting.patch(f"/api/v1/users/{dana}", json={"admin": False}).json()["is_admin"] is False


def test_an_empty_change_is_refused_by_field(org: Services, client_for: Callable[[str], TestClient]) -> None:
    refused = client_for("admin").patch(f"/api/v1/users/{org.people.user_id('outsider')}", json={})
    assert refused.status_code == 422
    assert "give active, admin or both" in refused.json()["detail"]


def test_two_administrators_deactivating_each_other_at_once_leave_one_active(org: Services) -> None:
    people = org.people
    people.set_admin(user_id=people.user_id("acting.dean"), admin=True, by=Caller.system("test"))
    admin, dana = people.user_id("admin"), people.user_id("acting.dean")
    for _ in range(5):  # several rounds, so the two transactions do overlap
        start = threading.Barrier(2)
        outcomes: list[str] = []
        threads = [threading.Thread(target=_deactivate, args=(org, dana, "admin", start, outcomes)),
                   threading.Thread(target=_deactivate, args=(org, admin, "acting.dean", start, outcomes))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["deactivated", "refused"]
        assert [_state(org, name)[0] for name in ("admin", "acting.dean")].count(True) == 1
        for user_id in (admin, dana):
            people.set_active(user_id=user_id, active=True, by=Caller.system("test"))


def _deactivate(org: Services, target: int, by: str, start: threading.Barrier, outcomes: list[str]) -> None:
    caller = org.access.caller_by_name(by)
    start.wait()
    try:
        org.people.set_active(user_id=target, active=False, by=caller)
        outcomes.append("deactivated")
    except LastAdministrator:
        outcomes.append("refused")


def test_an_organisation_file_that_drops_the_last_administrator_is_refused_whole(org: Services) -> None:
    text = """
units:
  - {key: northern, name: Northern College, kind: institution}
users:
  - {username: admin, name: Admin}
  - {username: newcomer, name: New Person}
"""
    with pytest.raises(LastAdministrator, match=LAST):
        org.people.load(parse_org(text, file="org.yaml", known_roles=org.people.known_roles),
                        by=Caller.system("test"))
    assert _state(org, "admin") == (True, True)
    with pytest.raises(Exception, match="newcomer"):
        org.people.user_id("newcomer")  # nothing of the file was kept
    org.people.load(parse_org(text.replace("New Person}", "New Person, admin: true}"), file="org.yaml",
                              known_roles=org.people.known_roles), by=Caller.system("test"))
    assert _state(org, "admin") == (True, False)
    assert _state(org, "newcomer") == (True, True)


def test_the_command_line_refuses_to_remove_the_last_administrator(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "org.yaml").write_text("""
units:
  - {key: northern, name: Northern College, kind: institution}
users:
  - {username: dana, name: Dana, admin: true}
  - {username: eli, name: Eli}
""")
    run("db", "upgrade")
    run("org", "load", str(tmp_path / "org.yaml"))
    message = "Dana is the last active administrator; make someone else an administrator first"
    for command in ("deactivate", "remove-admin"):
        refused = run("users", command, "dana", ok=False)
        assert refused.returncode == 1 and message in refused.stderr
    assert "eli is an administrator" in run("users", "make-admin", "eli").stdout
    assert "dana is deactivated" in run("users", "deactivate", "dana").stdout
    refused = run("users", "remove-admin", "eli", ok=False)
    assert "Eli is the last active administrator" in refused.stderr
    listed = run("users", "list").stdout
    assert "dana" in listed and "[admin] [inactive]" in listed
    assert "dana is active again" in run("users", "reactivate", "dana").stdout


def test_the_people_page_refuses_to_remove_the_last_administrator_and_says_why(
        org: Services, app_client: TestClient) -> None:
    token = sign_in(app_client, "admin")
    me, dana = org.people.user_id("admin"), org.people.user_id("acting.dean")
    listed = app_client.get("/admin/people").text
    assert "Deactivate<span class=\"visually-hidden\">: Admin</span>" in listed
    assert "Make administrator<span class=\"visually-hidden\">: Acting Dean</span>" in listed
    for change in ("deactivate", "remove-admin"):
        refused = app_client.post(f"/admin/people/{me}", data={"csrf_token": token, "change": change})
        assert refused.status_code == 409
        assert f'<div class="error" role="alert"><p>{LAST}</p></div>' in refused.text
    assert _state(org, "admin") == (True, True)
    made = app_client.post(f"/admin/people/{dana}", data={"csrf_token": token, "change": "make-admin"},
                           follow_redirects=True)
    assert "The person is now an administrator." in made.text
    assert _state(org, "acting.dean") == (True, True)
    unknown = app_client.post(f"/admin/people/{dana}", data={"csrf_token": token, "change": "promote"},
                              headers={"Accept": "text/html"})
    assert unknown.status_code == 422 and "change" in unknown.text
    assert _state(org, "acting.dean") == (True, True)
    gone = app_client.post(f"/admin/people/{me}", data={"csrf_token": token, "change": "deactivate"},
                           follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/admin/people?page=1&done=deactivate"
    assert _state(org, "admin") == (False, True)
