"""The organisation file (``workflow org load FILE``): org units, people and their roles, in YAML."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from workflow.definitions.loader import invalid, read_source, structure_problems
from workflow.definitions.model import ID_PATTERN
from workflow.definitions.validate import did_you_mean
from workflow.definitions.yamlsource import Problem, read_yaml
from workflow.errors import DefinitionProblem, InvalidFile

MAX_ORG_FILE_BYTES = 1_000_000  # thousands of people; YAML parsing takes some 15 s per MB
Key = Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnitSpec(_Strict):
    """An org unit; ``parent`` names another unit's key (none for the institution)."""

    key: Key
    name: StrictStr
    kind: Literal["institution", "faculty", "department"]
    parent: StrictStr | None = None
    email: StrictStr | None = None
    handles: tuple[StrictStr, ...] = ()  # roles whose messages this department's shared inbox receives
    digest_hour: Annotated[int, Field(ge=0, le=23)] | None = None
    timezone: StrictStr | None = None


class RoleSpec(_Strict):
    """A role held for an org unit (and everything below it)."""

    role: Annotated[StrictStr, Field(pattern=ID_PATTERN)]
    unit: StrictStr


class UserSpec(_Strict):
    """A person; ``password`` is for demonstration set-ups only and is refused in production."""

    username: Key
    name: StrictStr
    email: StrictStr = ""
    password: StrictStr | None = None
    admin: StrictBool = False
    digest_hour: Annotated[int, Field(ge=0, le=23)] | None = None
    timezone: StrictStr | None = None
    roles: tuple[RoleSpec, ...] = ()


class OrgFile(_Strict):
    """The whole file."""

    units: tuple[UnitSpec, ...]
    users: tuple[UserSpec, ...] = ()


def parse_org(text: str, *, file: str, known_roles: Collection[str], existing_units: Collection[str] = ()) -> OrgFile:
    """Read and check an organisation file; every problem is reported with its line.

    Raises:
        InvalidFile: listing every problem found.
    """
    if len(text.encode("utf-8")) > MAX_ORG_FILE_BYTES:
        raise InvalidFile([DefinitionProblem(file, 1, "too-large",
                                             f"organisation file is larger than {MAX_ORG_FILE_BYTES} bytes")])
    document = read_yaml(text)
    if document.problems:
        raise invalid(file, document.problems)
    if not isinstance(document.data, dict):
        raise invalid(file, [Problem(1, "bad-value", "an organisation file is a mapping with 'units' and 'users'")])
    try:
        org = OrgFile.model_validate(document.data)
    except ValidationError as error:
        raise invalid(file, structure_problems(error, document.lines, OrgFile)) from None
    lines = document.lines
    problems: list[Problem] = []
    keys: dict[str, int] = {}
    for index, unit in enumerate(org.units):
        if unit.key in keys:
            problems.append(Problem(lines.line_of(("units", index, "key")), "duplicate-unit",
                                    f"unit '{unit.key}' is listed twice"))
        keys[unit.key] = index
    units = set(keys) | set(existing_units)
    zones = available_timezones()
    for index, unit in enumerate(org.units):
        for position, role in enumerate(unit.handles):
            if role not in known_roles:
                problems.append(Problem(lines.line_of(("units", index, "handles", position)), "unknown-role",
                                        f"unknown role '{role}'{did_you_mean(role, known_roles)}"))
        if unit.parent is not None and unit.parent not in units:
            problems.append(Problem(lines.line_of(("units", index, "parent")), "unknown-unit",
                                    f"unknown unit '{unit.parent}'{did_you_mean(unit.parent, units)}"))
    for kind, index, spec in [("units", i, u) for i, u in enumerate(org.units)] + \
            [("users", i, u) for i, u in enumerate(org.users)]:
        if spec.timezone is not None and spec.timezone not in zones:
            problems.append(Problem(lines.line_of((kind, index, "timezone")), "unknown-timezone",
                                    f"unknown time zone '{spec.timezone}'{did_you_mean(spec.timezone, zones)}"))
    names: set[str] = set()
    for index, user in enumerate(org.users):
        if user.username in names:
            problems.append(Problem(lines.line_of(("users", index, "username")), "duplicate-user",
                                    f"user '{user.username}' is listed twice"))
        names.add(user.username)
        for position, grant in enumerate(user.roles):
            here = ("users", index, "roles", position)
            if grant.role not in known_roles:
                problems.append(Problem(lines.line_of((*here, "role")), "unknown-role",
                                        f"unknown role '{grant.role}'{did_you_mean(grant.role, known_roles)} — "
                                        "roles come from the definitions"))
            if grant.unit not in units:
                problems.append(Problem(lines.line_of((*here, "unit")), "unknown-unit",
                                        f"unknown unit '{grant.unit}'{did_you_mean(grant.unit, units)}"))
    if problems:
        raise invalid(file, problems)
    return org


def read_org_file(path: Path | str, *, known_roles: Collection[str], existing_units: Collection[str] = ()) -> OrgFile:
    """Read an organisation file from disk (see :func:`parse_org`)."""
    path = Path(path)
    text = read_source(path, max_bytes=MAX_ORG_FILE_BYTES, kind="organisation file")
    return parse_org(text, file=str(path), known_roles=known_roles, existing_units=existing_units)
