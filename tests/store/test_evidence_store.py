"""Evidence files kept and proven: `workflow audit verify` names a credential whose stored file was altered or
deleted on disk, and a backup carries every file, checked by its SHA-256, from SQLite into PostgreSQL byte for
byte."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEFINITIONS, ROOT, settings_for
from tests.evidence import PDF, PDF_V2, PNG, noise, with_finance, workbook
from tests.organisation import load_org
from tests.steps import SYSTEM, at_feasibility
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import BackupError
from workflow.services.access import Caller
from workflow.store.backup import backup, restore
from workflow.store.database import Database
from workflow.store.documents import FileStore


def attach(org: Services, cid: int, target: str, name: str, content: bytes, by: str = "fin.business") -> str:
    """Attach ``content`` as the next version of ``target`` (as ``by``, through the service); its SHA-256."""
    with org.evidence.receive() as incoming:
        for start in range(0, len(content), 65536):
            incoming.write(content[start:start + 65536])
        found = org.evidence.attach_file(credential_id=cid, target=target, filename=name, incoming=incoming,
                                         by=org.access.caller_by_name(by))
    return found.sha256


def audit(settings_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`workflow audit verify` on the test's database and documents, as an administrator runs it."""
    env = {**os.environ, "WORKFLOW_DATABASE_URL": settings_url, "WORKFLOW_DATA_DIR": str(data_dir),
           "WORKFLOW_DEFINITIONS_DIR": str(DEFINITIONS), "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications")}
    result = subprocess.run([sys.executable, "-m", "workflow.cli", "audit", "verify"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_audit_verify_names_the_credential_whose_file_was_altered_or_deleted(org: Services) -> None:
    org = with_finance(org)
    kept, altered, deleted = (at_feasibility(org) for _ in range(3))
    attach(org, kept, "initial_budget", "budget.pdf", PDF)
    touched = attach(org, altered, "initial_budget", "budget.xlsx", workbook())
    gone = attach(org, deleted, "one_pager", "one-pager.png", PNG, by="pm.business")
    data_dir, url = org.settings.data_dir, org.settings.effective_database_url
    fine = audit(url, data_dir)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert fine.stdout.startswith("ok: 3 credentials")

    store = FileStore(org.settings.documents_path)
    os.chmod(store.where(touched), 0o640)
    with store.where(touched).open("r+b") as file:  # someone edits the stored workbook in place
        file.seek(40)
        file.write(b"tampered")
    store.where(gone).unlink()  # and removes the one-pager
    broken = audit(url, data_dir)
    assert broken.returncode == 1
    lines = broken.stdout.splitlines()
    assert any(line.startswith(f"credential #{altered}: the file of initial_budget version 1 (budget.xlsx) was "
                               "altered in the document store") for line in lines), broken.stdout
    assert any(line.startswith(f"credential #{deleted}: the file of one_pager version 1 (one-pager.png), SHA-256 "
                               f"{gone}, is missing from the document store (deleted)") for line in lines), \
        broken.stdout
    assert not any(line.startswith(f"credential #{kept}:") for line in lines)
    assert "broken: 2 of 3 credentials" in broken.stdout


def test_a_backup_carries_every_document_from_sqlite_into_postgresql_byte_for_byte(
        pg_url: str, tmp_path: Path, clock: ManualClock) -> None:
    files = {("initial_budget", 1): PDF, ("initial_budget", 2): PDF_V2, ("one_pager", 1): PNG,
             ("marketing_plan_costed", 1): workbook(), ("proposal", 1): noise(3_000_000),
             ("funding_applied", 1): PDF}  # the same bytes as another version: stored once, restored to both
    source = Services.start(settings_for(f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "source"), clock)
    try:
        org = with_finance(load_org(source))
        cid = at_feasibility(org)
        for (target, _), content in files.items():
            attach(org, cid, target, f"{target}.bin", content, by="pm.business")
        written = backup(org.database, tmp_path / "college.gz", clock=clock, documents=org.documents)
    finally:
        source.close()
    assert written.rows["evidence_document"] == len(files)

    target_store = FileStore(tmp_path / "restored-documents")
    target = Database(pg_url)
    try:
        restore(target, tmp_path / "college.gz", documents=target_store)
    finally:
        target.dispose()
    restored = Services.start(settings_for(pg_url, tmp_path / "target", documents_dir=tmp_path /
                                           "restored-documents"), clock)
    try:
        versions = restored.evidence.list(credential_id=cid, by=SYSTEM)
        assert {(v.target, v.version) for v in versions} == set(files)
        for (target, version), content in files.items():
            found, stream = restored.evidence.open(credential_id=cid, target=target, version=version, by=SYSTEM)
            with stream:
                assert stream.read() == content, (target, version)  # byte for byte
            assert found.sha256 == hashlib.sha256(content).hexdigest()
        from workflow.services.audit import verify_database
        report = verify_database(restored.database, documents=restored.documents)
        assert report.ok, [str(f) for f in report.findings]
        # the restored service carries on: a new version on top of the restored ones
        assert attach(restored, cid, "initial_budget", "budget-v3.pdf", PDF + b"\n%v3\n",
                      by="pm.business") and len(restored.evidence.list(credential_id=cid, by=SYSTEM)) == 7
    finally:
        restored.close()


def test_a_backup_with_a_damaged_document_is_refused_and_nothing_restored(org: Services, tmp_path: Path) -> None:
    org = with_finance(org)
    cid = at_feasibility(org)
    attach(org, cid, "initial_budget", "budget.pdf", PDF)
    path = backup(org.database, tmp_path / "good.gz", documents=org.documents).path
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    blob = next(i for i, line in enumerate(lines) if line.startswith('{"blob":')) + 1
    lines[blob] = '"' + "QUJD" + lines[blob][5:]  # another first three bytes
    damaged = tmp_path / "damaged.gz"
    damaged.write_bytes(gzip.compress("".join(lines).encode()))
    target_store = FileStore(tmp_path / "elsewhere")
    target = Database(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        with pytest.raises(BackupError, match="its bytes do not match its SHA-256"):
            restore(target, damaged, documents=target_store)
    finally:
        target.dispose()
    assert [p for p in target_store.root.rglob("*") if p.is_file()] == []


def test_a_backup_is_refused_while_a_stored_file_is_altered(org: Services, tmp_path: Path) -> None:
    org = with_finance(org)
    sha = attach(org, at_feasibility(org), "initial_budget", "budget.pdf", PDF)
    org.documents.where(sha).unlink()
    with pytest.raises(BackupError, match=f"the evidence file {sha} is missing from the document store"):
        backup(org.database, tmp_path / "x.gz", documents=org.documents)
    assert not (tmp_path / "x.gz").exists()


def test_deleting_a_credentials_documents_is_refused_while_its_history_is_kept(org: Services) -> None:
    org = with_finance(org)
    cid = at_feasibility(org)
    sha = attach(org, cid, "initial_budget", "budget.pdf", PDF)
    from workflow.errors import Conflict
    with pytest.raises(Conflict, match="cannot be deleted while its history must be kept"):
        org.evidence.delete(credential_id=cid, by=Caller.system("admin"))
    assert org.documents.exists(sha)
