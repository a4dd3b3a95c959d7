"""A real OpenID Connect provider for the tests: the certified ``oidc-provider`` (npm, see
tests/oidc/provider/) run with Node on a free port, its accounts in a JSON file the test can rewrite between
sign-ins. ``make browser`` (and so ``make test`` and CI) installs it with ``npm ci``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.serving import free_port

PROVIDER_DIR = Path(__file__).parent / "oidc" / "provider"
CLIENT_ID = "workflow-test"
CLIENT_SECRET = "a-test-client-secret-of-enough-length"


@dataclass
class RunningProvider:
    """The provider as the tests use it."""

    issuer: str
    accounts_file: Path

    def set_accounts(self, accounts: dict[str, dict[str, Any]]) -> None:
        """Who the provider knows (login name -> email, name, groups); read afresh at each sign-in."""
        self.accounts_file.write_text(json.dumps(accounts), encoding="utf-8")

    def tamper_next_id_token(self, mode: str) -> None:
        """Make the next token response carry an ID token altered this way (signature, issuer, audience, expired,
        nonce)."""
        assert httpx.post(f"{self.issuer}/__test/tamper", json={"mode": mode}, timeout=5).status_code == 204


@contextmanager
def oidc_provider(folder: Path, *, redirect_uri: str, post_logout_uri: str) -> Iterator[RunningProvider]:
    """Start the provider for one client, wait until it publishes its configuration, stop it afterwards."""
    node = shutil.which("node")
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
        pytest.fail("the test OpenID provider is not installed: run `make browser` (npm ci in tests/oidc/provider)")
    port = free_port()
    running = RunningProvider(f"http://127.0.0.1:{port}", folder / "accounts.json")
    running.set_accounts({})
    config = folder / "provider.json"
    config.write_text(json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                  "redirect_uris": [redirect_uri], "post_logout_redirect_uris": [post_logout_uri],
                                  "accounts_file": str(running.accounts_file)}), encoding="utf-8")
    log = folder / "provider.log"
    with log.open("w") as out:
        process = subprocess.Popen([node, str(PROVIDER_DIR / "provider.mjs"), str(port), str(config)],
                                   stdout=out, stderr=subprocess.STDOUT, cwd=PROVIDER_DIR)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{running.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the OpenID provider did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
