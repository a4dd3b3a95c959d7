"""A real ``workflow serve`` that can be killed outright, and a burst of people's actions against it over HTTP.

The burst is made of scripts, one per credential: tick the checklist of each phase as each item's owner, hold and
resume, decide each gate as its approvers. Several client threads each work through their own credentials in a
seeded random order, so that when the server dies the credentials stand at different points and different kinds
of action are in flight. The server is killed once a set number of actions have been answered with a 2xx.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

from tests.conftest import DEFINITIONS, ROOT
from tests.serving import free_port, wait_until_up
from workflow.engine import Engine
from workflow.engine.requirements import applies


@dataclass(frozen=True)
class Step:
    """One action of one person on one credential: tick an item, decide a gate or fire a transition."""

    cid: int
    user: str
    kind: str  # "checklist", "decision" or "transition": the kind of history event it writes
    key: str  # the item, the gate or the trigger

    def request(self) -> tuple[str, dict[str, Any]]:
        """The API path and JSON body of this action."""
        if self.kind == "checklist":
            return f"/credentials/{self.cid}/checklist/{self.key}", {"done": True, "note": f"done by {self.user}"}
        if self.kind == "decision":
            return f"/credentials/{self.cid}/gates/{self.key}/decisions", {"decision": "approve"}
        return f"/credentials/{self.cid}/transitions", {"trigger": self.key, "comment": f"{self.key} please"}


@dataclass(frozen=True)
class Sent:
    """A step and what came back: the status, or None when no answer came (the server died meanwhile)."""

    step: Step
    status: int | None
    before_kill: bool  # sent while the server was still alive

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def script(cid: int, engine: Engine, data: Mapping[str, Any], owners: Mapping[str, str],
           approvers: Mapping[str, list[str]]) -> list[Step]:
    """Every action that takes a credential with all of its feasibility checklist open on to launch."""
    steps: list[Step] = []
    for state, trigger in (("feasibility", "approve_feasibility"), ("design", "complete_design"),
                           ("build", "sign_off")):
        requirements = dict(engine.requirements_from(state))[trigger]
        steps += [Step(cid, owners[item.owner], "checklist", item.key) for item in requirements.items
                  if applies(item.when, data)]
        if state == "feasibility":  # a pause on the way: resume goes back to where it was
            steps += [Step(cid, owners["project_manager"], "transition", "hold"),
                      Step(cid, owners["project_manager"], "transition", "resume")]
        if requirements.gate_id is None:
            steps.append(Step(cid, owners["project_manager"], "transition", trigger))
        else:
            steps += [Step(cid, user, "decision", requirements.gate_id)
                      for approver in requirements.approvers_for(data) for user in approvers[approver.role]]
    return steps


class Burst:
    """Client threads working through scripts over HTTP; the server is killed after ``kill_after`` 2xx answers."""

    def __init__(self, api: str, tokens: Mapping[str, str], scripts: list[list[Step]], *, threads: int,
                 kill_after: int, kill: Callable[[], None]) -> None:
        self.api = api
        self.tokens = tokens
        self.shares = [scripts[n::threads] for n in range(threads)]
        self.kill_after = kill_after
        self._kill = kill
        self._lock = threading.Lock()
        self._acknowledged = 0
        self.killed = threading.Event()
        self.sent: list[Sent] = []
        self.errors: list[BaseException] = []

    def run(self) -> list[Sent]:
        """Send the burst; returns every step sent, with its answer."""
        workers = [threading.Thread(target=self._work, args=(n, share), name=f"burst-{n}")
                   for n, share in enumerate(self.shares)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert not any(worker.is_alive() for worker in workers), "a client thread did not finish"
        assert not self.errors, self.errors
        return self.sent

    def _work(self, seed: int, share: list[list[Step]]) -> None:
        try:
            rng = random.Random(seed)
            queues = [list(steps) for steps in share]
            with httpx.Client(base_url=self.api, timeout=60) as client:
                while not self.killed.is_set():
                    open_ = [queue for queue in queues if queue]
                    if not open_:
                        return
                    step = rng.choice(open_).pop(0)
                    if not self._send(client, step):
                        return
        except BaseException as error:  # reported by run(); a thread's exception would otherwise be lost
            self.errors.append(error)

    def _send(self, client: httpx.Client, step: Step) -> bool:
        path, body = step.request()
        alive = not self.killed.is_set()
        try:
            response = client.post(path, json=body, headers={"Authorization": f"Bearer {self.tokens[step.user]}"})
        except httpx.TransportError:
            self._keep(Sent(step, None, alive))
            return False
        sent = Sent(step, response.status_code, alive)
        self._keep(sent)
        if sent.acknowledged:
            with self._lock:
                self._acknowledged += 1
                kill = self._acknowledged == self.kill_after
            if kill:
                self.killed.set()
                self._kill()
        return True

    def _keep(self, sent: Sent) -> None:
        with self._lock:
            self.sent.append(sent)


@dataclass
class Served:
    """One ``workflow serve`` process group on a free local port."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path

    @property
    def api(self) -> str:
        return f"{self.base}/api/v1"

    def kill(self) -> None:
        """SIGKILL the server and every worker it started, at once: no shutdown, no cleanup."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def wait_until_up(self) -> None:
        """Wait until it answers (at most a minute); one that does not is killed."""
        try:
            wait_until_up(self.base, self.process, self.log)
        except AssertionError:
            self.kill()
            raise


def server_environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("WORKFLOW_")},
            "WORKFLOW_ENVIRONMENT": "test", "WORKFLOW_DATABASE_URL": database_url,
            "WORKFLOW_DATA_DIR": str(tmp_path / "data"), "WORKFLOW_DEFINITIONS_DIR": str(DEFINITIONS),
            "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications"), "WORKFLOW_COOKIE_SECURE": "false"}


def launch(env: dict[str, str], log: Path, *, workers: int) -> Served:
    """Start ``workflow serve`` in a process group of its own (see :meth:`Served.wait_until_up`)."""
    port = free_port()
    with log.open("wb") as out:  # the child keeps its own copy of the file
        process = subprocess.Popen([sys.executable, "-m", "workflow.cli", "serve", "--port", str(port),
                                    "--workers", str(workers)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return Served(process, f"http://127.0.0.1:{port}", log)
