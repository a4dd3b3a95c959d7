"""Everyone's own work in a real browser: a project manager starts a credential from its form (errors beside the
fields, values kept), puts a subject matter expert on its team and submits it to feasibility; an administrator adds a
person and gives a role, and the person chooses a password with the link emailed to them (over real SMTP); a person
makes and revokes an API token (which stops working at once); deactivating a person ends their open session. Each
new page is checked with axe-core and photographed on a laptop and on a phone."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.notify.conftest import mail, settings  # noqa: F401  (fixtures: a real SMTP server, settings sending to it)
from tests.notify.mailing import MailServer
from tests.organisation import PASSWORD, as_person, load_org
from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from workflow.context import Services
from workflow.web.app import create_app

OpenPage = Callable[..., Page]
VIEWPORTS = (((1366, 768), "laptop"), ((390, 844), "phone"))
RIVERA = f"""
units: []
users:
  - {{username: rivera, name: Dr Rivera, password: "{PASSWORD}"}}
"""


def look(page: Page, name: str) -> None:
    """A screenshot, and no serious accessibility problem on the page as it is."""
    screenshot(page, name)
    assert axe_violations(page) == [], name


def on_both(open_page: OpenPage, username: str, path: str, name: str) -> None:
    """The page as ``username`` sees it on a laptop and on a phone."""
    for viewport, device in VIEWPORTS:
        page = open_page(viewport)
        sign_in(page, username, path)
        look(page, f"{name}-{device}")


def test_a_project_manager_starts_a_credential_builds_its_team_and_submits_it(org: Services,
                                                                               open_page: OpenPage) -> None:
    load_org(org, RIVERA)
    page = open_page((1366, 768))
    sign_in(page, "pm.business", "/portfolio")
    page.get_by_role("link", name="Start a credential").click()
    expect(page.get_by_role("heading", name="Start a credential")).to_be_visible()
    page.get_by_label("Faculty or department").select_option(label="Faculty of Business")
    page.get_by_label("Need addressed (purpose)").fill("Surveyors need certified drone pilots")
    page.get_by_label("Notional learning hours").fill("forty")
    page.get_by_role("button", name="Start the credential").click()

    expect(page.get_by_role("alert")).to_contain_text("2 fields need correcting")
    title = page.get_by_label("Title (required)")
    hours = page.get_by_label("Notional learning hours")
    expect(title).to_have_accessible_description(re.compile("Title is required"))
    expect(hours).to_have_accessible_description(re.compile("'forty' is not a whole number"))
    expect(hours).to_have_value("forty")
    expect(page.get_by_label("Need addressed (purpose)")).to_have_value("Surveyors need certified drone pilots")
    expect(page.get_by_label("Faculty or department")).to_have_value("business")
    look(page, "start-credential-errors-laptop")
    phone = open_page((390, 844))
    sign_in(phone, "pm.business", "/credentials/new")
    look(phone, "start-credential-phone")

    title.fill("Drone mapping for surveyors")
    hours.fill("40")
    page.get_by_role("button", name="Start the credential").click()
    expect(page.get_by_role("status")).to_have_text("The credential is started.")
    expect(page.get_by_test_id("state")).to_have_text("Ideation")
    credential_id = int(page.url.split("/credentials/")[1].split("?")[0])

    page.get_by_role("link", name="Team").click()
    page.get_by_label("Person").select_option(label="Dr Rivera (rivera)")
    page.get_by_label("Role on this credential").select_option(label="Subject matter expert")
    page.get_by_role("button", name="Add to the team").click()
    expect(page.get_by_role("status")).to_have_text("The person is on the team.")
    expect(page.get_by_role("row", name=re.compile("^Subject matter expert"))).to_contain_text("Dr Rivera")
    look(page, "team-laptop")
    on_both(open_page, "pm.business", f"/credentials/{credential_id}/team", "team")
    on_both(open_page, "pm.business", f"/credentials/{credential_id}/edit", "edit-credential")

    expert = open_page((390, 844))  # the new team member ticks their item on a phone
    sign_in(expert, "rivera", f"/credentials/{credential_id}")
    expert.get_by_role("button", name=re.compile(r"^Mark done\s*: Skills and competencies industry")).click()
    expect(expert.get_by_role("status")).to_have_text("The checklist item is updated.")
    pm, engage = as_person(org, "pm.business"), as_person(org, "engage")
    for item, by in (("labour_market_research", pm), ("working_group_formed", pm), ("employers_contacted", engage)):
        org.credentials.set_item(credential_id=credential_id, item=item, done=True, by=by)

    page.goto(f"/credentials/{credential_id}")
    page.get_by_role("button", name="Submit for feasibility").click()
    expect(page.get_by_role("status")).to_have_text("The transition is done.")
    expect(page.get_by_test_id("state")).to_have_text("Feasibility")


def test_an_administrator_adds_a_person_who_chooses_a_password_with_the_emailed_link(
        org: Services, mail: MailServer, open_page: OpenPage) -> None:  # noqa: F811
    admin = open_page((1366, 768))
    sign_in(admin, "admin", "/admin/people")
    admin.get_by_role("button", name="Add and invite").click()
    expect(admin.get_by_label("Email")).to_have_accessible_description(re.compile("Give an email address"))
    look(admin, "people-add-errors-laptop")
    admin.get_by_label("Name", exact=True).fill("Dana Lee")
    admin.get_by_label("Login name").fill("dana.lee")
    admin.get_by_label("Email").fill("dana.lee@test.example")
    admin.get_by_role("button", name="Add and invite").click()
    expect(admin.get_by_role("status")).to_have_text("The person is added; an email invites them to choose a "
                                                     "password.")
    admin.get_by_label("Person", exact=True).select_option(label="Dana Lee (dana.lee)")
    admin.get_by_label("Role", exact=True).select_option(label="Subject matter expert")
    admin.get_by_label("For the org unit (and all below it)").select_option(label="Faculty of Business")
    admin.get_by_role("button", name="Give the role").click()
    expect(admin.get_by_role("status")).to_have_text("The role is given.")
    expect(admin.get_by_role("row", name=re.compile("Dana Lee"))).to_contain_text("Subject matter expert in business")
    on_both(open_page, "admin", "/admin/people", "people-admin")

    org.dispatcher.run()  # the outbox goes out over SMTP
    [invitation] = [r.message for r in mail.box.received if "dana.lee@test.example" in r.rcpt_tos]
    assert invitation["Subject"] == "Your account for the micro-credential workflow: choose a password"
    text = invitation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Your username is dana.lee." in text
    link = re.search(r"https?://\S+(/password/\S+)", text)
    assert link is not None, text

    for viewport, device in VIEWPORTS:
        look_page = open_page(viewport)
        look_page.goto(link.group(1))
        expect(look_page.get_by_role("heading", name="Choose your password")).to_be_visible()
        look(look_page, f"password-link-{device}")
    person = open_page((390, 844))
    person.goto(link.group(1))
    person.get_by_label("New password", exact=True).fill("too short")
    person.get_by_label("New password again").fill("too short")
    person.get_by_role("button", name="Set my password").click()
    expect(person.get_by_label("New password", exact=True)).to_have_accessible_description(
        re.compile("at least 12 characters"))
    person.get_by_label("New password", exact=True).fill("dana's own password")
    person.get_by_label("New password again").fill("dana's own password")
    person.get_by_role("button", name="Set my password").click()
    expect(person.get_by_role("status")).to_have_text("Your password is set. Sign in with it.")
    person.get_by_label("Username").fill("dana.lee")
    person.get_by_label("Password").fill("dana's own password")
    person.get_by_role("button", name="Sign in").click()
    expect(person.get_by_test_id("signed-in-as")).to_have_text("Dana Lee")
    person.goto(link.group(1))
    expect(person.get_by_role("alert")).to_contain_text("This link has been used already")


def test_a_person_makes_and_revokes_a_token_which_stops_working_at_once(org: Services, open_page: OpenPage) -> None:
    page = open_page((1366, 768))
    sign_in(page, "pm.business", "/account")
    page.get_by_label("Name").fill("laptop script")
    page.get_by_label("Works for how many days").fill("30")
    page.get_by_role("button", name="Make the token").click()
    token = page.locator("#new-token-value").inner_text().strip()
    assert token.startswith("mcw_")
    look(page, "account-new-token-laptop")
    api = TestClient(create_app(org.settings, services=org), base_url="https://testserver",
                     headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/me").json()["username"] == "pm.business"
    page.goto("/account")
    expect(page.get_by_text(token)).to_have_count(0)  # shown once only
    page.get_by_role("button", name=re.compile(r"^Revoke\s*: laptop script$")).click()
    expect(page.get_by_role("status")).to_have_text("The token is revoked: it no longer works.")
    assert api.get("/api/v1/me").status_code == 401
    on_both(open_page, "pm.business", "/account", "account")


def test_deactivating_a_person_ends_their_open_session(org: Services, open_page: OpenPage) -> None:
    person = open_page((1366, 768))
    sign_in(person, "pm.business", "/portfolio")
    admin = open_page((1366, 768))
    sign_in(admin, "admin", "/admin/people")
    admin.get_by_role("button", name=re.compile(r"^Deactivate\s*: PM Business$")).click()
    expect(admin.get_by_role("status")).to_contain_text("The person is deactivated")
    person.goto("/tasks")
    expect(person.get_by_role("button", name="Sign in")).to_be_visible()
    assert "/login" in person.url
