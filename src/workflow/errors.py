"""The error family of the workflow engine. Each error keeps its facts as attributes.

The web layer maps these to HTTP problem responses in one place; the CLI prints them. Nothing here knows
about either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class WorkflowError(Exception):
    """Base of every error the engine, the store and the services raise on purpose."""


@dataclass(frozen=True)
class DefinitionProblem:
    """One thing wrong with a definition file: where, which rule, and what."""

    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.rule}] {self.message}"


class InvalidFile(WorkflowError):
    """A YAML file (a definition, an organisation) failed to load; ``problems`` lists everything found, in file and
    line order."""

    def __init__(self, problems: Sequence[DefinitionProblem]) -> None:
        # a file's "and N more" line (rule too-many-problems) stays last among its problems
        self.problems = sorted(problems, key=lambda p: (p.file, p.rule == "too-many-problems", p.line, p.rule,
                                                        p.message))
        super().__init__("\n".join(str(problem) for problem in self.problems))


class InvalidDefinition(InvalidFile):
    """A workflow definition failed to load."""


@dataclass(frozen=True)
class Unmet:
    """One requirement of a transition that does not hold yet, in plain words."""

    kind: str  # "checklist", "field", "approval", "decision" or "state"
    subject: str  # the item key, field name, role or state concerned
    message: str

    def __str__(self) -> str:
        return self.message


class NotFound(WorkflowError):
    """Something asked for does not exist (or is not visible to the caller)."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class InvalidInput(WorkflowError):
    """Input that cannot be accepted; ``field`` names what is wrong (for programs), ``label`` the same as people
    read it (a credential field's label; the field's name when there is none)."""

    def __init__(self, field: str, message: str, *, label: str | None = None) -> None:
        self.field = field
        self.label = label or field
        self.message = message
        super().__init__(f"{self.label}: {message}")


class TooLarge(WorkflowError):
    """A file over the size limit; nothing of it was kept."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"The file is larger than the limit of {limit / 1_048_576:g} MB; nothing was stored")


class Conflict(WorkflowError):
    """The action collides with the credential's current state; retrying as-is will not help."""


class LastAdministrator(Conflict):
    """A change would leave no active administrator (and so nobody who could undo it); ``names`` are the
    administrators it would have removed, as people read them."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        if len(self.names) == 1:
            who = f"{self.names[0]} is the last active administrator"
        else:
            who = f"{', '.join(self.names[:-1])} and {self.names[-1]} are the last active administrators"
        super().__init__(f"{who}; make someone else an administrator first")


class StaleVersion(Conflict):
    """The credential changed since the caller last saw it (or a concurrent action won)."""

    def __init__(self, credential_id: int, expected: int, actual: int | None = None) -> None:
        self.credential_id = credential_id
        self.expected = expected
        self.actual = actual
        seen = f", it is now at version {actual}" if actual is not None else ""
        super().__init__(
            f"credential {credential_id} changed since version {expected}{seen}; reload and try again"
        )


class TransitionNotAllowed(Conflict):
    """A trigger cannot fire from the current state; ``unmet`` says exactly what is missing.

    ``trigger`` and ``state`` are keys, for programs; the text says the transition's and the state's titles
    (``trigger_title``, ``state_title``; the keys when none are given)."""

    def __init__(
        self, trigger: str, state: str, unmet: Sequence[Unmet] = (), *, credential_id: int | None = None,
        trigger_title: str | None = None, state_title: str | None = None,
    ) -> None:
        self.trigger = trigger
        self.state = state
        self.unmet = tuple(unmet)
        self.credential_id = credential_id
        self.trigger_title = trigger_title or trigger
        self.state_title = state_title or state
        who = f"Credential {credential_id}: " if credential_id is not None else ""
        if self.unmet:
            count = len(self.unmet)
            things = "1 thing is missing" if count == 1 else f"{count} things are missing"
            self.headline = f"“{self.trigger_title}” cannot happen yet from {self.state_title}: {things}"
            text = f"{who}{self.headline}: {'; '.join(str(u) for u in self.unmet)}"
        else:
            self.headline = f"“{self.trigger_title}” is not possible while the credential is in {self.state_title}"
            text = who + self.headline
        super().__init__(text)

    def with_credential(self, credential_id: int) -> TransitionNotAllowed:
        """The same refusal, naming the credential."""
        return TransitionNotAllowed(self.trigger, self.state, self.unmet, credential_id=credential_id,
                                    trigger_title=self.trigger_title, state_title=self.state_title)


class ImpactNotAcknowledged(Conflict):
    """A move that ends a credential's offer while other credentials depend on it, and the person has not
    acknowledged them; ``impact`` lists each (``id``, ``title``, ``relation`` in words)."""

    def __init__(self, credential_id: int, move_title: str, impact: Sequence[Mapping[str, Any]]) -> None:
        self.credential_id = credential_id
        self.impact = tuple(dict(i) for i in impact)
        listed = "; ".join(f"“{i['title']}” (#{i['id']}) {i['relation']}" for i in self.impact)
        super().__init__(f"Credential {credential_id}: “{move_title}” affects {len(self.impact)} other "
                         f"credential{'s' if len(self.impact) != 1 else ''} — {listed}. Acknowledge them to go on")


class Forbidden(WorkflowError):
    """The caller may see this, but may not do this; ``message`` says what they lack."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class NotAuthenticated(WorkflowError):
    """No valid session or token came with the request."""

    def __init__(self, message: str = "sign in or send an API token") -> None:
        self.message = message
        super().__init__(message)


class TooManyAttempts(WorkflowError):
    """Sign-ins for this username (or from this address) are paused; ``retry_after`` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-ins; try again in {math.ceil(retry_after / 60)} minute(s)")


class BackupError(WorkflowError):
    """A backup cannot be written, or a file cannot be restored; ``line`` is where the file went wrong."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path is not None and line is not None else f"{path}: " if path else ""
        super().__init__(where + message)
