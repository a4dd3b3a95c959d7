"""New passwords per OWASP ASVS V2.1: at least 12 characters, at least 64 allowed (up to 128), any characters and
spaces, no composition rules, not a breached password (the shipped list), not the username. One function holds the
rules; setting a password goes through it."""

from __future__ import annotations

import pytest

from workflow.context import Services
from workflow.errors import InvalidInput
from workflow.services.access import Caller
from workflow.services.auth import hash_password, password_problem


@pytest.mark.parametrize(("password", "problem"), [
    ("elevenchars", "at least 12 characters"),
    ("x" * 129, "too long"),
    ("password1234", "known from data breaches"),
    ("Q1W2E3R4T5Y6", "known from data breaches"),
    ("dean.business", "must not be your username"),
])
def test_refused(password: str, problem: str) -> None:
    found = password_problem(password, username="dean.business")
    assert found is not None and problem in found


@pytest.mark.parametrize("password", [
    "twelve chars",  # spaces count, nothing is trimmed
    "all lower case words only",  # no composition rules
    "Ünïcödé-pässwörd-☃",
    "p" * 64 + " and then some more",  # longer than 64
    "x" * 128,
])
def test_accepted(password: str) -> None:
    assert password_problem(password, username="dean.business") is None
    assert hash_password(password).startswith("$argon2id$")


def test_setting_a_password_applies_the_rules(org: Services) -> None:
    with pytest.raises(InvalidInput, match="known from data breaches"):
        org.people.set_password(username="qa", password="password1234", by=Caller.system("test"))
    with pytest.raises(InvalidInput, match="at least 12"):
        org.people.set_password(username="qa", password="short pass", by=Caller.system("test"))
    org.people.set_password(username="qa", password="a long enough phrase", by=Caller.system("test"))
    assert org.auth.authenticate("qa", "a long enough phrase") == org.people.user_id("qa")
