"""`workflow definitions migrate`: the dry run prints each credential's plan and changes nothing; an unmapped state
is refused with the list (exit 1); a wrong mapping names its file and line; then the migration itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, settings_for
from tests.migrating import MAPPING, state_of_database, version_2
from tests.organisation import load_org
from tests.steps import at_build, at_feasibility
from workflow.clock import ManualClock
from workflow.context import Services


def test_dry_run_refusal_bad_mapping_and_the_migration(tmp_path: Path, clock: ManualClock) -> None:
    folder = tmp_path / "definitions"
    shutil.copytree(ROOT / "definitions", folder)
    url = f"sqlite:///{tmp_path / 'workflow.db'}"
    services = Services.start(settings_for(url, tmp_path / "data", definitions_dir=folder), clock)
    try:
        load_org(services)
        building, waiting = at_build(services), at_feasibility(services)
        (folder / "microcredential.yaml").write_text(version_2())
        services.reload_definitions()
        before = state_of_database(services)

        def migrate(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
            env = {**os.environ, "WORKFLOW_DATABASE_URL": url, "WORKFLOW_DEFINITIONS_DIR": str(folder),
                   "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications")}
            done = subprocess.run([sys.executable, "-m", "workflow.cli", "definitions", "migrate", "microcredential",
                                   "--to", "2", *args], capture_output=True, text=True, env=env, cwd=tmp_path,
                                  timeout=300)
            assert "Traceback" not in done.stdout + done.stderr
            assert (done.returncode == 0) is ok, done.stdout + done.stderr
            return done

        refused = migrate(ok=False)
        assert refused.stderr.splitlines() == [
            "refused: 1 credential(s) would land in a state version 2 does not have; nothing was changed:",
            f"  #{building} Supply-chain analytics is in 'build', which the new version does not have; map it to "
            "one of its states in the mapping file"]
        (tmp_path / "wrong.yaml").write_text("states:\n  biuld: build_and_test\n")
        wrong = migrate("--mapping", str(tmp_path / "wrong.yaml"), ok=False)
        assert wrong.stderr.splitlines()[0] == (f"{tmp_path / 'wrong.yaml'}:2: [unknown-state] 'biuld' is not a "
                                                "state of version 1 — did you mean 'build'?")
        (tmp_path / "mapping.yaml").write_text(MAPPING)
        dry = migrate("--mapping", str(tmp_path / "mapping.yaml"), "--dry-run").stdout
        assert f"#{building} Supply-chain analytics: Build → Build and test\n" in dry
        assert f"#{waiting} Supply-chain analytics: Feasibility → Feasibility\n" in dry
        assert "dropped: funding_applied" in dry
        assert "  timer feasibility_reminder: 2026-09-15 05:00 EDT → 2026-09-11 05:00 EDT\n" in dry
        assert dry.endswith("plan: 2 credential(s) of Micro-credential lifecycle to version 2; 0 in a final state "
                            "keep their version (dry run: nothing was changed)\n")
        assert state_of_database(services) == before

        done = migrate("--mapping", str(tmp_path / "mapping.yaml"))
        assert done.stdout == ("migrated 2 credential(s) of Micro-credential lifecycle to version 2; 0 in a final "
                               "state keep their version\n")
        assert services.views.get(building, by=services.access.caller_by_name("admin")).state == "build_and_test"
    finally:
        services.close()
