"""Odd and hostile input gets a clear 4xx problem, never a 500, and nothing is stored."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.organisation import as_person
from workflow.context import Services
from workflow.web.app import create_app

BIG = [2**31, 2**40, 2**64]


@pytest.fixture
def cid(org: Services) -> int:
    return org.credentials.create(definition="microcredential", title="Hostile input", by=as_person(org, "pm.business"),
                                  org_unit_id=org.people.unit_id("logistics"))


def problem(response, status: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("big", BIG)
def test_ids_and_offsets_beyond_any_column_are_refused_cleanly(client_for: Callable[[str], TestClient],
                                                              big: int) -> None:
    pm = client_for("pm.business")
    for path in (f"/api/v1/credentials/{big}", f"/api/v1/credentials/{big}/events"):
        assert problem(pm.get(path), 422)["errors"][0]["field"] == "path.credential_id"
    assert problem(pm.delete(f"/api/v1/tokens/{big}"), 422)["errors"][0]["field"] == "path.token_id"
    assert problem(pm.get("/api/v1/credentials", params={"offset": big}), 422)["errors"][0]["field"] == \
        "query.offset"


def test_unstorable_text_and_numbers_are_refused_by_name(org: Services, client_for: Callable[[str], TestClient],
                                                         cid: int) -> None:
    pm = client_for("pm.business")
    cases = [
        ('{"version": 1, "data": {"purpose": "\\ud800"}}', "purpose"),
        ('{"version": 1, "data": {"purpose": "nul\\u0000here"}}', "purpose"),
        ('{"version": 1, "data": {"credits": NaN}}', "credits"),
        ('{"version": 1, "data": {"credits": 1e309}}', "credits"),
        ('{"version": 1, "data": {"title": "' + "x" * 301 + '"}}', "title"),
        ('{"version": 1, "data": {"title": "   "}}', "title"),
        ('{"version": 1, "data": {"expires_on": "0001-01-02"}}', "expires_on"),
        ('{"version": 1, "data": {"review_cycle_months": 1000000000}}', "review_cycle_months"),
    ]
    for body, field in cases:
        answer = pm.patch(f"/api/v1/credentials/{cid}", content=body, headers={"Content-Type": "application/json"})
        assert problem(answer, 422)["field"] == field, body
    detail = pm.get(f"/api/v1/credentials/{cid}").json()
    assert detail["version"] == 1 and "purpose" not in detail["data"]
    created = pm.post("/api/v1/credentials", content='{"title": "bad \\ud800", "org_unit": "logistics"}',
                      headers={"Content-Type": "application/json"})
    refused = problem(created, 422)
    assert refused.get("field") == "title" or [e["field"] for e in refused["errors"]] == ["title"], refused
    unknown = pm.post("/api/v1/credentials", json={"title": "x", "org_unit": "logistics", "definition": "microcred"})
    assert "did you mean 'microcredential'" in problem(unknown, 422)["detail"]


def test_the_proposer_cannot_approve_as_a_delegate_and_nobody_approves_twice(
        org: Services, client_for: Callable[[str], TestClient], cid: int) -> None:
    dean = as_person(org, "dean.business")
    org.people.delegate(to_username="pm.business", role="dean", starts_on=org.clock.now().date(),
                        ends_on=org.clock.now().date() + timedelta(days=7), by=dean)
    org.people.delegate(to_username="council.a", role="dean", starts_on=org.clock.now().date(),
                        ends_on=org.clock.now().date() + timedelta(days=7), by=dean)
    walk_to_feasibility(org, cid)
    own = client_for("pm.business").post(f"/api/v1/credentials/{cid}/gates/feasibility_approval/decisions",
                                         json={"decision": "approve"})
    assert "does not accept its proposer's approval" in problem(own, 403)["detail"]

    # council.a approves as the dean's delegate: nobody else may then approve in council.a's name either.
    first = client_for("council.a").post(f"/api/v1/credentials/{cid}/gates/feasibility_approval/decisions",
                                         json={"decision": "approve", "on_behalf_of": "dean.business"})
    assert first.status_code == 201 and first.json()["fired"] is not None


def test_a_team_cannot_hand_out_department_roles_or_roles_to_itself(client_for: Callable[[str], TestClient],
                                                                    cid: int) -> None:
    pm = client_for("pm.business")
    to_self = pm.post(f"/api/v1/credentials/{cid}/team", json={"username": "pm.business", "role": "sme"})
    assert "cannot give yourself a role" in problem(to_self, 403)["detail"]
    department = pm.post(f"/api/v1/credentials/{cid}/team", json={"username": "outsider", "role": "finance"})
    assert "department's or committee's role" in problem(department, 403)["detail"]
    assert pm.post(f"/api/v1/credentials/{cid}/team", json={"username": "outsider", "role": "sme"}).status_code == 201


def walk_to_feasibility(org: Services, cid: int) -> None:
    from workflow.services.access import Caller

    system = Caller.system("setup")
    org.credentials.update(credential_id=cid, changes={"purpose": "p", "description": "d"}, by=system)
    for item in org.views.get(cid, by=system).checklist:
        org.credentials.set_item(credential_id=cid, item=item.key, done=True, by=system)
    org.credentials.fire(credential_id=cid, trigger="submit_for_feasibility", by=system)
    for item in org.views.get(cid, by=system).checklist:
        org.credentials.set_item(credential_id=cid, item=item.key, done=True, by=system)


# -- request bodies over the limit (1 MiB by default) ------------------------------------------------------------

LIMIT = 1_048_576


def test_a_json_body_over_the_limit_is_refused_and_one_under_it_is_read(client_for: Callable[[str], TestClient]
                                                                       ) -> None:
    pm = client_for("pm.business")
    huge = '{"title": "' + "x" * LIMIT + '", "org_unit": "logistics"}'
    refused = problem(pm.post("/api/v1/credentials", content=huge, headers={"Content-Type": "application/json"}), 413)
    assert refused["detail"] == f"Request body too large (the limit is {LIMIT} bytes)"
    assert pm.get("/api/v1/credentials").json()["total"] == 0
    under = '{"title": "' + "x" * (LIMIT - 100) + '", "org_unit": "logistics"}'
    answer = pm.post("/api/v1/credentials", content=under, headers={"Content-Type": "application/json"})
    assert problem(answer, 422)["errors"][0]["field"] == "title"  # read, then refused for what it says


def test_a_form_over_the_limit_shows_the_error_page_to_a_browser(app_client: TestClient) -> None:
    answer = app_client.post("/login", data={"username": "x" * LIMIT, "password": "p", "csrf_token": "t"},
                             headers={"Accept": "text/html"})
    assert answer.status_code == 413 and answer.headers["content-type"].startswith("text/html")
    assert "<h1>Request too large</h1>" in answer.text and f"the limit is {LIMIT} bytes" in answer.text
    assert "mcw_session" not in app_client.cookies


@pytest.fixture
def served(org: Services) -> Iterator[int]:
    """The app behind a real uvicorn server on a free local port (for requests no HTTP client library sends)."""
    server = uvicorn.Server(uvicorn.Config(create_app(org.settings, services=org), host="127.0.0.1", port=0,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def http(port: int, head: str, body: Iterable[bytes] = ()) -> tuple[int, dict[str, str], bytes, int]:
    """Send a raw request (and as much of ``body`` as the server takes before it answers); returns the status,
    headers and body of the answer, and how many bytes of ``body`` were sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head.encode("latin-1") + b"\r\n\r\n")
        try:
            for chunk in body:
                if select.select([conn], [], [], 0)[0]:
                    break  # it answered: stop sending
                conn.sendall(chunk)
                sent += len(chunk)
        except OSError:  # it stopped reading or closed the connection
            pass
        raw = b""
        while b"\r\n\r\n" not in raw or len(raw.partition(b"\r\n\r\n")[2]) < _length(raw):
            received = conn.recv(65536)
            if not received:
                break
            raw += received
    status_line, _, rest = raw.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    headers = dict(line.decode("latin-1").lower().split(": ", 1) for line in header_block.split(b"\r\n") if line)
    return int(status_line.split()[1]), headers, payload, sent


def _length(raw: bytes) -> int:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_a_chunked_upload_is_cut_off_at_the_limit_not_read_to_its_end(org: Services, served: int) -> None:
    token = org.auth.create_token(org.people.user_id("pm.business"), "tests").token
    chunk = b"x" * 65536
    endless = (b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(2048))  # 128 MiB if it were all read
    status, headers, payload, sent = http(
        served, "POST /api/v1/credentials HTTP/1.1\r\nHost: testserver\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked", endless)
    assert (status, headers["content-type"]) == (413, "application/problem+json")
    assert f"the limit is {LIMIT} bytes".encode() in payload
    assert sent < 32 * LIMIT  # answered long before the end; what was sent beyond the limit sat in socket buffers


# -- paths: nothing outside the static folder is served, and odd paths are a 4xx, never a 500 ---------------------

OUTSIDE = [  # each would reach a file of this project (or the system) if the path were taken as it reads
    "/static/../app.py", "/static/../../config.py", "/static/../../../../pyproject.toml",
    "/static/%2e%2e/app.py", "/static/.%2e/.%2e/config.py", "/static/%2e%2e%2f%2e%2e%2fconfig.py",
    "/static/..%2f..%2f..%2f..%2fpyproject.toml", "/static/..%5capp.py", "/static/%252e%252e/app.py",
    "/static/%c0%ae%c0%ae/app.py", "/static//etc/passwd", "/static/%2fetc%2fpasswd",
    "/static/../../../../../../../../../etc/passwd", "/static/site.css%00.py", "/static/%00", "/static/%ff%fe",
    "/static/" + "a" * 5000, "/" + "a/" * 4000,
]


def test_no_path_reaches_a_file_outside_the_static_folder(served: int) -> None:
    for path in OUTSIDE:
        status, headers, payload, _ = http(served, f"GET {path} HTTP/1.1\r\nHost: testserver\r\nConnection: close")
        assert (status, headers["content-type"]) == (404, "application/problem+json"), path
        status, headers, payload, _ = http(served, f"GET {path} HTTP/1.1\r\nHost: testserver\r\n"
                                                   "Accept: text/html\r\nConnection: close")
        assert status == 404 and headers["content-type"].startswith("text/html"), path
        assert b"<h1>Not found</h1>" in payload and b"import" not in payload and b"root:" not in payload, path
    inside = http(served, "GET /static/vendor/../site.css HTTP/1.1\r\nHost: testserver\r\nConnection: close")
    assert (inside[0], inside[1]["content-type"]) == (200, "text/css; charset=utf-8")


def test_nul_bytes_and_very_long_urls_are_refused_not_failed(org: Services, served: int) -> None:
    token = org.auth.create_token(org.people.user_id("pm.business"), "tests").token
    api = f"Host: testserver\r\nAuthorization: Bearer {token}\r\nConnection: close"
    for path, status in [("/api/v1/credentials?state=a%00b", 422), ("/api/v1/credentials/1%00", 422),
                         ("/api/v1/definitions/micro%00credential", 422),
                         ("/api/v1/credentials?state=" + "x" * 8000, 422), ("/api/v1/" + "x" * 8000, 404)]:
        answer = http(served, f"GET {path} HTTP/1.1\r\n{api}")
        assert (answer[0], answer[1]["content-type"]) == (status, "application/problem+json"), (path, answer[2])
    page = http(served, "GET /login?next=%00%2F%2Fevil.example HTTP/1.1\r\nHost: testserver\r\nConnection: close")
    assert page[0] == 200 and b'name="next" value="/"' in page[2]
    beyond = http(served, "GET /api/v1/credentials?state=" + "x" * 100_000 + f" HTTP/1.1\r\n{api}")
    assert beyond[0] == 400  # the server refuses a request line this long before the app sees it

