"""Long commands draw a progress bar when standard error is a terminal, and print only their results in pipes."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import SCHEMA_HEAD

ROOT = Path(__file__).resolve().parent.parent
BAR = ("\r", "[#", "#]", "[-", "-]")


def on_terminal(tmp_path: Path, data: str, *args: str) -> str:
    """Run ``workflow ARGS`` with standard output and error on a pseudo-terminal; what the terminal showed."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKFLOW_")},
           "WORKFLOW_DATA_DIR": str(tmp_path / data), "WORKFLOW_DEFINITIONS_DIR": str(ROOT / "definitions"),
           "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications"), "COLUMNS": "100", "TERM": "xterm"}
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "workflow.cli", *args], stdin=subprocess.DEVNULL,
                               stdout=follower, stderr=follower, env=env, cwd=tmp_path)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the command ends
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert process.wait(timeout=120) == 0, shown.decode()
    return shown.decode()


def test_long_commands_draw_a_bar_on_a_terminal_only(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("db", "upgrade")
    piped = run("demo", "generate", "--credentials", "40", "--years", "2")
    assert piped.stdout.startswith("generating 40 credentials\ngenerated 40 credentials") and not piped.stderr
    shown = on_terminal(tmp_path, "data", "demo", "generate", "--credentials", "40", "--years", "2")
    assert "generating 40 credentials  [####" in shown and "100%" in shown

    for args, label in ((["backup", "college.gz"], "backing up to college.gz  ["),
                        (["audit", "verify"], "verifying credentials  [")):
        piped = run(*args)
        assert not piped.stderr and not any(mark in piped.stdout for mark in BAR) and label not in piped.stdout
        shown = on_terminal(tmp_path, "data", *args)
        assert label in shown and "\r" in shown, shown
        assert piped.stdout.splitlines()[-1] in shown  # the results follow the bar

    shown = on_terminal(tmp_path, "spare", "restore", "college.gz")
    assert "restoring college.gz  [" in shown and "database is up to date" in shown
    piped = run("restore", "college.gz", "--force")
    assert not piped.stderr and not any(mark in piped.stdout for mark in BAR) and "restoring" not in piped.stdout
    assert piped.stdout.startswith(f"restored college.gz (schema {SCHEMA_HEAD}) into sqlite:///")
