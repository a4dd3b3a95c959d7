"""The critical information summary of a credential: the fifteen items every micro-credential should carry
before launch (the micro-credential toolkit, section 11), read from the credential's data and its history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from workflow.definitions.model import Definition
from workflow.services.views import CredentialDetail, HistoryEvent

# The state a credential is offered in once launched: its first entry there is the launch.
LAUNCHED_STATE = "delivery"

# The toolkit's fifteen items, in its order, each with the data fields that answer it ("" = said otherwise).
ITEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("title", "Title", ("title",)),
    ("provider", "Provider", ("provider",)),
    ("date_awarded", "Date awarded", ()),
    ("description", "Description and purpose", ("description", "purpose")),
    ("learning_outcomes", "Learning outcomes", ("learning_outcomes",)),
    ("participation_mode", "Participation mode", ("participation_mode",)),
    ("credits", "Credits, if credit-bearing", ("credit_bearing", "credits")),
    ("time_period", "Time period of learning", ("time_period",)),
    ("prerequisites", "Prerequisites", ("prerequisites",)),
    ("learning_resources", "Learning resources", ("learning_resources",)),
    ("assessment_type", "Assessment type", ("assessment_type", "pass_mark")),
    ("identity_verification", "Supervision and identity verification", ("identity_verification",)),
    ("qa_body", "Quality assurance body", ("qa_body",)),
    ("learner_outcome", "Outcome for a successful learner", ("learner_outcome",)),
    ("stackability", "Integration and stackability", ("stackability", "stacks_into", "requires", "equivalent_to")),
)
# Also asked for by the toolkit beside the fifteen (sections 8 and 10).
ALSO: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("notional_hours", "Notional learning hours", ("notional_hours",)),
    ("issued_expiry", "Expiry of issued credentials", ("issued_expiry_months",)),
    ("offered_until", "Offered until (hard expiry)", ("expires_on",)),
    ("review_cycle", "Content review cycle", ("review_cycle_months",)),
)


@dataclass(frozen=True)
class SummaryItem:
    """One item of the summary: its key, the toolkit's name for it, the answer in words (empty when missing)
    and the values it was read from."""

    key: str
    title: str
    text: str
    values: dict[str, Any] = field(default_factory=dict)
    lines: tuple[str, ...] = ()  # a list answer (learning outcomes), one line each

    @property
    def missing(self) -> bool:
        """Whether the credential does not answer this item yet."""
        return not self.text and not self.lines


@dataclass(frozen=True)
class Summary:
    """The critical information summary of one credential."""

    credential_id: int
    title: str
    state_title: str
    launched_on: date | None
    items: tuple[SummaryItem, ...]
    also: tuple[SummaryItem, ...]

    def as_json(self) -> dict[str, Any]:
        """The summary as plain JSON."""
        def item(i: SummaryItem) -> dict[str, Any]:
            return {"key": i.key, "title": i.title, "text": i.text, "lines": list(i.lines), "values": i.values,
                    "missing": i.missing}
        return {"credential": self.credential_id, "title": self.title, "state": self.state_title,
                "launched_on": self.launched_on.isoformat() if self.launched_on else None,
                "items": [item(i) for i in self.items], "also": [item(i) for i in self.also]}


def launched_on(history: Sequence[HistoryEvent], day_of: Any) -> date | None:
    """The local day the credential was first launched (entered :data:`LAUNCHED_STATE`), if it was."""
    for event in history:
        if event.to_state == LAUNCHED_STATE and event.from_state != LAUNCHED_STATE:
            return day_of(event.at)  # type: ignore[no-any-return]
    return None


def summarize(definition: Definition, detail: CredentialDetail, launched: date | None,
              titles: dict[int, str]) -> Summary:
    """The summary of ``detail`` in the definition's words; ``titles`` names credentials its pathways name."""
    data = detail.data

    def choice(name: str) -> str:
        value = data.get(name)
        return "" if value is None else str(value)

    def answer(key: str, title: str, names: tuple[str, ...]) -> SummaryItem:
        values = {n: data[n] for n in names if data.get(n) not in (None, "", [])}
        lines: tuple[str, ...] = ()
        text = ""
        if key == "date_awarded":
            text = (f"On completion; awarded since the launch on {launched.isoformat()}" if launched
                    else "On completion (not launched yet)")
        elif key == "description":
            text = " — ".join(str(values[n]) for n in names if n in values)
        elif key == "learning_outcomes":
            lines = tuple(str(v) for v in values.get("learning_outcomes", []))
        elif key == "credits":
            if "credit_bearing" in values:
                text = (f"Credit-bearing: {_number(values['credits'])} credits" if data.get("credit_bearing")
                        and "credits" in values else "Credit-bearing" if data.get("credit_bearing")
                        else "Non-credit")
        elif key == "assessment_type":
            text = choice("assessment_type")
            if "pass_mark" in values:
                text = f"{text}; pass mark: {values['pass_mark']}" if text else f"Pass mark: {values['pass_mark']}"
        elif key == "stackability":
            parts = [choice("stackability")] if "stackability" in values else []
            for name in ("stacks_into", "requires", "equivalent_to"):
                if name in values:
                    label = definition.fields[name].label if name in definition.fields else name
                    parts.append(f"{label}: " + ", ".join(titles.get(int(i), f"credential {i}")
                                                          for i in values[name]))
            text = "; ".join(parts)
        elif key == "notional_hours":
            text = f"{values['notional_hours']} hours" if values else ""
        elif key == "issued_expiry":
            text = f"{values['issued_expiry_months']} months after award" if values else "Does not expire"
        elif key == "review_cycle":
            text = f"Every {values['review_cycle_months']} months" if values else ""
        else:
            text = "; ".join(str(v) for v in values.values())
        return SummaryItem(key, title, text, values, lines)

    return Summary(detail.id, detail.title, detail.state_title, launched,
                   tuple(answer(*spec) for spec in ITEMS), tuple(answer(*spec) for spec in ALSO))


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
