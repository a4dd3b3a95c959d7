"""Bad input on the forms that start and edit credentials, build their team, administer people and keep one's
account: each refusal says what is wrong beside the field, keeps what was typed, and changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.organisation import PASSWORD, as_person
from tests.web.pages import sign_in
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.store.people import ACCOUNT_LINK, USER
from workflow.store.tables import CREDENTIAL, OUTBOX

HTML = {"Accept": "text/html"}


def count(services: Services, table: object) -> int:
    with services.database.begin_read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def error_beside(page: str, field_id: str) -> str:
    """The error shown beside an input, which the input names with aria-describedby."""
    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', page)
    assert found is not None, f"no error beside {field_id}"
    assert re.search(rf'id="{field_id}"[^>]*aria-describedby="[^"]*{field_id}-error"', page), field_id
    return found.group(1).replace("&#39;", "'")


def start_form(token: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, "definition": "microcredential", "org_unit": "business",
            **{f"field.{k}": v for k, v in fields.items()}}


def test_starting_a_credential_shows_every_error_beside_its_field_and_keeps_what_was_typed(
        org: Services, app_client: TestClient) -> None:
    token = sign_in(app_client, "pm.business")
    form = app_client.get("/credentials/new")
    assert form.status_code == 200 and "Notional learning hours" in form.text
    assert "Hours a typical learner spends" in form.text  # the definition's help text
    before = count(org, CREDENTIAL)
    refused = app_client.post("/credentials/new", data=start_form(token, title="", notional_hours="lots",
                                                                  credits="1,5", purpose="Surveyors need pilots"))
    assert refused.status_code == 422
    assert error_beside(refused.text, "f-title") == "Title is required."
    assert error_beside(refused.text, "f-notional_hours") == "Notional learning hours: 'lots' is not a whole number."
    assert error_beside(refused.text, "f-credits") == "Credits: '1,5' is not a number."
    assert 'value="lots"' in refused.text and "Surveyors need pilots</textarea>" in refused.text
    too_long = app_client.post("/credentials/new", data=start_form(token, title="x" * 301))
    assert too_long.status_code == 422 and "is too long (at most 300 characters)" in too_long.text
    elsewhere = app_client.post("/credentials/new", data={**start_form(token, title="Drone mapping"),
                                                          "org_unit": "health"})
    assert elsewhere.status_code == 422
    assert error_beside(elsewhere.text, "f-org_unit") == "Choose the faculty or department the credential belongs to."
    wrong_kind = app_client.post("/credentials/new", data={**start_form(token, title="Drone"), "definition": "nope"})
    assert wrong_kind.status_code == 422 and "Choose the kind of credential to start." in wrong_kind.text
    assert count(org, CREDENTIAL) == before

    started = app_client.post("/credentials/new", data=start_form(token, title="Drone mapping", notional_hours="40",
                                                                  credits="1.5", credit_bearing="yes"),
                              follow_redirects=False)
    assert started.status_code == 303
    page = app_client.get(started.headers["location"])
    assert "The credential is started." in page.text and "Drone mapping" in page.text
    cid = int(started.headers["location"].split("/")[2].split("?")[0])
    detail = org.views.get(cid, by=as_person(org, "pm.business"))
    assert detail.state == "ideation" and detail.data["notional_hours"] == 40 and detail.data["credits"] == 1.5
    assert detail.data["credit_bearing"] is True


def test_someone_without_the_role_cannot_start_one(org: Services, app_client: TestClient) -> None:
    token = sign_in(app_client, "qa")
    assert app_client.get("/credentials/new").status_code == 403
    before = count(org, CREDENTIAL)
    assert app_client.post("/credentials/new", data=start_form(token, title="x")).status_code == 403
    assert count(org, CREDENTIAL) == before
    assert "Start a credential" not in app_client.get("/portfolio").text


@pytest.fixture
def credential(org: Services) -> int:
    return org.credentials.create(definition="microcredential", title="Supply-chain analytics",
                                  by=as_person(org, "pm.business"), org_unit_id=org.people.unit_id("business"))


def test_editing_refuses_an_emptied_required_field_and_a_bad_number_and_names_the_changed_fields(
        org: Services, app_client: TestClient, credential: int) -> None:
    token = sign_in(app_client, "pm.business")
    form = app_client.get(f"/credentials/{credential}/edit")
    assert form.status_code == 200 and 'value="Supply-chain analytics"' in form.text
    refused = app_client.post(f"/credentials/{credential}/edit", data={
        "csrf_token": token, "version": "1", "field.title": "", "field.notional_hours": "12.5"})
    assert refused.status_code == 422
    assert error_beside(refused.text, "f-title") == "Title is required."
    assert "is not a whole number" in error_beside(refused.text, "f-notional_hours")
    assert 'value="12.5"' in refused.text
    assert org.views.get(credential, by=as_person(org, "pm.business")).version == 1
    saved = app_client.post(f"/credentials/{credential}/edit", data={
        "csrf_token": token, "version": "1", "field.title": "Supply-chain analytics", "field.notional_hours": "30",
        "field.provider": "Northern College"}, follow_redirects=False)
    assert saved.status_code == 303
    history = app_client.get(f"/api/v1/credentials/{credential}/events",
                             headers={"X-CSRF-Token": token}).json()
    assert history[-1]["summary"] == "Information changed: Provider and Notional learning hours"
    stale = app_client.post(f"/credentials/{credential}/edit", data={
        "csrf_token": token, "version": "1", "field.provider": "Someone else"})
    assert stale.status_code == 409 and "changed since version 1" in stale.text


def test_someone_elses_credential_is_not_found_on_every_new_page(
        org: Services, app_client: TestClient, credential: int) -> None:
    token = sign_in(app_client, "pm.health")
    for path in (f"/credentials/{credential}/edit", f"/credentials/{credential}/team"):
        assert app_client.get(path, headers=HTML).status_code == 404
    assert app_client.post(f"/credentials/{credential}/edit", headers=HTML,
                           data={"csrf_token": token, "field.title": "Mine now"}).status_code == 404
    assert app_client.post(f"/credentials/{credential}/team", headers=HTML,
                           data={"csrf_token": token, "person": "sme", "role": "sme"}).status_code == 404
    assert org.people.credential_team(credential) == []


def test_the_team_form_refuses_what_the_editors_may_not_give(org: Services, app_client: TestClient,
                                                             credential: int) -> None:
    token = sign_in(app_client, "pm.business")
    page = app_client.get(f"/credentials/{credential}/team")
    assert page.status_code == 200 and "Subject matter expert" in page.text
    empty = app_client.post(f"/credentials/{credential}/team", data={"csrf_token": token})
    assert empty.status_code == 422
    assert error_beside(empty.text, "t-person") == "Choose a person." and error_beside(empty.text, "t-role")
    approver = app_client.post(f"/credentials/{credential}/team", data={"csrf_token": token, "person": "outsider",
                                                                       "role": "dean"})
    assert approver.status_code == 403 and "decides gates; only an administrator may give that role" in approver.text
    unknown = app_client.post(f"/credentials/{credential}/team", data={"csrf_token": token, "person": "nobody",
                                                                      "role": "sme"})
    assert unknown.status_code == 404 and "not in the directory" in unknown.text
    org.people.set_active(user_id=org.people.user_id("outsider"), active=False, by=as_person(org, "admin"))
    gone = app_client.post(f"/credentials/{credential}/team", data={"csrf_token": token, "person": "outsider",
                                                                   "role": "sme"})
    assert gone.status_code == 404 and "not in the directory (or is deactivated)" in gone.text
    assert org.people.credential_team(credential) == []
    added = app_client.post(f"/credentials/{credential}/team", data={"csrf_token": token, "person": "acting.dean",
                                                                    "role": "sme"}, follow_redirects=False)
    assert added.status_code == 303
    [member] = org.people.credential_team(credential)
    assert member["username"] == "acting.dean" and member["role"] == "sme"
    removed = app_client.post(f"/credentials/{credential}/team/{member['id']}/remove", data={"csrf_token": token},
                              follow_redirects=False)
    assert removed.status_code == 303 and org.people.credential_team(credential) == []
    again = app_client.post(f"/credentials/{credential}/team/{member['id']}/remove", data={"csrf_token": token})
    assert again.status_code == 404 and "no longer on the team" in again.text


def test_adding_a_person_refuses_empty_too_long_wrong_and_taken_values(org: Services, app_client: TestClient) -> None:
    token = sign_in(app_client, "admin")
    before = count(org, USER), count(org, OUTBOX)
    empty = app_client.post("/admin/people/new", data={"csrf_token": token})
    assert empty.status_code == 422
    for field in ("p-display_name", "p-username", "p-email"):
        assert error_beside(empty.text, field)
    long_name = app_client.post("/admin/people/new", data={"csrf_token": token, "display_name": "D" * 201,
                                                          "username": "dana", "email": "dana@test.example"})
    assert error_beside(long_name.text, "p-display_name") == "Is too long (at most 200 characters)."
    bad_mail = app_client.post("/admin/people/new", data={"csrf_token": token, "display_name": "Dana Lee",
                                                         "username": "dana", "email": "dana at college"})
    assert "is not an email address" in error_beside(bad_mail.text, "p-email").lower()
    assert 'value="dana at college"' in bad_mail.text and 'value="Dana Lee"' in bad_mail.text
    spaced = app_client.post("/admin/people/new", data={"csrf_token": token, "display_name": "Dana Lee",
                                                       "username": "dana lee", "email": "dana@test.example"})
    assert "without spaces" in error_beside(spaced.text, "p-username")
    taken = app_client.post("/admin/people/new", data={"csrf_token": token, "display_name": "Dana Lee",
                                                      "username": "pm.business", "email": "dana@test.example"})
    assert "already signs in as “pm.business”" in error_beside(taken.text, "p-username")
    assert (count(org, USER), count(org, OUTBOX)) == before
    wrong_role = app_client.post("/admin/people/roles", data={"csrf_token": token, "person": "outsider",
                                                             "role": "wizard", "unit": "business"})
    assert wrong_role.status_code == 422
    assert error_beside(wrong_role.text, "r-role") == "Choose one of the roles listed."
    no_unit = app_client.post("/admin/people/roles", data={"csrf_token": token, "person": "outsider", "role": "sme"})
    assert error_beside(no_unit.text, "r-unit") == "Choose the org unit the role is held for."
    assert not next(u for u in org.people.users() if u["username"] == "outsider")["roles"]


def test_not_an_administrator_cannot_use_the_people_forms(org: Services, app_client: TestClient) -> None:
    token = sign_in(app_client, "pm.business")
    before = count(org, USER)
    for path, data in (("/admin/people/new", {"display_name": "X", "username": "x", "email": "x@test.example"}),
                       ("/admin/people/roles", {"person": "pm.business", "role": "dean", "unit": "business"}),
                       (f"/admin/people/{org.people.user_id('outsider')}/reset-link", {})):
        assert app_client.post(path, headers=HTML, data={"csrf_token": token, **data}).status_code == 403
    assert count(org, USER) == before and count(org, ACCOUNT_LINK) == 0


def emailed_link(org: Services, recipient: str) -> str:
    with org.database.begin_read() as conn:
        body = conn.execute(select(OUTBOX.c.text_body).where(OUTBOX.c.recipient == recipient)
                            .order_by(OUTBOX.c.id.desc())).scalars().first()
    assert body is not None
    found = re.search(r"https?://\S+/password/(\S+)", body)
    assert found is not None, body
    return f"/password/{found.group(1)}"


def test_a_reset_link_refuses_short_passwords_expires_works_once_and_not_for_the_deactivated(
        org: Services, app_client: TestClient, clock: ManualClock) -> None:
    admin = as_person(org, "admin")
    outsider = org.people.user_id("outsider")
    org.accounts.send_link(user_id=outsider, purpose="reset", by=admin)
    link = emailed_link(org, "outsider@test.example")
    assert app_client.get(link).status_code == 200
    short = app_client.post(link, data={"password": "short", "repeat": "short"})
    assert short.status_code == 422 and "at least 12 characters" in error_beside(short.text, "l-password").lower()
    differ = app_client.post(link, data={"password": "long enough 1", "repeat": "long enough 2"})
    assert differ.status_code == 422 and error_beside(differ.text, "l-repeat") == "The two passwords differ."
    assert org.auth.authenticate("outsider", PASSWORD)  # nothing changed yet

    clock.advance(timedelta(hours=org.settings.account_link_hours, seconds=1))
    expired = app_client.post(link, data={"password": "a new password", "repeat": "a new password"})
    assert expired.status_code == 410 and "This link expired on" in expired.text
    assert org.auth.authenticate("outsider", PASSWORD)

    org.accounts.send_link(user_id=outsider, purpose="reset", by=admin)
    fresh = emailed_link(org, "outsider@test.example")
    assert fresh != link
    done = app_client.post(fresh, data={"password": "a new password", "repeat": "a new password"},
                           follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login?done=password-set"
    assert org.auth.authenticate("outsider", "a new password") == outsider
    reused = app_client.post(fresh, data={"password": "another password", "repeat": "another password"})
    assert reused.status_code == 410 and "has been used already" in reused.text
    assert org.auth.authenticate("outsider", "a new password") == outsider
    assert app_client.get("/password/not-a-real-link").status_code == 404

    org.accounts.send_link(user_id=outsider, purpose="reset", by=admin)
    third = emailed_link(org, "outsider@test.example")
    org.people.set_active(user_id=outsider, active=False, by=admin)
    deactivated = app_client.post(third, data={"password": "a third password", "repeat": "a third password"})
    assert deactivated.status_code == 404 and "This account is deactivated" in deactivated.text
    token = sign_in(app_client, "admin")
    refused = app_client.post(f"/admin/people/{outsider}/reset-link", data={"csrf_token": token})
    assert refused.status_code == 422 and "is deactivated; reactivate them first" in refused.text


def test_my_account_refuses_a_wrong_current_password_and_bad_tokens(org: Services, app_client: TestClient) -> None:
    token = sign_in(app_client, "pm.business")
    page = app_client.get("/account")
    assert page.status_code == 200 and "Change my password" in page.text
    wrong = app_client.post("/account/password", data={"csrf_token": token, "current": "not it",
                                                       "password": "a new password", "repeat": "a new password"})
    assert wrong.status_code == 422 and error_beside(wrong.text, "a-current") == "This is not your current password."
    short = app_client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                       "password": "short", "repeat": "short"})
    assert short.status_code == 422 and "at least 12 characters" in error_beside(short.text, "a-password")
    assert org.auth.authenticate("pm.business", PASSWORD)
    for data, field, said in (({"name": ""}, "t-name", "1 to 100 characters"),
                              ({"name": "x" * 101}, "t-name", "1 to 100 characters"),
                              ({"name": "laptop", "days": "soon"}, "t-days", "whole number of days"),
                              ({"name": "laptop", "days": "0"}, "t-days", "from 1 to 730 days")):
        refused = app_client.post("/account/tokens", data={"csrf_token": token, **data})
        assert refused.status_code == 422 and said in error_beside(refused.text, field), data
    assert org.auth.list_tokens(org.people.user_id("pm.business")) == []
    theirs = org.auth.create_token(org.people.user_id("pm.health"), "theirs")
    assert app_client.post(f"/account/tokens/{theirs.id}/revoke", headers=HTML,
                           data={"csrf_token": token}).status_code == 404
    assert org.auth.token_user(theirs.token) == org.people.user_id("pm.health")
    bad_zone = app_client.post("/account/preferences", data={"csrf_token": token, "delivery": "digest", "hour": "7",
                                                             "timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and "is not a time zone" in error_beside(bad_zone.text, "p-timezone")
    saved = app_client.post("/account/preferences", data={"csrf_token": token, "delivery": "digest", "hour": "7",
                                                          "timezone": "Europe/Paris"}, follow_redirects=False)
    assert saved.status_code == 303
    prefs = org.accounts.preferences(org.people.user_id("pm.business"))
    assert (prefs.digest_hour, prefs.timezone) == (7, "Europe/Paris")


def test_a_token_expires_after_its_days(org: Services, app_client: TestClient, clock: ManualClock) -> None:
    made = org.auth.create_token(org.people.user_id("pm.business"), "short-lived", days=2)
    headers = {"Authorization": f"Bearer {made.token}"}
    assert app_client.get("/api/v1/me", headers=headers).status_code == 200
    clock.advance(timedelta(days=2, seconds=1))
    assert app_client.get("/api/v1/me", headers=headers).status_code == 401


def test_deactivating_a_person_ends_their_sessions_and_tokens_at_once(org: Services, app_client: TestClient) -> None:
    made = org.auth.create_token(org.people.user_id("pm.business"), "script")
    sign_in(app_client, "pm.business")
    assert app_client.get("/account").status_code == 200
    org.people.set_active(user_id=org.people.user_id("pm.business"), active=False, by=as_person(org, "admin"))
    assert app_client.get("/account", headers=HTML, follow_redirects=False).status_code == 303
    org.people.set_active(user_id=org.people.user_id("pm.business"), active=True, by=as_person(org, "admin"))
    assert app_client.get("/account", headers=HTML, follow_redirects=False).status_code == 303  # still ended
    assert app_client.get("/api/v1/me", headers={"Authorization": f"Bearer {made.token}"}).status_code == 401
    with org.database.begin_read() as conn:
        assert conn.execute(select(USER.c.display_name).where(USER.c.username == "pm.business")).scalar() \
            == "PM Business"  # history keeps the name


def test_a_new_token_asks_the_password_again_once_the_sign_in_is_no_longer_recent(
        org: Services, app_client: TestClient, clock: ManualClock) -> None:
    token = sign_in(app_client, "pm.business")
    user_id = org.people.user_id("pm.business")
    assert 'name="confirm"' not in app_client.get("/account").text  # just signed in: no need to ask
    clock.advance(timedelta(minutes=8))
    app_client.get("/")  # still active, but the sign-in grows old
    clock.advance(timedelta(minutes=8))
    page = app_client.get("/account")
    assert 'name="confirm"' in page.text and "confirm it is you" in page.text
    form = {"csrf_token": token, "name": "laptop script", "days": "30"}
    for confirm in ("", "not my password at all"):
        refused = app_client.post("/account/tokens", data=form | {"confirm": confirm})
        assert refused.status_code == 401 and "Your password was not right" in error_beside(refused.text, "t-confirm")
        assert all(t["name"] != "laptop script" for t in org.auth.list_tokens(user_id))
    made = app_client.post("/account/tokens", data=form | {"confirm": PASSWORD})
    assert made.status_code == 201 and any(t["name"] == "laptop script" for t in org.auth.list_tokens(user_id))
    assert 'name="confirm"' not in app_client.get("/account").text  # confirmed: open again for a while
