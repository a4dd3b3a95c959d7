"""What the administrators' definitions pages show of a simulation: the words for each kind of finding, and the
definitions in the folder that a reload would publish, each simulated with the organisation as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflow.context import Services
from workflow.definitions.loader import load_all
from workflow.definitions.simulate import simulate
from workflow.services.simulation import role_holders

FINDING_WORDS = {"dead-end": "Dead ends", "gate-blocked": "Gates nobody can pass",
                 "nobody-starts": "Nobody can start a credential", "timer-never-fires": "Timers that never fire",
                 "unowned-item": "Checklist items nobody owns"}  # in the order the pages list them


def folder_changes(services: Services) -> list[dict[str, Any]]:
    """Each definition in the folder whose text differs from the version in use, simulated; read on request.

    Raises:
        InvalidDefinition: the folder has problems (a reload would be refused for the same ones).
    """
    in_use = services.definitions.loaded()
    holders = role_holders(services.database)
    changed = []
    for name, item in load_all([services.settings.definitions_dir]).items():
        current = in_use.get(name)
        if current is not None and current.content_hash == item.content_hash:
            continue
        changed.append({"name": name, "d": item.definition, "file": Path(item.path).name,
                        "version": services.definitions.current_version(name) if current is not None else None,
                        "sim": simulate(item.definition, holders)})
    return changed
