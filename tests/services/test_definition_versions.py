"""Definitions are stored by version and content hash; credentials stay on the version they started with."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import DEFINITIONS
from workflow.clock import ManualClock
from workflow.config import Settings
from workflow.context import Services
from workflow.services.access import Caller

SYSTEM = Caller.system("test")
as_ = Caller.system  # acting as a named person, with the system's rights


def test_changed_text_becomes_a_new_version_and_old_credentials_keep_theirs(settings: Settings, tmp_path: Path,
                                                                             clock: ManualClock) -> None:
    folder = tmp_path / "defs"
    folder.mkdir()
    original = (DEFINITIONS / "microcredential.yaml").read_text()
    (folder / "microcredential.yaml").write_text(original)
    first = Services.start(settings.model_copy(update={"definitions_dir": folder}), clock)
    try:
        old = first.credentials.create(definition="microcredential", title="Old", by=as_("pm"))
        assert first.definitions.engine("microcredential") is first.definitions.engine("microcredential", 1)
    finally:
        first.close()

    again = Services.start(settings.model_copy(update={"definitions_dir": folder}), clock)
    assert again.definitions.current_version("microcredential") == 1  # same text, same version
    again.close()

    changed = original.replace("title: Submit for feasibility", "title: Send to feasibility review")
    (folder / "microcredential.yaml").write_text(changed)
    second = Services.start(settings.model_copy(update={"definitions_dir": folder}), clock)
    try:
        assert second.definitions.current_version("microcredential") == 2
        new = second.credentials.create(definition="microcredential", title="New", by=as_("pm"))
        assert second.views.get(old, by=SYSTEM).definition_version == 1
        assert second.views.get(new, by=SYSTEM).definition_version == 2
        titles = {o.trigger: o.title for o in second.views.get(new, by=SYSTEM).options}
        assert titles["submit_for_feasibility"] == "Send to feasibility review"
        old_titles = {o.trigger: o.title for o in second.views.get(old, by=SYSTEM).options}
        assert old_titles["submit_for_feasibility"] == "Submit for feasibility"
    finally:
        second.close()
