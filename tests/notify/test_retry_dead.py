"""Dead messages come back in one action — all of them, or those of one kind, to one address, or created within
some days — from the outbox page (after confirming how many), the API and the command line; the others stay dead."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from tests.conftest import settings_for
from tests.notify.mailing import ENGAGEMENT, MailServer, create, outbox, override, person, smtp_settings, web_clients
from tests.organisation import load_org
from workflow.clock import ManualClock
from workflow.context import Services

REFUSAL = "550 5.1.1 mailbox unavailable"


def refuse_and_send(services: Services, mail: MailServer) -> None:
    """The server refuses every address now waiting for mail, for good: each such message is dead."""
    for row in outbox(services, status="pending"):
        mail.box.refuse[row.recipient] = REFUSAL
    services.dispatcher.run()


def dead_mail(services: Services, mail: MailServer, clock: ManualClock) -> int:
    """Dead messages of two kinds on two days (1 and 3 September); returns the second credential's id."""
    first = create(services, "Supply-chain analytics")  # checklist items assigned, 1 September
    refuse_and_send(services, mail)
    clock.advance(timedelta(days=2))
    override(services, first, "submit_for_feasibility")  # a decision needed, 3 September
    second = create(services, "Drone mapping")  # checklist items assigned, 3 September
    refuse_and_send(services, mail)
    assert {row.status for row in outbox(services)} == {"dead"}
    return second


def statuses(services: Services) -> dict[int, str]:
    return {row.id: row.status for row in outbox(services)}


def test_the_outbox_page_retries_the_dead_messages_a_filter_picks_after_confirming_how_many(
        org: Services, mail: MailServer, clock: ManualClock) -> None:
    dead_mail(org, mail, clock)
    rows = outbox(org)
    picked = {r.id for r in rows if r.kind == "item_assigned" and r.created_at.day == 3}
    assert 0 < len(picked) < len(rows) and {r.kind for r in rows} >= {"item_assigned", "decision_needed"}
    browser, api = web_clients(org, "admin")

    listing = browser.get("/admin/outbox?status=dead").text
    assert "Retry dead messages at once" in listing
    assert '<option value="item_assigned">Checklist item assigned</option>' in listing
    assert '<option value="decision_needed">Decision needed</option>' in listing

    confirm = browser.get("/admin/outbox/retry-dead", params={"kind": "item_assigned", "since": "2026-09-03"})
    assert confirm.status_code == 200
    said = " ".join(re.sub(r"<[^>]+>", " ", confirm.text.split('data-testid="retry-count">')[1].split("</p>")[0])
                    .split())
    assert said == (f"Please confirm. {len(picked)} dead messages of kind “Checklist item assigned” created on or "
                    "after 2026-09-03 will be sent again.")
    assert statuses(org) == {r.id: "dead" for r in rows}  # counting changes nothing

    wrong = browser.get("/admin/outbox/retry-dead", params={"since": "3 Sept", "until": "2026-09-01"})
    assert wrong.status_code == 422
    assert 'id="since-error">Enter a date as year-month-day, for example 2026-09-01.' in wrong.text
    assert 'value="3 Sept"' in wrong.text  # what was typed stays in the field

    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.text)
    assert token is not None
    done = browser.post("/admin/outbox/retry-dead", data={"csrf_token": token.group(1), "kind": "item_assigned",
                                                          "recipient": "", "since": "2026-09-03", "until": ""},
                        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/admin/outbox?status=pending&done=retried_all"
    assert "The chosen messages will be sent again." in browser.get(done.headers["location"]).text
    after = {r.id: r for r in outbox(org)}
    assert {i for i, r in after.items() if r.status == "pending"} == picked
    assert all(after[i].attempts == 0 and after[i].last_error == "" and after[i].next_attempt_at == clock.now()
               for i in picked)
    assert all(r.status == "dead" and r.last_error == REFUSAL for i, r in after.items() if i not in picked)

    # by address, through the API: only the messages to that address that are still dead
    to_sme = {r.id for r in after.values() if r.recipient == person("sme") and r.status == "dead"}
    assert to_sme
    answer = api.post("/api/v1/outbox/retry-dead", json={"recipient": "SME@test.example"})
    assert answer.status_code == 200 and answer.json() == {"retried": len(to_sme)}
    assert {i for i, s in statuses(org).items() if s == "pending"} == picked | to_sme
    assert web_clients(org, "pm.business")[1].post("/api/v1/outbox/retry-dead", json={}).status_code == 403

    mail.box.refuse.clear()  # the addresses were fixed
    assert org.dispatcher.run() == len(picked | to_sme)
    assert {i for i, s in statuses(org).items() if s == "sent"} == picked | to_sme


def test_the_command_retries_dead_messages_by_kind_and_says_how_many(
        run: Callable[..., object], tmp_path: Path, mail: MailServer, clock: ManualClock) -> None:
    (tmp_path / "data").mkdir()
    settings = smtp_settings(settings_for(f"sqlite:///{tmp_path / 'data' / 'workflow.db'}", tmp_path / "data"),
                             mail.port)
    services = Services.start(settings, clock)
    try:
        load_org(load_org(services), ENGAGEMENT)
        dead_mail(services, mail, clock)
        rows = outbox(services)
        decisions = {r.id for r in rows if r.kind == "decision_needed"}
        assert len(decisions) == 1 and len(rows) == 15  # the dean's decision; 14 other messages
        mail.stop()  # and now the server does not answer at all
        create(services, "Cold-chain logistics")
        services.dispatcher.run()
        waiting = len(outbox(services, status="pending"))
        assert waiting > 0
    finally:
        services.close()

    done = run("outbox", "retry", "--dead", "--kind", "decision_needed", "--since", "2026-09-02")
    assert done.stdout == "1 dead message queued again; 14 still dead.\n"
    none = run("outbox", "retry", "--dead", "--kind", "decision_needed", "--until", "2026-09-02")
    assert none.stdout == "0 dead messages queued again; 14 still dead.\n"
    unknown = run("outbox", "retry", "--dead", "--kind", "gossip", ok=False)
    assert unknown.returncode == 2 and "there is no kind of message 'gossip'" in unknown.stderr
    vague = run("outbox", "retry", ok=False)
    assert vague.returncode == 2 and "--dead" in vague.stderr
    health = run("outbox", "health", ok=False)
    assert health.returncode == 1
    assert health.stdout == (f"failing since 2026-09-03 09:00 UTC (connection refused to 127.0.0.1:{mail.port}); "
                             f"{waiting + 1} waiting, next try 09:00 UTC\n")

    services = Services.start(settings, clock)
    try:
        retried = [r for r in outbox(services, status="pending") if r.kind == "decision_needed"]
        assert {r.id for r in retried} == decisions and {r.attempts for r in retried} == {0}
        assert len(outbox(services, status="dead")) == 14
    finally:
        services.close()
