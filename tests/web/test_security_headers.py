"""Every response carries the security headers: a strict policy with no inline code (the docs page's one script
is allowed by its hash only), no sniffing or framing, HSTS over HTTPS, and no caching of anything signed-in."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from workflow.config import Settings
from workflow.context import Services
from workflow.web.app import create_app
from workflow.web.security import inline_script_hashes

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
          "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "workflow" / "web" / "ui" / "templates"


def assert_protected(response, *, policy: str = POLICY) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    assert headers["content-security-policy"] == policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "camera=()" in headers["permissions-policy"] and "geolocation=()" in headers["permissions-policy"]
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_api_answers_and_problems_carry_the_headers_and_are_never_cached(
        app_client: TestClient, client_for: Callable[[str], TestClient]) -> None:
    dean = client_for("dean.business")
    for response in (dean.get("/api/v1/me"), dean.get("/api/v1/credentials/987654"),
                     dean.post("/api/v1/credentials", json={"title": ""}), app_client.get("/api/v1/me")):
        assert_protected(response)
        assert response.headers["cache-control"] == "no-store", response.request.url
    assert [r.status_code for r in (dean.get("/api/v1/credentials/987654"), app_client.get("/api/v1/me"))] == \
        [404, 401]


def test_pages_carry_the_policy_and_static_files_stay_cacheable(app_client: TestClient) -> None:
    login = app_client.get("/login")
    assert login.status_code == 200
    assert_protected(login)
    assert login.headers["cache-control"] == "no-store"  # it holds a fresh form token

    css = app_client.get("/static/site.css")
    assert css.status_code == 200
    assert_protected(css)
    assert "no-store" not in css.headers.get("cache-control", "")


def test_the_docs_page_runs_only_its_own_inline_script(client_for: Callable[[str], TestClient]) -> None:
    docs = client_for("admin").get("/docs")
    assert docs.status_code == 200 and "SwaggerUIBundle(" in docs.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(asset.startswith("/static/") for asset in assets), assets  # nothing from elsewhere
    scripts = re.findall(r"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", docs.text, re.DOTALL)
    assert len(scripts) == 1 and "url: '/openapi.json'" in scripts[0]
    (own_hash,) = inline_script_hashes(docs.text)
    policy = docs.headers["content-security-policy"]
    assert policy == POLICY.replace("script-src 'self'", f"script-src 'self' {own_hash}")
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert docs.headers["cache-control"] == "no-store"


def test_hsts_only_where_cookies_are_https_only(org: Services) -> None:
    plain = create_app(org.settings.model_copy(update={"cookie_secure": False}), services=org)
    with TestClient(plain) as client:
        response = client.get("/login")
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers
    assert response.headers["content-security-policy"] == POLICY


def test_the_site_templates_hold_no_inline_code_the_policy_would_block() -> None:
    offending = {}
    for template in sorted(TEMPLATES.glob("*.html")):
        text = template.read_text(encoding="utf-8")
        found = (re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", text) + re.findall(r"<style\b", text)
                 + re.findall(r"\sstyle\s*=", text) + re.findall(r"\son[a-z]+\s*=", text)
                 + re.findall(r"javascript:", text))
        if found:
            offending[template.name] = found
    assert list(TEMPLATES.glob("*.html")) and offending == {}


def test_production_refuses_plain_http_cookies_and_the_trial_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("WORKFLOW_COOKIE_SECURE", "false")
    monkeypatch.setenv("WORKFLOW_DATABASE_URL", "postgresql+psycopg://workflow@db/workflow")
    with pytest.raises(ValidationError, match="WORKFLOW_COOKIE_SECURE must stay true in production"):
        Settings()
    monkeypatch.delenv("WORKFLOW_COOKIE_SECURE")
    monkeypatch.delenv("WORKFLOW_DATABASE_URL")
    with pytest.raises(ValidationError, match="set WORKFLOW_DATABASE_URL in production"):
        Settings()
    monkeypatch.setenv("WORKFLOW_DATABASE_URL", "postgresql+psycopg://workflow@db/workflow")
    assert Settings().cookie_secure is True
