"""When work in a state is due: one rule for task emails, reminders, escalations, the tasks list and calendars."""

from __future__ import annotations

from workflow.definitions.model import Definition
from workflow.engine.requirements import Requirements


def due_days(definition: Definition, state: str, requirements: Requirements, item_days: int | None = None
             ) -> int | None:
    """Days after entering ``state`` when something is due: a checklist item's own days, else its gate's, else the
    end of the state's planned stay (``None``: no date)."""
    gate_days = requirements.gate.due_days if requirements.gate else None
    return item_days or gate_days or definition.states[state].planned_days or None
