"""Evidence files for tests: small real files of the allowed kinds, and a person of the finance office per
faculty (the owner of the budget items)."""

from __future__ import annotations

import io
import os
import zipfile

from tests.organisation import load_org
from workflow.context import Services

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PDF_V2 = PDF.replace(b"Catalog", b"Catalog /Lang (en-CA)")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
FINANCE_ORG = """
units: []
users:
  - {username: fin.business, name: Finance Business, password: "correct horse battery",
     roles: [{role: finance, unit: business}]}
  - {username: fin.health, name: Finance Health, password: "correct horse battery",
     roles: [{role: finance, unit: health}]}
"""


def workbook() -> bytes:
    """A minimal Excel workbook (Office Open XML)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet>" + "<row/>" * 2000 + "</worksheet>")
    return out.getvalue()


def noise(size: int) -> bytes:
    """Plain text of ``size`` bytes that no two calls repeat (so each is a file of its own)."""
    return os.urandom(size // 2).hex().encode()[:size]


def with_finance(org: Services) -> Services:
    return load_org(org, FINANCE_ORG)
