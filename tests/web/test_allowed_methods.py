"""A 405 lists every method its path allows (RFC 9110), as the app's routes declare them, for the API and the
pages alike; HEAD is answered wherever GET is, with the same headers and no body."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount, compile_path

from workflow.context import Services

ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def declared(app: FastAPI) -> dict[str, set[str]]:
    """Each path template of the app (mounts aside) and the methods its routes declare."""
    paths: dict[str, set[str]] = {}
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, Mount):
            paths.setdefault(context.path, set()).update(context.methods or ())
    return paths


def expected_allow(app: FastAPI, url: str) -> str:
    """What Allow should say for a concrete path: every route whose template matches it, HEAD with GET."""
    methods: set[str] = set()
    for template, declared_methods in declared(app).items():
        if compile_path(template)[0].match(url):
            methods |= declared_methods
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(m for m in ORDER if m in methods)


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0).endswith("id}") else "some_key", template)


def test_a_path_with_get_and_post_allows_get_head_and_post(org: Services, app_client: TestClient) -> None:
    token = org.auth.create_token(org.people.user_id("admin"), "tests").token
    refused = app_client.put("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD, POST"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/method-not-allowed"
    assert app_client.delete("/login").headers["allow"] == "GET, HEAD, POST"


def test_every_path_of_the_app_answers_a_wrong_method_with_all_its_methods(app_client: TestClient) -> None:
    app = app_client.app
    assert isinstance(app, FastAPI)
    checked = 0
    for template, methods in declared(app).items():
        url = concrete(template)
        wrong = next(m for m in ("PUT", "DELETE", "PATCH", "POST") if m not in methods)
        answer = app_client.request(wrong, url)
        if answer.status_code != 405:  # a path another route's template also matches, with that method
            assert wrong in expected_allow(app, url).split(", "), (wrong, url, answer.status_code)
            continue
        assert answer.headers["allow"] == expected_allow(app, url), (wrong, url)
        checked += 1
    assert checked > 40


def test_a_browser_gets_the_page_with_the_same_allow(org: Services, app_client: TestClient) -> None:
    refused = app_client.put("/admin/people", headers={"Accept": "text/html"})
    assert refused.status_code == 405
    assert refused.headers["content-type"].startswith("text/html")
    assert refused.headers["allow"] == "GET, HEAD"


def test_head_is_answered_like_get_without_the_body(org: Services, app_client: TestClient) -> None:
    for url in ("/login", "/healthz", "/openapi.json", "/static/site.css"):
        got, head = app_client.get(url), app_client.head(url)
        assert (got.status_code, head.status_code) == (200, 200), url
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]
    assert app_client.head("/api/v1/me").status_code == 401  # signed out, as a GET would be
    assert app_client.head("/no/such/page").status_code == 404
