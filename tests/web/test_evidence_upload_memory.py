"""A 200 MB upload is refused once past the 25 MB limit while it streams, by a real `workflow serve`: the server's
peak memory stays far below the size of the file, the answer is a 413 problem, and nothing is stored."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEFINITIONS, ROOT
from tests.evidence import with_finance
from tests.serving import free_port, wait_until_up
from tests.steps import at_feasibility
from workflow.context import Services

MB = 1_048_576
UPLOAD = 200 * MB
BOUNDARY = "evidence-boundary-7f3a"


def peak_rss(pid: int) -> int:
    """The most resident memory the process has held, in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def send_upload(port: int, path: str, token: str, *, declare_length: bool) -> tuple[int, dict[str, object], int]:
    """Stream a 200 MB multipart upload (chunked, or with its Content-Length declared), stopping as soon as the
    server answers; returns the status, the problem body and how many bytes were sent."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    length = len(head) + UPLOAD + len(tail)
    framing = f"Content-Length: {length}" if declare_length else "Transfer-Encoding: chunked"
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}\r\nConnection: close\r\n\r\n")
    chunk = b"%PDF-1.4\n" + b"0" * (256 * 1024 - 9)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(request.encode())

        def put(data: bytes) -> None:
            conn.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n" if not declare_length else data)

        try:
            put(head)
            while sent < UPLOAD:
                readable, _, _ = select.select([conn], [], [], 0)
                if readable:  # the server has answered: stop sending
                    break
                put(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        while True:
            try:
                data = conn.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    header, _, body = answer.partition(b"\r\n\r\n")
    status = int(header.split()[1])
    if b"transfer-encoding: chunked" in header.lower():
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    return status, json.loads(body), sent


def test_a_200_mb_upload_is_refused_while_streaming_with_memory_bounded(org: Services, tmp_path: Path) -> None:
    org = with_finance(org)
    cid = at_feasibility(org)
    token = org.auth.create_token(org.people.user_id("fin.business"), "upload").token
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKFLOW_")},
           "WORKFLOW_DATABASE_URL": org.settings.effective_database_url,
           "WORKFLOW_DATA_DIR": str(org.settings.data_dir),
           "WORKFLOW_DEFINITIONS_DIR": str(DEFINITIONS), "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications"),
           "WORKFLOW_SCHEDULER_IN_APP": "false"}
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen([sys.executable, "-m", "workflow.cli", "serve", "--port", str(port), "--workers",
                                   "1"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", server, log, seconds=90)
        path = f"/api/v1/credentials/{cid}/evidence/initial_budget"
        before = peak_rss(server.pid)
        status, problem, sent = send_upload(port, path, token, declare_length=False)
        after = peak_rss(server.pid)
        assert status == 413, problem
        assert problem["type"] == "/problems/too-large" and problem["field"] == "file"
        assert "larger than the limit of 25 MB; nothing was stored" in str(problem["detail"])
        assert sent < 60 * MB, f"the server read on to {sent / MB:.0f} MB of a refused upload"
        grew = after - before
        print(f"\nserver peak RSS {before / MB:.1f} MB before, {after / MB:.1f} MB after refusing a 200 MB upload "
              f"(+{grew / MB:.1f} MB; {sent / MB:.1f} MB sent before the refusal)")
        assert grew < 16 * MB, f"the server's peak memory grew by {grew / MB:.1f} MB while refusing the upload"

        declared_status, declared, declared_sent = send_upload(port, path, token, declare_length=True)
        assert declared_status == 413 and declared["type"] == "/problems/too-large"
        assert declared_sent < 60 * MB
        assert peak_rss(server.pid) - before < 16 * MB
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert "Traceback" not in log.read_text(), log.read_text()
    stored = [p for p in org.documents.root.rglob("*") if p.is_file()]
    assert stored == [], stored  # not even a partial file is left behind
    assert org.evidence.list(credential_id=cid, by=org.access.caller_by_name("fin.business")) == []
