"""The people's words for what a definition names by key: role, state, gate, transition, timer, item and field
titles, and the words for verdicts and approval policies. Pages, emails, history and errors say these, never the
keys (which stay in URLs, form values and the API's machine-readable fields)."""

from __future__ import annotations

from workflow.definitions.model import Definition

VERDICTS = {"approve": "approved", "request_changes": "asked for changes", "reject": "rejected"}
POLICIES = {"any": "any one", "all": "all"}
TIMER_ACTIONS = {"fire": "moves the credential on", "remind": "reminder", "escalate": "escalation",
                 "warn": "warning"}


def role_title(definition: Definition | None, key: str) -> str:
    """The title of a role (the key itself when the definition does not name it)."""
    role = definition.roles.get(key) if definition is not None else None
    return role.title if role is not None else key


def state_title(definition: Definition | None, key: str | None) -> str:
    """The title of a state ("—" for none)."""
    if key is None:
        return "—"
    state = definition.states.get(key) if definition is not None else None
    return state.title if state is not None else key


def gate_title(definition: Definition | None, key: str) -> str:
    """The title of a gate."""
    gate = definition.gates.get(key) if definition is not None else None
    return gate.title if gate is not None else key


def transition_title(definition: Definition | None, trigger: str, state: str | None = None) -> str:
    """The title of the transition ``trigger`` (the one leaving ``state`` when several share the trigger)."""
    if definition is None:
        return trigger
    found = [t for t in definition.transitions if t.trigger == trigger and t.title]
    from_state = [t for t in found if state is not None and (state in t.source or "*" in t.source)]
    chosen = (from_state or found)[:1]
    return chosen[0].title if chosen else trigger


def timer_title(definition: Definition | None, key: str) -> str:
    """The title of a timer (a warning's key may carry ``@P30D``, the time before its date)."""
    base = key.split("@", 1)[0]
    timer = next((t for t in definition.timers if t.key == base), None) if definition is not None else None
    return timer.title if timer is not None and timer.title else base


def item_title(definition: Definition | None, key: str) -> str:
    """The title of a checklist item."""
    item = next((i for i in definition.checklist_items() if i.key == key), None) if definition else None
    return item.title if item is not None else key


def field_label(definition: Definition | None, name: str) -> str:
    """The label of a credential field."""
    field = definition.fields.get(name) if definition is not None else None
    return field.label if field is not None else name


def verdict_words(verdict: str) -> str:
    """What a decision did, in words: "approved", "asked for changes", "rejected"."""
    return VERDICTS.get(verdict, verdict)


def policy_words(policy: str, n: int | None = None) -> str:
    """An approval policy in words: "any one", "all", "2 of them"."""
    return f"{n or 1} of them" if policy == "n_of" else POLICIES.get(policy, policy)


def timer_action_words(action: str) -> str:
    """What a timer does, in words: "reminder", "escalation", "warning", "moves the credential on"."""
    return TIMER_ACTIONS.get(action, action)


def counted(number: int, thing: str, plural: str | None = None) -> str:
    """``number`` things, e.g. "1 field", "7 checklist items"."""
    return f"{number} {thing if number == 1 else plural or thing + 's'}"


def listed(parts: list[str]) -> str:
    """Parts joined as a sentence does: "a", "a and b", "a, b and c"."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
