"""The lifecycle drawing on the credential page and the administration page, and the list shown without Graphviz."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.steps import at_build, at_feasibility
from tests.web.pages import sign_in
from workflow.context import Services
from workflow.web.app import create_app

PID = "lifecycle-microcredential-v1"


def the_svgs(html: str) -> list[str]:
    return re.findall(r'<svg [^>]*class="lifecycle-graph".*?</svg>', html, flags=re.S)


def the_svg(html: str) -> str:
    found = the_svgs(html)
    assert len(found) == 1, "the page holds no lifecycle drawing"
    return found[0]


def classes_of(svg: str, element_id: str) -> set[str]:
    found = re.search(rf'<g id="{re.escape(element_id)}" class="([^"]*)"', svg)
    assert found is not None, element_id
    return set(found.group(1).split())


def test_the_credential_page_draws_the_lifecycle_with_where_it_is(org: Services, app_client: TestClient) -> None:
    cid = at_build(org)
    sign_in(app_client, "dean.business")
    page = app_client.get(f"/credentials/{cid}").text
    svg = the_svg(page)
    assert 'role="img"' in svg and f'aria-labelledby="{PID}-title"' in svg
    assert "now at Build. The way so far: Ideation, Feasibility, Design, Build." in svg
    assert {"current", "visited"} <= classes_of(svg, f"{PID}-state-build")
    assert "visited" in classes_of(svg, f"{PID}-state-feasibility")
    assert not {"current", "visited"} & classes_of(svg, f"{PID}-state-launch")
    assert "taken" in classes_of(svg, f"{PID}-move-approve_feasibility-feasibility-design")
    assert "taken" not in classes_of(svg, f"{PID}-move-sign_off-build-launch")
    assert " style=" not in svg and "<style" not in svg and "<script" not in svg
    way = re.search(r'<ol class="path-taken">(.*?)</ol>', page, flags=re.S)
    assert way is not None
    assert re.sub(r"<[^>]+>|\s+", " ", way.group(1)).split() == [
        "Ideation", "Feasibility", "Design", "Build", "(now)"]
    assert '<ol class="lifecycle">' not in page  # the list is only for when Graphviz is missing


def test_the_administration_page_draws_each_definition_whole(org: Services, app_client: TestClient) -> None:
    at_feasibility(org)
    sign_in(app_client, "admin")
    drawings = the_svgs(app_client.get("/admin").text)
    assert len(drawings) == len(org.definitions.names()), "one drawing per definition"
    svg = next(d for d in drawings if 'id="' + PID + '-state-on_hold"' in d)
    assert not re.search(r'class="[^"]*\b(current|visited|taken)\b', svg)
    assert 'id="' + PID + '-state-on_hold"' in svg and ">Put on hold<" in svg and ">Any phase<" in svg


@pytest.fixture
def without_dot(org: Services) -> Iterator[TestClient]:
    """The app where Graphviz's ``dot`` cannot be found."""
    settings = org.settings.model_copy(update={"graphviz_dot": "/nonexistent/graphviz/dot"})
    with TestClient(create_app(settings, services=org), base_url="https://testserver") as client:
        yield client


def test_without_graphviz_the_pages_list_the_states(org: Services, without_dot: TestClient,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    cid = at_feasibility(org)
    sign_in(without_dot, "dean.business")
    page = without_dot.get(f"/credentials/{cid}")
    assert page.status_code == 200 and 'class="lifecycle-graph"' not in page.text
    assert '<li aria-current="step" class="current"><span class="step-title">Feasibility</span>' in page.text
    sign_in(without_dot, "admin")
    admin = without_dot.get("/admin")
    assert admin.status_code == 200 and '<ol class="lifecycle">' in admin.text
    assert caplog.text.count("was not found; lifecycles are shown as lists") == 1
