"""Benchmark: receiving an evidence file through the service against writing the same bytes to disk by hand.

Not a test. Run it from the repository root::

    .venv/bin/python bench/evidence_bench.py            # 20 MB files, 7 rounds
    .venv/bin/python bench/evidence_bench.py --quick    # 4 MB files, 3 rounds
    .venv/bin/python bench/evidence_bench.py --report   # also writes bench/report/evidence.md

Cases, alternating in the same process on one SQLite database in a temporary folder:

(a) baseline  the file's chunks (64 KiB) written to a temporary file while SHA-256 is taken, then moved into place
              under its hash: the least any content-addressed store does;
(b) service   ``EvidenceService.receive()`` + ``attach_file()``: the same chunks through the document store, the
              type read from the content, the name cleaned, and one action recording the version (an event in
              the hash chain, the row, the credential's version) in one transaction.

Each figure is the median over the rounds of MB/s; the ratio (b)/(a) is what the service costs over bare I/O.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import settings_for  # noqa: E402
from tests.evidence import FINANCE_ORG  # noqa: E402
from tests.organisation import load_org  # noqa: E402
from tests.steps import at_feasibility  # noqa: E402
from workflow.clock import ManualClock  # noqa: E402
from workflow.context import Services  # noqa: E402

CHUNK = 64 * 1024


def content(size: int, serial: int) -> list[bytes]:
    """A distinct PDF-looking file of ``size`` bytes, in chunks."""
    body = b"%PDF-1.4\n" + f"% round {serial}\n".encode() + os.urandom(size)
    return [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)]


def baseline(folder: Path, chunks: list[bytes]) -> float:
    start = time.perf_counter()
    digest = hashlib.sha256()
    handle, name = tempfile.mkstemp(dir=folder)
    with os.fdopen(handle, "wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
    os.replace(name, folder / digest.hexdigest())
    return time.perf_counter() - start


def service(org: Services, cid: int, chunks: list[bytes], serial: int) -> float:
    by = org.access.caller_by_name("fin.business")
    start = time.perf_counter()
    with org.evidence.receive() as incoming:
        for chunk in chunks:
            incoming.write(chunk)
        org.evidence.attach_file(credential_id=cid, target="initial_budget", filename=f"budget-{serial}.pdf",
                                 incoming=incoming, by=by)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    size_mb, rounds = (4, 3) if args.quick else (20, 7)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "plain").mkdir()
        org = Services.start(settings_for(f"sqlite:///{root / 'bench.db'}", root / "data",
                                          evidence_max_bytes=64 * 1_048_576),
                             ManualClock(datetime(2026, 9, 1, tzinfo=UTC)))
        try:
            load_org(org)
            load_org(org, FINANCE_ORG)
            cid = at_feasibility(org)
            plain, served = [], []
            for serial in range(rounds):
                chunks = content(size_mb * 1_048_576, serial)
                plain.append(size_mb / baseline(root / "plain", chunks))
                served.append(size_mb / service(org, cid, chunks, serial))
        finally:
            org.close()
    a, b = statistics.median(plain), statistics.median(served)
    lines = [f"# Evidence upload: service against bare content-addressed writes ({platform.python_version()}, "
             f"{size_mb} MB files, {rounds} rounds, SQLite)", "",
             "| case | MB/s (median) |", "|---|---|",
             f"| (a) baseline: chunks to a temp file with SHA-256, moved under the hash | {a:.0f} |",
             f"| (b) service: receive + sniff + attach (one chained action) | {b:.0f} |", "",
             f"ratio (b)/(a): **{b / a:.2f}**", ""]
    print("\n".join(lines))
    if args.report:
        (ROOT / "bench" / "report" / "evidence.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
