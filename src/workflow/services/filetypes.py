"""What kind of file an upload is, decided from its bytes (never its name), against an allow-list; and the name
it is kept under, made safe.

The magic numbers are read by ``puremagic``; Office Open XML files (zip) are told apart by the parts inside them;
plain text is UTF-8 without control characters that does not look like markup. HTML, SVG, XML and anything else
not on the list are refused.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import puremagic

from workflow.errors import InvalidInput


@dataclass(frozen=True)
class FileType:
    """An allowed kind of file: its content type, the extension it is saved with, and words for people."""

    content_type: str
    extension: str
    words: str

    @property
    def previewable(self) -> bool:
        """Whether a browser may show it inline (its own PDF viewer, or an image); never HTML or SVG."""
        return self.content_type == "application/pdf" or (self.content_type.startswith("image/")
                                                           and self.content_type != "image/svg+xml")


PDF = FileType("application/pdf", ".pdf", "PDF")
ALLOWED = {t.content_type: t for t in (
    PDF,
    FileType("image/png", ".png", "PNG image"),
    FileType("image/jpeg", ".jpg", "JPEG image"),
    FileType("image/gif", ".gif", "GIF image"),
    FileType("image/webp", ".webp", "WebP image"),
    FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx", "Word document"),
    FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx", "Excel workbook"),
    FileType("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx",
             "PowerPoint presentation"),
    FileType("application/msword", ".doc", "Word 97–2003 document"),
    FileType("application/vnd.ms-excel", ".xls", "Excel 97–2003 workbook"),
    FileType("application/vnd.ms-powerpoint", ".ppt", "PowerPoint 97–2003 presentation"),
    FileType("text/plain", ".txt", "plain text"),
)}
ALLOWED_WORDS = "PDF, Word, Excel, PowerPoint, PNG, JPEG, GIF or WebP images, or plain text"
_OOXML = {"word/": ".docx", "xl/": ".xlsx", "ppt/": ".pptx"}
_OLE = {".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint"}
_MARKUP = re.compile(rb"^\s*(<\?xml|<!doctype|<html|<svg|<script|<head|<body|<iframe|<!--)", re.IGNORECASE)
_NAMED = {"text/html": "an HTML page", "image/svg+xml": "an SVG drawing", "application/xml": "XML",
          "application/zip": "a zip archive", "application/x-msdownload": "a program"}


def sniff(head: bytes, path: Path, filename: str) -> FileType:
    """The allowed type of a file whose first bytes are ``head`` (the whole file is at ``path``).

    Raises:
        InvalidInput: (field ``file``) an empty file, or a type not on the list, named as people know it.
    """
    if not head:
        raise InvalidInput("file", "The file is empty; nothing was stored")
    if _MARKUP.match(head[:512]):
        raise _refused("an HTML, SVG or XML document")
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        matches = []
    found = [m.mime_type for m in matches if m.mime_type]
    if any(m in ("text/html", "image/svg+xml", "application/xml") for m in found):
        raise _refused(_NAMED.get(found[0], "markup"))
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _office_open_xml(path)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # the 97–2003 Office container
        return ALLOWED[_OLE.get(PurePosixPath(filename.lower()).suffix, "application/msword")]
    for mime in found:
        if mime in ALLOWED and mime.startswith("image/"):
            return ALLOWED[mime]
    if found:
        raise _refused(_NAMED.get(found[0], f"of type {found[0]}"))
    if _plain_text(head):
        return ALLOWED["text/plain"]
    raise _refused("of a kind that cannot be recognised")


def _office_open_xml(path: Path) -> FileType:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        raise _refused("a damaged zip archive") from None
    if "[Content_Types].xml" in names:
        for prefix, extension in _OOXML.items():
            if any(name.startswith(prefix) for name in names):
                return next(t for t in ALLOWED.values() if t.extension == extension)
    raise _refused("a zip archive")


def _plain_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as cut:  # the 8 KiB may end inside a character
        if cut.start < len(head) - 3:
            return False
        text = head[:cut.start].decode("utf-8")
    return not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text)


def _refused(what: str) -> InvalidInput:
    return InvalidInput("file", f"The file is {what}, which cannot be attached; attach {ALLOWED_WORDS} "
                                "(the type is read from the file's content, not its name); nothing was stored")


_UNSAFE = re.compile(r"[^\w .,()+@&'\-]", re.UNICODE)


def safe_name(filename: str, kind: FileType) -> str:
    """The name a file is kept and offered under: a plain name (no folders), safe characters only, ending in the
    extension of its real type.

    Raises:
        InvalidInput: (field ``filename``) no name, or one naming folders (``../``, ``/``, ``\\``) or holding
            control characters.
    """
    name = unicodedata.normalize("NFC", filename).strip()
    if not name:
        raise InvalidInput("filename", "Give the file a name")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidInput("filename", "The file name holds control characters; nothing was stored")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".."):
        raise InvalidInput("filename", "The file name must be a plain name without folders (no “/”, “\\” or "
                                       "“..”); nothing was stored")
    name = _UNSAFE.sub("_", name).strip(" .") or "document"
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if f".{suffix.lower()}" != kind.extension and not (kind.extension == ".jpg" and suffix.lower() == "jpeg"):
        stem = name
        suffix = kind.extension[1:]
    return f"{stem[:150]}.{suffix}"
