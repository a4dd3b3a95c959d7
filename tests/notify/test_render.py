"""Rendering notifications: every kind renders, HTML is escaped while text is verbatim, subjects stay on one line,
and a broken or incomplete template is reported by name."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from tests.conftest import ROOT, settings_for
from tests.notify.mailing import MailServer, create, deliver
from tests.organisation import as_person, load_org
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import InvalidDefinition
from workflow.notify.render import KINDS, Renderer, TemplateProblem, sample_context

TEMPLATES = ROOT / "notifications"
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(TEMPLATES)


def with_title(kind: str, title: str) -> dict[str, Any]:
    """The sample context of ``kind`` with the credential (or, for a digest, the entry) titled ``title``."""
    context = sample_context(kind)
    if kind == "digest":
        context["entries"] = [{"subject": f"Decision needed for {title}", "link": "https://workflow.example/c/1"}]
    else:
        context["credential"] = {**context["credential"], "title": title}
    return context


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_its_sample(renderer: Renderer, kind: str) -> None:
    rendered = renderer.render(kind, sample_context(kind))
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and rendered.text.endswith("\n")
    assert rendered.html.lstrip().lower().startswith("<!doctype html>")
    assert f"<title>{rendered.subject}</title>" in rendered.html  # the layout shows the subject
    assert "You receive this because you hold the role Dean" in rendered.text


def test_the_templates_shipped_pass_the_check(renderer: Renderer) -> None:
    assert renderer.check() == []


@pytest.mark.parametrize("kind", KINDS)
def test_html_escapes_a_title_while_text_and_subject_keep_it(renderer: Renderer, kind: str) -> None:
    rendered = renderer.render(kind, with_title(kind, SCRIPT))
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert SCRIPT in rendered.text
    if kind != "digest":  # a digest's subject counts its entries and names none
        assert SCRIPT in rendered.subject


@pytest.mark.parametrize("kind", KINDS)
def test_a_subject_is_one_line_whatever_the_title(renderer: Renderer, kind: str) -> None:
    rendered = renderer.render(kind, with_title(kind, "Line one\nBcc: everyone@example.com\r\n\r\n  Line three"))
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    if kind != "digest":
        assert "Line one Bcc: everyone@example.com Line three" in rendered.subject


def test_a_missing_variable_names_the_template_that_needs_it(renderer: Renderer) -> None:
    context = sample_context("decision_needed")
    del context["gate_title"]  # the subject uses it
    with pytest.raises(TemplateProblem, match=r"decision_needed/subject\.txt\.j2.*gate_title"):
        renderer.render("decision_needed", context)
    context = sample_context("decision_needed")
    del context["checklist_done"]  # only the bodies use it
    with pytest.raises(TemplateProblem, match=r"decision_needed/text\.txt\.j2.*checklist_done"):
        renderer.render("decision_needed", context)


def test_an_unknown_kind_names_the_missing_template(renderer: Renderer) -> None:
    with pytest.raises(TemplateProblem, match=r"no_such_kind/subject\.txt\.j2"):
        renderer.render("no_such_kind", sample_context("reminder"))


def broken_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "notifications"
    shutil.copytree(TEMPLATES, folder)
    assert Renderer(folder).check() == []  # the copy itself is fine
    (folder / "reminder" / "html.html.j2").write_text(
        '{% extends "_layout.html.j2" %}{% block body %}<p>{{ credential.title }} {{ no_such_variable }}</p>'
        "{% endblock %}\n")
    (folder / "warning" / "text.txt.j2").write_text("{% if %}unclosed\n")  # a syntax error
    (folder / "decided" / "subject.txt.j2").unlink()  # a missing part
    return folder


def test_check_reports_each_broken_template_by_name(tmp_path: Path) -> None:
    problems = Renderer(broken_copy(tmp_path)).check()
    assert len(problems) == 3, problems
    reminder, warning, decided = (next(p for p in problems if f"/{kind}/" in p)
                                  for kind in ("reminder", "warning", "decided"))
    assert "reminder/html.html.j2" in reminder and "no_such_variable" in reminder
    assert "warning/text.txt.j2" in warning
    assert "decided/subject.txt.j2" in decided


def test_the_service_refuses_to_start_with_a_broken_template(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'w.db'}", tmp_path, notifications_dir=broken_copy(tmp_path))
    with pytest.raises(InvalidDefinition) as refused:
        Services.start(settings)
    assert "reminder/html.html.j2" in str(refused.value)


def test_the_digest_note_is_in_both_the_text_and_the_html(renderer: Renderer) -> None:
    context = sample_context("digest") | {"digest_note": "You asked for one summary a day."}
    rendered = renderer.render("digest", context)
    assert "You asked for one summary a day." in rendered.html
    assert "You asked for one summary a day." in rendered.text


HOSTILE = {  # what people may type, each marked so that its way into every message can be followed
    "title": "<script>alert('title')</script> Drones",
    "description": "<img src=x onerror=alert('description')>",
    "note": "<script>alert('note')</script>",
    "move": "<img src=x onerror=alert('move')> moved",
    "decision": "<script>alert('decision')</script> budget?",
}
QUALITY_INBOX = """
units:
  - {key: quality, name: Quality office, kind: department, parent: northern, email: quality@test.example,
     handles: [qa_office], digest_hour: 8, timezone: America/Toronto}
"""


def test_markup_typed_into_any_text_field_reaches_email_as_text(org: Services, mail: MailServer,
                                                                clock: ManualClock) -> None:
    load_org(org, QUALITY_INBOX)  # its messages are held for a daily digest at 08:00 in Toronto
    credential_id = create(org, HOSTILE["title"], data={"description": HOSTILE["description"]})
    org.credentials.set_item(credential_id=credential_id, item="labour_market_research", done=True,
                             note=HOSTILE["note"], by=as_person(org, "pm.business"))
    org.credentials.override(credential_id=credential_id, trigger="submit_for_feasibility", comment=HOSTILE["move"],
                             by=as_person(org, "admin"))
    org.credentials.decide(credential_id=credential_id, gate="feasibility_approval", verdict="request_changes",
                           comment=HOSTILE["decision"], by=as_person(org, "dean.business"))
    mails = [m for found in deliver(org, mail).values() for m in found]
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))  # 08:00 in Toronto
    assert org.digests.run() == 1
    mails += [m for found in deliver(org, mail).values() for m in found]

    kinds = {m.row.kind for m in mails}
    assert {"item_assigned", "decision_needed", "state_changed", "decided", "digest"} <= kinds, kinds
    for message in mails:
        where = f"{message.row.kind} to {message.row.recipient}"
        assert "<script" not in message.html.lower() and "<img" not in message.html.lower(), where
        assert str(escape(HOSTILE["title"])) in message.html, where
        assert HOSTILE["title"] in message.text and "&lt;" not in message.text, where
    for kind, typed in (("state_changed", HOSTILE["move"]), ("decided", HOSTILE["decision"])):
        [shown] = [m for m in mails if m.row.kind == kind and m.row.recipient == "pm.business@test.example"]
        assert str(escape(typed)) in shown.html and f"Comment: {typed}" in shown.text, kind
    for message in mails:  # what the messages do not show must not leak into them raw either
        for typed in (HOSTILE["description"], HOSTILE["note"]):
            assert typed not in message.html, message.row.kind
