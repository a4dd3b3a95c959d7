"""A launched credential in standard forms: its Open Badges 3.0 Achievement, checked against 1EdTech's JSON
Schema (a copy in tests/services/standards/, see its PROVENANCE.md) inside a minimal AchievementCredential, and
read as JSON-LD with the context the project ships (no network); its critical information summary as JSON and
as a printable page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from pyld import jsonld

from tests.test_peoples_words import sign_in
from workflow.context import Services
from workflow.demo.college import seed
from workflow.services.access import Caller
from workflow.services.badges import OB_CONTEXT, awarded, context_document
from workflow.web.app import create_app

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "services" / "standards"
                     / "ob_v3p0_achievementcredential.schema.json").read_text(encoding="utf-8"))
OB = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#"
TOOLKIT_ITEMS = ["Title", "Provider", "Date awarded", "Description and purpose", "Learning outcomes",
                 "Participation mode", "Credits, if credit-bearing", "Time period of learning", "Prerequisites",
                 "Learning resources", "Assessment type", "Supervision and identity verification",
                 "Quality assurance body", "Outcome for a successful learner", "Integration and stackability"]


@pytest.fixture
def demo(services: Services) -> Iterator[tuple[Services, list[int], TestClient]]:
    created = seed(services)
    app = create_app(services.settings, services=services)
    with TestClient(app, base_url="https://testserver") as client:
        yield services, created, client


def api(services: Services, client: TestClient, username: str) -> dict[str, str]:
    token = services.auth.create_token(services.people.user_id(username), "tests").token
    return {"Authorization": f"Bearer {token}"}


def launched(services: Services, created: list[int]) -> list[int]:
    system = Caller.system("test")
    return [cid for cid in created if services.publication.summary(cid, by=system).launched_on is not None]


def test_every_launched_demo_credential_exports_an_achievement_valid_against_the_1edtech_schema(demo: Any) -> None:
    services, created, client = demo
    validator = jsonschema.Draft201909Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    headers = api(services, client, "pm.chen")
    ready = launched(services, created)
    assert len(ready) == 2  # cybersecurity essentials, and network defence (credit-bearing) which requires it
    for cid in ready:
        answer = client.get(f"/api/v1/credentials/{cid}/achievement", headers=headers)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/ld+json")
        achievement = answer.json()
        credential = awarded(achievement, learner="mailto:learner@example.org", on=date(2026, 10, 1),
                             expiry_months=services.views.get(cid, by=Caller.system("t")).data.get(
                                 "issued_expiry_months"))
        errors = sorted(validator.iter_errors(credential), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
        detail = services.views.get(cid, by=Caller.system("t"))
        assert achievement["name"] == detail.title
        assert achievement["creator"]["name"] == "Northern College"
        assert [a["targetName"] for a in achievement["alignment"]] == detail.data["learning_outcomes"]
        for outcome in detail.data["learning_outcomes"]:
            assert f"- {outcome}" in achievement["criteria"]["narrative"]
        assert achievement["resultDescription"][0]["name"] == "Pass mark"
        assert "Expiry of issued credentials: 36 months after award" in achievement["criteria"]["narrative"]
        assert credential["expirationDate"] == "2029-10-01T00:00:00Z"  # 36 months after the award
        if detail.data.get("credit_bearing"):
            assert achievement["creditsAvailable"] == 3.0
        else:
            assert "creditsAvailable" not in achievement
    network = next(c for c in ready if services.views.get(c, by=Caller.system("t")).data.get("credit_bearing"))
    percent = client.get(f"/api/v1/credentials/{ready[0]}/achievement", headers=headers).json()
    assert percent["resultDescription"][0] | {"id": ""} == {"id": "", "type": ["ResultDescription"],
                                                             "name": "Pass mark", "resultType": "Percent",
                                                             "requiredValue": "70"}
    assert network != ready[0]


def test_a_broken_achievement_fails_the_schema_so_the_check_can_fail(demo: Any) -> None:
    services, created, _client = demo
    achievement = services.publication.achievement(launched(services, created)[0], by=Caller.system("t"))
    del achievement["criteria"]
    credential = awarded(achievement, learner="mailto:learner@example.org", on=date(2026, 10, 1), expiry_months=None)
    validator = jsonschema.Draft201909Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    assert any("'criteria' is a required property" in e.message for e in validator.iter_errors(credential))


def test_a_credential_not_launched_has_no_achievement_yet(demo: Any) -> None:
    services, created, client = demo
    answer = client.get(f"/api/v1/credentials/{created[1]}/achievement", headers=api(services, client, "pm.garcia"))
    assert answer.status_code == 409
    assert f"credential {created[1]} has not been launched" in answer.json()["detail"]


def test_the_achievement_reads_as_json_ld_with_the_shipped_context_and_no_network(demo: Any) -> None:
    services, created, _ = demo
    asked: list[str] = []

    def offline(url: str, options: Any = None) -> dict[str, Any]:
        asked.append(url)  # anything but the shipped context fails here (KeyError): nothing is fetched
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": context_document(url)}

    achievement = services.publication.achievement(launched(services, created)[-1], by=Caller.system("t"))
    expanded = jsonld.expand(achievement, {"documentLoader": offline})
    assert asked == [OB_CONTEXT]
    node = expanded[0]
    assert node["@type"] == [OB + "Achievement"]
    assert node["https://schema.org/name"][0]["@value"] == "Network defence for small business"
    assert node[OB + "creditsAvailable"][0]["@value"] == 3.0
    assert {a["https://schema.org/targetName"][0]["@value"] for a in node[OB + "alignment"]} == {
        "Read a firewall log", "Contain an intrusion"}


def test_the_critical_information_summary_as_json_lists_the_toolkits_fifteen_items(demo: Any) -> None:
    services, created, client = demo
    headers = api(services, client, "pm.chen")
    summary = client.get(f"/api/v1/credentials/{created[5]}/summary", headers=headers).json()
    assert [i["title"] for i in summary["items"]] == TOOLKIT_ITEMS
    by_key = {i["key"]: i for i in summary["items"]}
    assert by_key["date_awarded"]["text"] == "On completion; awarded since the launch on 2026-09-01"
    assert by_key["credits"]["text"] == "Credit-bearing: 3 credits"
    assert by_key["stackability"]["text"] == ("stackable; Requires first: Cybersecurity essentials for small "
                                              "business")
    assert by_key["learning_outcomes"]["lines"] == ["Read a firewall log", "Contain an intrusion"]
    assert not any(i["missing"] for i in summary["items"])
    early = client.get(f"/api/v1/credentials/{created[0]}/summary", headers=api(services, client, "pm.chen")).json()
    assert {i["key"] for i in early["items"] if i["missing"]} >= {"provider", "learning_outcomes", "qa_body"}
    assert client.get(f"/api/v1/credentials/{created[1]}/summary", headers=headers).status_code == 404  # business


def test_the_summary_page_prints_the_fifteen_items_without_the_site_around_them(demo: Any) -> None:
    _services, created, client = demo
    sign_in(client, "pm.chen")
    page = client.get(f"/credentials/{created[3]}/summary")
    assert page.status_code == 200
    titles = re.findall(r"<dt>\d+\. ([^<]+)</dt>", page.text)
    assert [t.replace("&#39;", "'") for t in titles] == TOOLKIT_ITEMS
    assert "Open Badges 3.0 Achievement (JSON-LD)" in page.text
    css = client.get("/static/site.css").text
    assert re.search(r"@media print \{\s*header\.site, footer\.site, \.skip, \.no-print", css)
    assert f'href="/credentials/{created[3]}/summary"' in client.get(f"/credentials/{created[3]}").text
