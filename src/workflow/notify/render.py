"""Rendering a notification: a pure function from a kind of message and its context to subject, text and HTML.

Templates live in ``notifications/<kind>/{subject.txt.j2, text.txt.j2, html.html.j2}`` around a shared layout;
HTML is autoescaped, and a missing variable fails loudly (``StrictUndefined``) rather than printing nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape

KINDS = ("item_assigned", "decision_needed", "reminder", "escalation", "warning", "decided", "state_changed",
         "digest", "plan_slipped")
ACCOUNT_KINDS = ("account_invitation", "password_reset")  # about a person's account, not a credential
PARTS = {"subject": "subject.txt.j2", "text": "text.txt.j2", "html": "html.html.j2"}


@dataclass(frozen=True)
class Rendered:
    """A rendered message."""

    subject: str
    text: str
    html: str


class TemplateProblem(Exception):
    """A template is missing or does not render; the message names the template."""


class Renderer:
    """Renders the templates of one folder."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._env = Environment(loader=FileSystemLoader(self.folder), undefined=StrictUndefined,
                                autoescape=select_autoescape(enabled_extensions=("html.j2", "html"),
                                                             default_for_string=False, default=False),
                                keep_trailing_newline=True)

    def render(self, kind: str, context: dict[str, Any]) -> Rendered:
        """Render one kind of message.

        Raises:
            TemplateProblem: naming the template that is missing or uses an undefined variable.
        """
        parts: dict[str, str] = {}
        for part, name in PARTS.items():
            path = f"{kind}/{name}"
            try:
                parts[part] = self._env.get_template(path).render(context)
            except TemplateError as error:
                raise TemplateProblem(f"{self.folder / path}: {error}") from error
            if part == "subject":  # one line (no header injection), and the layouts show it too
                parts[part] = re.sub(r"\s+", " ", parts[part]).strip()
                context = {**context, "subject": parts[part]}
        subject = parts["subject"]
        text = re.sub(r"\n{3,}", "\n\n", parts["text"]).strip() + "\n"
        return Rendered(subject[:400], text, parts["html"])

    def check(self, kinds: tuple[str, ...] = KINDS + ACCOUNT_KINDS) -> list[str]:
        """Render every kind with sample data; returns the problems found (none when all is well)."""
        problems = []
        for kind in kinds:
            try:
                self.render(kind, sample_context(kind))
            except TemplateProblem as error:
                problems.append(str(error))
        return problems


def sample_context(kind: str) -> dict[str, Any]:
    """Representative values for every variable a kind of message may use (for checks and previews)."""
    base: dict[str, Any] = {
        "credential": {"id": 1, "title": "Supply-chain analytics", "state": "feasibility"},
        "state_title": "Feasibility", "link": "https://workflow.example/credentials/1", "role": "dean",
        "role_title": "Dean", "recipient_unit": "", "digest_note": "",
    }
    extra: dict[str, dict[str, Any]] = {
        "item_assigned": {"items": [{"key": "one_pager", "title": "One-pager written", "due": "2026-10-01",
                                    "link": "https://workflow.example/credentials/1#item-1-one_pager"}]},
        "decision_needed": {"gate": "feasibility_approval", "gate_title": "Feasibility approval", "due": "2026-10-01",
                            "on_behalf_of": None, "checklist_done": 9, "checklist_total": 10,
                            "missing_summary": "1 checklist item",
                            "missing": ["“Initial budget drafted” is not done (Finance)"], "description": "",
                            "choices": []},
        "reminder": {"timer_title": "Feasibility decision waiting", "since": "2026-09-01",
                     "missing": ["Approval by the Dean is needed"], "late": [],
                     "yours": ["your decision on Feasibility approval"]},
        "escalation": {"timer_title": "Feasibility decision overdue", "since": "2026-09-01",
                       "missing": ["Approval by the Dean is needed"],
                       "late": [{"what": "the decision on Feasibility approval", "due": "2026-09-15",
                                 "days_late": 14}], "days_late": 14},
        "warning": {"timer_title": "Hard expiry coming up", "due": "2027-06-30", "days_left": 30},
        "decided": {"gate_title": "Feasibility approval", "verdict_text": "approved", "decided_by": "Dr Okafor",
                    "on_behalf_of": None, "comment": "Strong demand"},
        "state_changed": {"from_title": "Feasibility", "by": "Dr Okafor", "comment": ""},
        "plan_slipped": {"what": "launch", "phase_title": "Marketing and launch", "planned": "2027-09-01",
                         "forecast": "2027-10-15", "target": "2027-09-01", "slip_days": 44, "intake": "Fall 2027"},
        "digest": {"entries": [{"subject": "Decision needed: Feasibility approval",
                                "link": "https://workflow.example/credentials/1"}]},
        "account_invitation": {"name": "Dana Lee", "username": "dana.lee", "sent_by": "Admin",
                               "link": "https://workflow.example/password/abc", "expires": "2026-12-10 09:00 EST"},
        "password_reset": {"name": "Dana Lee", "username": "dana.lee", "sent_by": "Admin",
                           "link": "https://workflow.example/password/abc", "expires": "2026-12-10 09:00 EST"},
    }
    return base | extra.get(kind, {})
