"""The account emails (an invitation, a password reset link): they render with the link and its expiry, escape a
name in HTML, keep the subject on one line, and are checked with the other templates when the service starts."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from workflow.notify.render import ACCOUNT_KINDS, Renderer, sample_context

SCRIPT = "<script>alert('x')</script>"


@pytest.mark.parametrize("kind", ACCOUNT_KINDS)
def test_an_account_email_holds_the_link_its_expiry_and_escapes_the_name(kind: str) -> None:
    renderer = Renderer(ROOT / "notifications")
    assert renderer.check() == []
    rendered = renderer.render(kind, {**sample_context(kind), "name": SCRIPT})
    print(rendered.subject, rendered.text, sep="\n")  # read it
    assert "\n" not in rendered.subject and "password" in rendered.subject
    for body in (rendered.text, rendered.html):
        assert "https://workflow.example/password/abc" in body and "2026-12-10 09:00 EST" in body
        assert "dana.lee" in body and "works once" in body
    assert SCRIPT in rendered.text and "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert f"<title>{rendered.subject}</title>" in rendered.html
