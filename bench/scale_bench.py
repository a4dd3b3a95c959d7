"""Benchmark: how response times and memory grow with the size of the database.

Not a test. Run it from the repository root::

    .venv/bin/pip install -e '.[bench]'                      # matplotlib, for the plot
    .venv/bin/python bench/scale_bench.py                     # 100, 10,000 and 100,000 credentials
    .venv/bin/python bench/scale_bench.py --sizes 100,2000 --memory-sizes 100,2000 --repeat 10   # quick
    WORKFLOW_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/scale_bench.py

Each size is generated once (``workflow demo generate``, seed 1, ten years of history ending when it was
generated) into ``bench/.cache/`` — a SQLite file, and a schema ``scale_<size>`` in the PostgreSQL database when
``WORKFLOW_BENCH_POSTGRES_URL`` is set — and reused by later runs (``--regenerate`` starts afresh). Opening a
cached database migrates it, so new indexes apply to it too.

``--timeline`` times the portfolio timeline (plans, forecasts, the Gantt page) a page at a time, with the same
number of planned credentials at every size (bench/report/timeline.md).
``--analytics`` times the portfolio analytics (bench/report/analytics.md): the one-off fold of every history into
the analytics counts, then the figures through the API (all, one faculty, one year, as a dean), the page and the
CSV; target: the largest size within 3× of the smallest.

``--inbox`` times the approvals table instead: the dean's, sorted by each column and filtered by each filter
(API and page), and the registrar's tasks, showing the same rows at every size (bench/report/inbox.md).

Response times come from an in-process app (``create_app`` and Starlette's TestClient) with the scheduler off,
signed in as the people who use each page: a dean's inbox, a project manager's portfolio (all, and one state), one
credential with the longest history the dean can see and that history, the registrar's tasks, and the HTML pages
when the app has them. Each call is made ``--repeat`` times after a warm-up; the report gives the median and the
95th percentile, and each median's ratio to the smallest size. Memory is the resident set of a real ``workflow
serve`` process after a fixed mix of requests, at the two ``--memory-sizes``.

The report goes to ``bench/report/scaling.md`` (Markdown tables), ``scaling.png`` (a plot) and ``scaling.json``
(the figures, which ``--before`` reads back to show an earlier run beside this one).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from workflow.config import Settings
from workflow.context import Services
from workflow.demo.generate import generate
from workflow.services.access import Caller, visible_clause
from workflow.services.approvals import ApprovalQuery
from workflow.services.plan_views import TimelineFilter
from workflow.services.schedule import plan_path
from workflow.store.analytics import refold
from workflow.store.tables import CREDENTIAL, PLAN
from workflow.web.app import create_app
from workflow.web.deps import SESSION_COOKIE

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
REPORT = ROOT / "bench" / "report"
SEED = 1
YEARS = 10
DEAN, PM, REGISTRAR = "dean.okafor", "pm.garcia", "reg.lopez"
PAGED = ("portfolio list (50)", "portfolio, one state", "dean's inbox", "registrar's tasks", "page /approvals",
         "page /portfolio", "page /tasks")


FINDINGS = """## What the measurements showed, and what was changed

Measured first on the code before these changes (the "before" figures above, taken on databases of the same seed
while the machine was busier, load average about 13, which inflates them somewhat: the statement counts and plans
below are the substance), with `EXPLAIN QUERY PLAN` on SQLite and `EXPLAIN ANALYZE` on PostgreSQL at 100,000
credentials:

* **Inboxes and task lists** (`approvals_waiting`, `tasks`) read every credential in a state with a gate (or with
  checklist items), oldest first, capped at 2,000 rows, then ran two queries per credential (its checklist entries,
  its decisions): up to 4,000 statements per request, and anything past the first 2,000 candidates was never
  shown. Now only the states where the caller's roles decide a gate (or own an item) are read, page by page with
  a keyset until the list is full (no cap, nothing missed), the page's keys from the index alone
  (`ix_credential_state` now holds `definition_name, state, state_entered_at, org_unit_id`), and each page's
  credentials, checklist entries (of the caller's items only, for tasks) and decisions in one statement each.
* **Lists of one state** in someone's org units read every credential of those units (no index had both): new
  index `ix_credential_unit_state (org_unit_id, state)`. The visibility condition no longer ORs with an empty list
  of credential ids, which kept SQLite from any composite index. On PostgreSQL, a rare state's rows are gathered
  before sorting (a `MATERIALIZED` CTE, when the count says there are at most 10,000): the planner otherwise walks
  the primary key backwards from the newest credential, not knowing that the rows of, say, `delivery` are old.
* **One credential**: SQLite read its pending timers through `ix_timer_due (status, due_at)` — every pending timer
  of every credential — to avoid a sort; `ix_timer_credential` is now `(credential_id, status, due_at)`.
* The generator runs `VACUUM (ANALYZE)` on PostgreSQL after loading, as autovacuum soon would, so that counts are
  index-only scans.

Lists that fill a page (the dean's inbox: 50 items, the registrar's tasks: 100) do work in proportion to the page,
not to the database: at 100 credentials the page is not full, so their ratio to the smallest size says how much
more there is to show rather than how the cost per item grows (the item counts are given in the cells).
"""


@dataclass(frozen=True)
class Call:
    """One thing to time: a name, a path, and who asks."""

    name: str
    path: str
    who: str
    page: bool = False


def calls(credential_id: int) -> list[Call]:
    """What is timed at every size."""
    return [
        Call("dean's inbox", "/api/v1/me/approvals", DEAN),
        Call("portfolio list (50)", "/api/v1/credentials?limit=50", PM),
        Call("portfolio, one state", "/api/v1/credentials?limit=50&state=delivery", PM),
        Call("one credential", f"/api/v1/credentials/{credential_id}", DEAN),
        Call("its history", f"/api/v1/credentials/{credential_id}/events", DEAN),
        Call("registrar's tasks", "/api/v1/me/tasks", REGISTRAR),
        Call("page /approvals", "/approvals", DEAN, page=True),
        Call("page /portfolio", "/portfolio", PM, page=True),
        Call("page /credentials/{id}", f"/credentials/{credential_id}", DEAN, page=True),
        Call("page /tasks", "/tasks", REGISTRAR, page=True),
    ]


# -- the databases ----------------------------------------------------------------------------------------------


def settings_for(url: str) -> Settings:
    return Settings(environment="test", database_url=url, data_dir=CACHE, definitions_dir=ROOT / "definitions",
                    notifications_dir=ROOT / "notifications", scheduler_in_app=False)


def database(backend: str, size: int, pg_url: str, *, regenerate: bool) -> tuple[str, dict[str, Any]]:
    """The URL of the cached database of ``size`` credentials (generated now if missing) and how it was made."""
    CACHE.mkdir(parents=True, exist_ok=True)
    marker = CACHE / f"scale-{size}.{backend}.json"
    if backend == "sqlite":
        path = CACHE / f"scale-{size}.db"
        url = f"sqlite:///{path}"
    else:
        schema = f"scale_{size}"
        url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    if marker.exists() and not regenerate:
        return url, json.loads(marker.read_text())
    marker.unlink(missing_ok=True)
    if backend == "sqlite":
        for leftover in CACHE.glob(f"scale-{size}.db*"):
            leftover.unlink()
    else:
        admin = create_engine(pg_url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
    services = Services.start(settings_for(url))
    try:
        done = 0
        print(f"  generating {size:,} credentials on {backend} ...", flush=True)

        def progress(step: int) -> None:
            nonlocal done
            done += step
            if done % 10_000 < step or done == size:
                print(f"    {done:,}/{size:,}", flush=True)

        report = generate(services, credentials=size, years=YEARS, seed=SEED, progress=progress)
    finally:
        services.close()
    made = {"credentials": report.credentials, "events": report.events, "rows": report.rows,
            "seconds": round(report.seconds, 1), "rows_per_second": round(report.rows_per_second),
            "by_state": report.by_state}
    marker.write_text(json.dumps(made, indent=1))
    print(f"  {report.rows:,} rows in {report.seconds:.1f} s: {report.rows_per_second:,.0f} rows/s", flush=True)
    return url, made


# -- timing in process ------------------------------------------------------------------------------------------


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def longest_history(services: Services, who: str) -> int:
    """The credential with the most events among those ``who`` can see."""
    caller = services.access.caller_by_name(who)
    with services.database.begin_read() as conn:
        found = conn.execute(select(CREDENTIAL.c.id).where(visible_clause(caller))
                             .order_by(CREDENTIAL.c.version.desc(), CREDENTIAL.c.id).limit(1)).scalar()
    assert found is not None, f"{who} sees no credential"
    return int(found)


@contextmanager
def clients(services: Services) -> Iterator[Callable[[str, bool], TestClient]]:
    """A client per person: an API token for API calls, a session cookie for pages."""
    app = create_app(services.settings, services=services)
    made: dict[tuple[str, bool], TestClient] = {}
    with TestClient(app, base_url="https://testserver") as root:

        def client(who: str, page: bool) -> TestClient:
            if (who, page) not in made:
                user_id = services.people.user_id(who)
                if page:
                    token, _ = services.auth.start_session(user_id)
                    made[(who, page)] = TestClient(app, base_url="https://testserver", cookies={SESSION_COOKIE: token})
                else:
                    token = services.auth.create_token(user_id, "scale bench").token
                    made[(who, page)] = TestClient(app, base_url="https://testserver",
                                                   headers={"Authorization": f"Bearer {token}"})
            return made[(who, page)]

        yield client
        del root


def time_calls(url: str, repeat: int) -> dict[str, dict[str, float] | str]:
    """Median and 95th percentile (ms) of each call on one database."""
    services = Services.start(settings_for(url))
    results: dict[str, dict[str, float] | str] = {}
    try:
        credential_id = longest_history(services, DEAN)
        with clients(services) as client:
            for call in calls(credential_id):
                http = client(call.who, call.page)
                try:
                    statuses = {http.get(call.path).status_code for _ in range(3)}
                except Exception as error:  # a page under construction may fail; the report says so
                    statuses = {f"error {type(error).__name__}"}  # type: ignore[arg-type]
                if statuses != {200}:
                    results[call.name] = "not built yet" if statuses == {404} else \
                        f"failed ({', '.join(map(str, statuses))})"
                    print(f"    {call.name:<24} {results[call.name]}", flush=True)
                    continue
                times = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    response = http.get(call.path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200
                results[call.name] = {"median": statistics.median(times), "p95": _percentile(times, 0.95)}
                body = None if call.page else response.json()
                items = body.get("items") if isinstance(body, dict) else body
                if isinstance(items, list):  # how long the list (or the history) was
                    results[call.name]["items"] = len(items)
                print(f"    {call.name:<24} median {results[call.name]['median']:8.1f} ms"  # type: ignore[index]
                      f"  p95 {results[call.name]['p95']:8.1f} ms", flush=True)  # type: ignore[index]
    finally:
        services.close()
    return results


# -- the portfolio timeline: plans and forecasts a page at a time ------------------------------------------------

PLANNED = 100  # credentials given a plan at every size (the newest the project manager sees, in a planned phase)


def plan_some(services: Services) -> int:
    """Give the project manager's newest credentials in a planned phase a target (once per database); returns how
    many have a plan."""
    with services.database.begin_read() as conn:
        have = int(conn.execute(select(func.count()).select_from(PLAN)).scalar() or 0)
    if have:
        return have
    pm = services.access.caller_by_name(PM)
    path = plan_path(services.definitions.engine("microcredential").definition)
    with services.database.begin_read() as conn:
        ids = [r.id for r in conn.execute(select(CREDENTIAL.c.id)
                                          .where(visible_clause(pm), CREDENTIAL.c.state.in_(path))
                                          .order_by(CREDENTIAL.c.id.desc()).limit(PLANNED))]
    target = services.plans.views.days.day_of(services.clock.now()) + timedelta(days=400)
    for cid in ids:
        services.plans.set_target(credential_id=cid, target=target, by=Caller.system("scale bench"))
    return len(ids)


def timeline_calls(faculty: str, credential_id: int) -> list[tuple[str, str, bool]]:
    """(name, path, page) of what the project manager asks of the timeline."""
    return [("API timeline (25)", "/api/v1/plans/timeline?limit=25", False),
            ("API timeline, page 3", "/api/v1/plans/timeline?limit=25&offset=50", False),
            ("API timeline, one faculty", f"/api/v1/plans/timeline?limit=25&org_unit={faculty}", False),
            ("API one plan", f"/api/v1/credentials/{credential_id}/plan", False),
            ("page /timeline", "/timeline", True),
            ("page /timeline, page 3", "/timeline?page=3", True),
            ("page /credentials/{id} with its plan", f"/credentials/{credential_id}", True)]


def time_timeline(url: str, repeat: int) -> dict[str, Any]:
    """Median and p95 (ms) of each timeline call, and how long the typical phase lengths take to work out (once a
    day, cold)."""
    services = Services.start(settings_for(url))
    results: dict[str, Any] = {}
    try:
        results["planned"] = plan_some(services)
        services.plans.views.forget_history()
        started = time.perf_counter()
        typical = services.plans.views.history("microcredential")
        results["typical lengths (cold, once a day)"] = {"ms": (time.perf_counter() - started) * 1000,
                                                        "stays": sum(count for _, count in typical.values())}
        pm = services.access.caller_by_name(PM)
        views, _ = services.plans.views.timeline(by=pm, where=TimelineFilter(), limit=1)
        credential_id = views[0].credential_id  # the newest credential: planned, in a planned phase
        faculty = next(u["key"] for u in services.people.units() if u["id"] == views[0].org_unit_id)
        with clients(services) as client:
            for name, path, page in timeline_calls(faculty, credential_id):
                http = client(PM, page)
                for _ in range(3):
                    assert http.get(path).status_code == 200, path
                times = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    response = http.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200
                results[name] = {"median": statistics.median(times), "p95": _percentile(times, 0.95)}
                if not page and "total" in response.json():
                    results[name]["total"] = response.json()["total"]
                print(f"    {name:<38} median {results[name]['median']:7.1f} ms  p95 {results[name]['p95']:7.1f} ms",
                      flush=True)
    finally:
        services.close()
    return results


def write_timeline_report(results: dict[str, Any]) -> None:
    """bench/report/timeline.md: each timeline call at each size, and the largest size's ratio to the smallest."""
    lines = ["# The portfolio timeline at scale", "",
             f"Generated by `bench/scale_bench.py --timeline` on {results['when']} ({results['machine']}; load "
             f"average {results['load']} when it started). The project manager ({PM}) asks for the timeline (plans "
             "and forecasts of 25 credentials a page, through the API and the page with its Gantt chart), one "
             f"credential's plan and its page. At every size up to {PLANNED} of the newest credentials they see in "
             "a planned phase have a target. Times are medians and 95th percentiles of "
             f"{results['repeat']} requests, in ms. Target: the largest size within 2× of the smallest.", ""]
    for backend, data in results["backends"].items():
        sizes = sorted(int(s) for s in data)
        small, large = str(sizes[0]), str(sizes[-1])
        lines += [f"## {backend}", "",
                  "| call | " + " | ".join(f"{s:,}: median / p95 (matching)" for s in sizes) + " | ratio | target |",
                  "|---|" + "---:|" * len(sizes) + "---:|---|"]
        for name, base in data[small].items():
            if not isinstance(base, dict) or "median" not in base:
                continue
            cells = []
            for size in sizes:
                figure = data[str(size)][name]
                total = f" ({figure['total']:,})" if "total" in figure else ""
                cells.append(f"{figure['median']:.1f} / {figure['p95']:.1f}{total}")
            ratio = data[large][name]["median"] / base["median"]
            verdict = "met" if ratio <= 2 else "missed"
            lines.append(f"| {name} | " + " | ".join(cells) + f" | ×{ratio:.2f} | {verdict} |")
        cold = "typical lengths (cold, once a day)"
        lines += ["", "Credentials with a plan: " + ", ".join(
            f"{int(size):,}: {data[size]['planned']}" for size in sorted(data, key=int)) + ".",
                  "", "The institution's typical phase lengths (medians of every finished stay, read from every "
                  "credential's history) are worked out once a day per definition and kept; that first reading "
                  "grows with the history: " + ", ".join(
                      f"{int(size):,} credentials: {data[size][cold]['ms']:.0f} ms ({data[size][cold]['stays']:,} "
                      "stays)" for size in sorted(data, key=int)) + ". The requests above are timed after it.", ""]
    (REPORT / "timeline.md").write_text("\n".join(lines))


# -- the approvals table: each sort and each filter, the same rows shown at every size ---------------------------

INBOX_SORTS = ("due", "title", "faculty", "gate", "waiting", "checklist", "changes", "role")
INBOX_FILTERS = ("due=overdue", "due=week", "gate=feasibility_approval", "faculty={faculty}", "search=data")


def inbox_calls(faculty: int) -> list[tuple[str, str, str, bool]]:
    """(name, path without the page size, who, page): the dean's table by each sort and filter, and tasks."""
    found = [(f"API sort={key}", f"/api/v1/me/approvals?sort={key}", DEAN, False) for key in INBOX_SORTS]
    found += [(f"API {f.format(faculty=faculty)}", f"/api/v1/me/approvals?{f.format(faculty=faculty)}", DEAN, False)
              for f in INBOX_FILTERS]
    found += [(f"page /approvals sort={key}", f"/approvals?sort={key}", DEAN, True) for key in ("due", "checklist")]
    found += [("page /approvals due=overdue", "/approvals?due=overdue", DEAN, True),
              ("API tasks", "/api/v1/me/tasks?", REGISTRAR, False), ("page /tasks", "/tasks?", REGISTRAR, True)]
    return found


def time_inbox(url: str, repeat: int, shown: dict[str, int]) -> dict[str, dict[str, float]]:
    """Median and p95 (ms) of each inbox call; ``shown`` (filled at the first size) fixes the rows per page."""
    services = Services.start(settings_for(url))
    results: dict[str, dict[str, float]] = {}
    try:
        dean = services.access.caller_by_name(DEAN)
        faculty = services.inbox.table.page(by=dean, query=ApprovalQuery()).faculties[0][0]
        with clients(services) as client:
            for name, path, who, page in inbox_calls(faculty):
                http = client(who, page)
                if name not in shown:  # the first (smallest) size: as many rows as it has, at most 25
                    if "tasks" in path:
                        total = len(http.get("/api/v1/me/tasks?limit=25").json()["items"])
                    else:
                        api = path if not page else path.replace("/approvals", "/api/v1/me/approvals")
                        total = http.get(api).json()["total"]
                    shown[name] = max(1, min(25, total))
                rows = shown[name]
                sized = f"{path}&limit={rows}" if "tasks" in path else f"{path}&per_page={rows}"
                assert http.get(sized).status_code == 200, sized
                times = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    response = http.get(sized)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200
                results[name] = {"median": statistics.median(times), "p95": _percentile(times, 0.95), "rows": rows}
                if not page:
                    results[name]["total"] = response.json().get("total", len(response.json()["items"]))
                print(f"    {name:<34} median {results[name]['median']:7.1f} ms  p95 {results[name]['p95']:7.1f} ms"
                      f"  rows {rows}", flush=True)
    finally:
        services.close()
    return results


ANALYTICS_CALLS = (("API, everything", "/api/v1/analytics", "admin", False),
                   ("API, one faculty", "/api/v1/analytics?faculty={faculty}", "admin", False),
                   ("API, one year", "/api/v1/analytics?year={year}", "admin", False),
                   ("API, as a dean (their faculty)", "/api/v1/analytics", DEAN, False),
                   ("page /analytics", "/analytics", "admin", True),
                   ("CSV /analytics.csv", "/analytics.csv", "admin", True))


def time_analytics(url: str, repeat: int, *, keep_folded: bool = False) -> dict[str, Any]:
    """The first fold of every history (seconds; ``keep_folded``: only what is new since the last run), then
    median and p95 (ms) of each analytics call."""
    services = Services.start(settings_for(url))
    results: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        events = services.analytics.fold() if keep_folded else refold(
            services.database, now=services.clock.now(), settle=timedelta(minutes=2),
            day_of=services.settings.days.day_of)
        results["fold"] = {"seconds": round(time.perf_counter() - started, 1), "events": events}
        print(f"    fold of {events:,} events: {results['fold']['seconds']} s", flush=True)
        admin = services.access.caller_by_name("admin")
        faculty = services.analytics.faculties(admin)[0][0]
        year = services.settings.days.day_of(services.clock.now()).year - 1
        with clients(services) as client:
            for name, path, who, page in ANALYTICS_CALLS:
                http = client(who, page)
                sized = path.format(faculty=faculty, year=year)
                assert http.get(sized).status_code == 200, sized
                times = []
                for _ in range(repeat):
                    begun = time.perf_counter()
                    response = http.get(sized)
                    times.append((time.perf_counter() - begun) * 1000)
                    assert response.status_code == 200
                results[name] = {"median": statistics.median(times), "p95": _percentile(times, 0.95)}
                if not page:
                    body = response.json()
                    results[name]["counted"] = sum(s["count"] for s in body["phase_days"])
                print(f"    {name:<34} median {results[name]['median']:7.1f} ms  p95 {results[name]['p95']:7.1f} ms",
                      flush=True)
    finally:
        services.close()
    return results


def write_analytics_report(results: dict[str, Any]) -> None:
    """bench/report/analytics.md: each analytics call at each size, and the largest size's ratio to the smallest."""
    lines = ["# Portfolio analytics at scale", "",
             f"Generated by `{results.get('command', 'bench/scale_bench.py --analytics')}` on {results['when']} "
             f"({results['machine']}; load "
             f"average {results['load']} when it started). For each size the histories are first folded into the "
             "analytics counts (from scratch unless `--keep-folded`: a one-off, done by `workflow db upgrade`, "
             "`workflow analytics refold` and the scheduler, not by requests); then each call is made "
             f"{results['repeat']} times after a warm-up: median and 95th percentile in ms (and how many phase stays "
             "the figures counted). Target: the largest size within 3× of the smallest.", ""]
    for backend, data in results["backends"].items():
        sizes = sorted(int(s) for s in data)
        small, large = str(sizes[0]), str(sizes[-1])
        lines += [f"## {backend}", "", "| | " + " | ".join(f"{s:,} credentials" for s in sizes) + " |",
                  "|---|" + "---:|" * len(sizes),
                  "| first fold of every history | " + " | ".join(
                      f"{data[str(s)]['fold']['events']:,} events in {data[str(s)]['fold']['seconds']} s"
                      for s in sizes) + " |", "",
                  "| call | " + " | ".join(f"{s:,}: median / p95 (stays counted)" for s in sizes)
                  + " | ratio | target |", "|---|" + "---:|" * len(sizes) + "---:|---|"]
        for name, _, _, _ in ANALYTICS_CALLS:
            cells = []
            for size in sizes:
                figure = data[str(size)][name]
                counted = f" ({figure['counted']:,})" if "counted" in figure else ""
                cells.append(f"{figure['median']:.1f} / {figure['p95']:.1f}{counted}")
            ratio = data[large][name]["median"] / data[small][name]["median"]
            verdict = "met" if ratio <= 3 else "missed"
            lines.append(f"| {name} | " + " | ".join(cells) + f" | ×{ratio:.2f} | {verdict} |")
        lines.append("")
    lines += [ANALYTICS_FINDINGS]
    (REPORT / "analytics.md").write_text("\n".join(lines))


ANALYTICS_FINDINGS = """## How the figures stay fast

The figures are read from `analytics_count`, counts folded from the `event` rows (`workflow/store/analytics.py`):
entries into each state by month, and the whole days each state, gate, decision and checklist item took, by
definition, faculty and year. Days are exact to 120 and bucketed beyond (weeks to a year, then 30 days), so each
(definition, faculty, kind, key, period) group is a histogram of at most about 180 rows whatever the number of
credentials: a hundred times more credentials mostly raises counts, not rows. Every count is kept twice: under the
credential's faculty and under "every faculty" (`faculty_id` -1), so the figures an administrator reads first (every
faculty) come from as few rows as one faculty's, and only the table of medians by faculty reads each faculty's
histograms. The index on `(kind, period, definition, faculty, key, days, count)` holds every column read, in the
order the filters choose them: a call reads the rows of its one period (every year, or one year) and nothing else,
and the medians and 90th percentiles are found with running sums over those histograms in SQL.

Decisions waiting now come from `gate_waiting` (counted by role on its index) and renewals and expiries from a
covering index of the timers `(status, action, due_at, timer, credential_id)`; for chosen faculties or one
definition the credentials are found first (on their own index) and only their timers counted. Those two grow with
what is waiting or due within a year, not with the history.

## Folding outside requests

The fold of every history is a one-off (timed above for each size, the same databases refolded from scratch in the
run unless `--keep-folded`). It is done by `workflow db upgrade` (after migrating), `workflow analytics fold` or
`workflow analytics refold`, and each poll of the scheduler folds what was written since the last one (at most
100,000 events a poll, so the timers are not held up). A page or
API request folds at most 2,000 events (the tail since the last poll: one row read when there is none) and
otherwise reads what is folded; the figures say how far (`folded_through`).
"""


def write_inbox_report(results: dict[str, Any]) -> None:
    """bench/report/inbox.md: each inbox call at each size, and the largest size's ratio to the smallest."""
    lines = ["# The approvals table at scale", "",
             f"Generated by `bench/scale_bench.py --inbox` on {results['when']} ({results['machine']}; load average "
             f"{results['load']} when it started). The dean ({DEAN}) asks for the approvals table sorted by each "
             "column and with each filter, through the API and the page; the registrar asks for their tasks. Each "
             "call shows the same number of rows at every size (as many as the smallest database has, at most "
             f"25); times are medians and 95th percentiles of {results['repeat']} requests, in ms. Target: the "
             "largest size within 2× of the smallest.", ""]
    for backend, data in results["backends"].items():
        sizes = sorted(int(s) for s in data)
        small, large = str(sizes[0]), str(sizes[-1])
        lines += [f"## {backend}", "",
                  "| call | rows shown | " + " | ".join(f"{s:,}: median / p95 (waiting)" for s in sizes)
                  + " | ratio | target |", "|---|---:|" + "---:|" * len(sizes) + "---:|---|"]
        for name, base in data[small].items():
            cells = []
            for size in sizes:
                figure = data[str(size)][name]
                total = f" ({figure['total']:,})" if "total" in figure else ""
                cells.append(f"{figure['median']:.1f} / {figure['p95']:.1f}{total}")
            ratio = data[large][name]["median"] / base["median"]
            lines.append(f"| {name} | {base['rows']} | " + " | ".join(cells) + f" | ×{ratio:.2f} | "
                         f"{'met' if ratio <= 2 else 'missed'} |")
        lines.append("")
    lines += [INBOX_FINDINGS]
    (REPORT / "inbox.md").write_text("\n".join(lines))


INBOX_FINDINGS = """## How the table stays fast

Which decisions wait for whom depends on the engine (approver rules that apply to the credential's data, stages
that open when the one before is complete, approvals that stop counting when what they were made on changes,
checklist items that apply only to some credentials). Sorting by "checklist complete" or counting the overdue
ones by evaluating each candidate in Python would read every candidate per request. Instead the one write path
keeps the engine's answer per credential in `gate_waiting` (`workflow.store.waiting`: one row per credential,
gate and approver role still short of approvals, with the principals whose approval counts, the checklist count,
the due date, and the credential's title, org unit and version), and the table is SQL alone
(`workflow.services.approvals`): one `SELECT` per role and principal the person decides for, `UNION ALL`,
filters in each branch, sort and `LIMIT`/`OFFSET` on the union, and one `COUNT` (with a second sum in the same
pass when filtered). What grows with the database is the number of the person's own waiting rows (the counts in
brackets, found through the index on `(role, org_unit_id, due_at)`): they are counted and sorted by the database,
never read into Python, and the credentials they skip are never read.

Filling the table for an existing database (the upgrade to 0009, by live code right after the migration): 6.3 s
for 100,000 credentials on SQLite (20,145 rows). Its cost on the write path (`bench/service_bench.py --rounds 4
--transitions 150`, SQLite, against the same run on the code before): nothing for actions on credentials that
cannot wait before or after (fire and check in ideation: within the noise), about 50 µs for a decision
(414 against 361 µs per action), the entries and decisions the action read being reused.

The registrar's tasks (`/tasks`, `/api/v1/me/tasks`) are still found by evaluating candidates in Python, a page
at a time; their candidates are now read per state in index order and merged (each state's oldest first, cut at
the page), and the first page reads three candidates per item asked for, so the work follows the page: before,
PostgreSQL gathered every credential of the states concerned to sort them (7 ms at 100,000 credentials).
"""


# -- memory of a real server ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def _tail(server: subprocess.Popen[bytes]) -> str:
    server.terminate()
    _, err = server.communicate(timeout=30)
    return err.decode(errors="replace")[-2000:]


def serve_memory(url: str, rounds: int) -> dict[str, float]:
    """RSS (MiB) of ``workflow serve`` after starting, and after ``rounds`` of the API calls and pages."""
    services = Services.start(settings_for(url))
    try:
        credential_id = longest_history(services, DEAN)
        tokens = {who: services.auth.create_token(services.people.user_id(who), "scale bench memory").token
                  for who in (DEAN, PM, REGISTRAR)}
        sessions = {who: services.auth.start_session(services.people.user_id(who))[0] for who in (DEAN, PM, REGISTRAR)}
    finally:
        services.close()
    port = _free_port()
    env = {**os.environ, "WORKFLOW_DATABASE_URL": url, "WORKFLOW_SCHEDULER_IN_APP": "false",
           "WORKFLOW_DEFINITIONS_DIR": str(ROOT / "definitions"), "WORKFLOW_NOTIFICATIONS_DIR":
           str(ROOT / "notifications"), "WORKFLOW_COOKIE_SECURE": "false", "WORKFLOW_DATA_DIR": str(CACHE)}
    command = [str(Path(sys.executable).with_name("workflow")), "serve", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        with httpx2.Client(base_url=base, timeout=120) as http:
            while True:
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("workflow serve did not start")
                time.sleep(0.2)
            started = _rss_kib(server.pid)
            working = []
            for call in calls(credential_id):  # the calls that answer (some pages may not be built yet)
                try:
                    if call.page:
                        http.cookies.set(SESSION_COOKIE, sessions[call.who])
                        answered = http.get(call.path).status_code
                        http.cookies.clear()
                    else:
                        answered = http.get(call.path, headers={"Authorization": f"Bearer {tokens[call.who]}"}
                                            ).status_code
                except httpx2.TransportError as error:  # a page under construction may break the connection
                    http.cookies.clear()
                    if server.poll() is not None:
                        raise RuntimeError(f"workflow serve died on {call.path}: {error}; its log ends: "
                                           f"{_tail(server)}") from None
                    continue
                if answered == 200:
                    working.append(call)
            for _ in range(rounds):
                for call in working:
                    if call.page:
                        http.cookies.set(SESSION_COOKIE, sessions[call.who])
                        response = http.get(call.path)
                        http.cookies.clear()
                    else:
                        response = http.get(call.path, headers={"Authorization": f"Bearer {tokens[call.who]}"})
                    assert response.status_code == 200, (call.path, response.status_code)
            after = _rss_kib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"start": started / 1024, "after": after / 1024, "calls": len(working)}


# -- the report -------------------------------------------------------------------------------------------------


def write_report(results: dict[str, Any], before: dict[str, Any] | None) -> None:
    REPORT.mkdir(parents=True, exist_ok=True)
    (REPORT / "scaling.json").write_text(json.dumps(results, indent=1))
    lines = ["# Scaling: response times and memory against the size of the database", "",
             f"Generated by `bench/scale_bench.py` on {results['when']} ({results['machine']}; load average "
             f"{results.get('load', '?')} when it started: the machine is shared, so single figures are noisy). "
             "Each database holds "
             f"the given number of credentials with up to {YEARS} years of history (`workflow demo generate`, "
             f"seed {SEED}); times are medians and 95th percentiles of {results['repeat']} requests through the "
             "in-process app, in milliseconds; ×100 is the median's ratio to the smallest size. Target: the "
             "paginated lists and inboxes at the largest size within 2× of the smallest.", ""]
    for backend, data in results["backends"].items():
        sizes = [int(s) for s in data["times"]]
        lines += [f"## {backend}", "", "### The generated databases", "",
                  "| credentials | events | rows | seconds | rows/s |", "|---:|---:|---:|---:|---:|"]
        for size in sizes:
            made = data["generated"][str(size)]
            lines.append(f"| {size:,} | {made['events']:,} | {made['rows']:,} | {made['seconds']:,} | "
                         f"{made['rows_per_second']:,} |")
        lines += ["", "### Response times (ms)", "",
                  "| call | " + " | ".join(f"{s:,}: median / p95 / ×{sizes[0]:,}" for s in sizes) + " | target |",
                  "|---|" + "---:|" * len(sizes) + "---|"]
        for name in data["times"][str(sizes[0])]:
            cells = []
            base = data["times"][str(sizes[0])][name]
            for size in sizes:
                figure = data["times"][str(size)].get(name)
                if not isinstance(figure, dict) or not isinstance(base, dict):
                    cells.append(str(figure or "—"))
                    continue
                earlier = ((before or {}).get("backends", {}).get(backend, {}).get("times", {})
                           .get(str(size), {}).get(name))
                was = f" (before: {earlier['median']:.1f})" if isinstance(earlier, dict) else ""
                items = f", {figure['items']} items" if "items" in figure else ""
                cells.append(f"{figure['median']:.1f} / {figure['p95']:.1f} / ×{figure['median'] / base['median']:.2f}"
                             f"{items}{was}")
            last = data["times"][str(sizes[-1])].get(name)
            target = ""
            if name in PAGED and isinstance(last, dict) and isinstance(base, dict):
                target = "met" if last["median"] <= 2 * base["median"] else "missed"
                if target == "missed" and last.get("items") and base.get("items"):
                    per_item = (last["median"] / last["items"]) / (base["median"] / base["items"])
                    target += f" (per item ×{per_item:.2f})"
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {target} |")
        memory = data.get("memory")
        if memory:
            small, large = sorted(memory, key=int)
            lines += ["", "### Memory of `workflow serve` (resident set, MiB)", "",
                      "| credentials | at start | after the request mix |", "|---:|---:|---:|"]
            for size in (small, large):
                lines.append(f"| {int(size):,} | {memory[size]['start']:.0f} | {memory[size]['after']:.0f} |")
            ratio = memory[large]["after"] / memory[small]["after"]
            lines += ["", f"{int(large):,} against {int(small):,} credentials: ×{ratio:.2f} "
                      f"(target ≤ 1.5: {'met' if ratio <= 1.5 else 'missed'})."]
        lines.append("")
    lines += ["![Median response time against database size](scaling.png)", "", FINDINGS]
    (REPORT / "scaling.md").write_text("\n".join(lines))
    plot(results)


def plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(results["backends"])
    figure, axes = plt.subplots(1, len(backends), figsize=(7 * len(backends), 5), squeeze=False)
    for axis, backend in zip(axes[0], backends, strict=True):
        times = results["backends"][backend]["times"]
        sizes = sorted(int(s) for s in times)
        for name in times[str(sizes[0])]:
            points = [(s, times[str(s)][name]["median"]) for s in sizes if isinstance(times[str(s)].get(name), dict)]
            if points:
                axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("credentials in the database")
        axis.set_ylabel("median response time (ms)")
        axis.set_title(backend)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(REPORT / "scaling.png", dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000,100000", help="credential counts, comma-separated")
    parser.add_argument("--memory-sizes", default="1000,100000", help="the two sizes whose server memory is compared")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per call and size")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of the request mix before measuring memory")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only, even when a URL is set")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--no-memory", action="store_true", help="leave out the server's memory")
    parser.add_argument("--regenerate", action="store_true", help="generate the databases afresh")
    parser.add_argument("--before", type=Path, help="an earlier scaling.json to show beside this run")
    parser.add_argument("--inbox", action="store_true",
                        help="time the approvals table (each sort and filter) and tasks alone (bench/report/inbox.md)")
    parser.add_argument("--timeline", action="store_true",
                        help="time the portfolio timeline, its plans and forecasts (bench/report/timeline.md)")
    parser.add_argument("--analytics", action="store_true",
                        help="time the portfolio analytics alone (bench/report/analytics.md)")
    parser.add_argument("--keep-folded", action="store_true",
                        help="with --analytics: fold only what is new instead of refolding every history")
    parser.add_argument("--report-only", type=Path, metavar="JSON",
                        help="measure nothing: write the report again from a scaling.json")
    args = parser.parse_args(argv)
    before = json.loads(args.before.read_text()) if args.before else None
    if args.report_only:
        write_report(json.loads(args.report_only.read_text()), before)
        return 0
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    memory_sizes = sorted(int(s.replace("_", "")) for s in args.memory_sizes.split(","))
    pg_url = os.environ.get("WORKFLOW_BENCH_POSTGRES_URL", "")
    backends = ([] if args.no_sqlite else ["sqlite"]) + (["postgres"] if pg_url and not args.no_postgres else [])
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%d %H:%M"), "repeat": args.repeat,
                               "command": " ".join(["PYTHONPATH=src python bench/scale_bench.py",
                                                    *(sys.argv[1:] if argv is None else argv)]),
                               "load": f"{os.getloadavg()[0]:.1f}",
                               "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
                               "backends": {}}
    if args.timeline:
        for backend in backends:
            print(f"{backend}:", flush=True)
            results["backends"][backend] = {}
            for size in sizes:
                url, _ = database(backend, size, pg_url, regenerate=args.regenerate)
                print(f"  {size:,} credentials:", flush=True)
                results["backends"][backend][str(size)] = time_timeline(url, args.repeat)
        REPORT.mkdir(parents=True, exist_ok=True)
        (REPORT / "timeline.json").write_text(json.dumps(results, indent=1))
        write_timeline_report(results)
        print(f"report: {REPORT / 'timeline.md'}")
        return 0
    if args.analytics:
        for backend in backends:
            print(f"{backend}:", flush=True)
            results["backends"][backend] = {}
            for size in sizes:
                url, _ = database(backend, size, pg_url, regenerate=args.regenerate)
                print(f"  {size:,} credentials:", flush=True)
                results["backends"][backend][str(size)] = time_analytics(url, args.repeat,
                                                                         keep_folded=args.keep_folded)
        REPORT.mkdir(parents=True, exist_ok=True)
        (REPORT / "analytics.json").write_text(json.dumps(results, indent=1))
        write_analytics_report(results)
        print(f"report: {REPORT / 'analytics.md'}")
        return 0
    if args.inbox:
        for backend in backends:
            print(f"{backend}:", flush=True)
            shown: dict[str, int] = {}
            results["backends"][backend] = {}
            for size in sizes:
                url, _ = database(backend, size, pg_url, regenerate=args.regenerate)
                print(f"  {size:,} credentials:", flush=True)
                results["backends"][backend][str(size)] = time_inbox(url, args.repeat, shown)
        REPORT.mkdir(parents=True, exist_ok=True)
        (REPORT / "inbox.json").write_text(json.dumps(results, indent=1))
        write_inbox_report(results)
        print(f"report: {REPORT / 'inbox.md'}")
        return 0
    for backend in backends:
        print(f"{backend}:", flush=True)
        data: dict[str, Any] = {"generated": {}, "times": {}, "memory": {}}
        for size in sizes:
            url, made = database(backend, size, pg_url, regenerate=args.regenerate)
            data["generated"][str(size)] = made
            print(f"  {size:,} credentials ({made['events']:,} events):", flush=True)
            data["times"][str(size)] = time_calls(url, args.repeat)
        if not args.no_memory:
            for size in memory_sizes:
                url, made = database(backend, size, pg_url, regenerate=args.regenerate and size not in sizes)
                data["generated"].setdefault(str(size), made)
                data["memory"][str(size)] = serve_memory(url, args.rounds)
                print(f"  memory at {size:,}: {data['memory'][str(size)]}", flush=True)
        results["backends"][backend] = data
    write_report(results, before)
    print(f"report: {REPORT / 'scaling.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
