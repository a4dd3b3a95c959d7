"""Where evidence files are kept: content-addressed by the SHA-256 of their bytes, outside anything served.

:class:`DocumentStore` is the small interface the services use (an object store can stand behind it later);
:class:`FileStore` keeps each file at ``<root>/<first two hex digits>/<sha256>`` on the local filesystem. A file
is received in chunks into a temporary file beside the store, hashed as it comes and counted against a limit,
and moved into place only once whole: nothing half-written is ever found under its hash.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from workflow.errors import TooLarge

CHUNK = 64 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Receiving(Protocol):
    """A file being received: chunks go in, then it is kept under its hash or thrown away."""

    @property
    def size(self) -> int: ...

    def write(self, chunk: bytes) -> None: ...

    def head(self) -> bytes: ...

    def path(self) -> Path: ...

    def keep(self) -> str: ...

    def discard(self) -> None: ...


class DocumentStore(Protocol):
    """Content-addressed storage of evidence files."""

    def receive(self, limit: int) -> Receiving: ...

    def exists(self, sha256: str) -> bool: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def digest(self, sha256: str) -> str | None: ...


class _Incoming:
    """A file arriving in chunks into a temporary file of the store, hashed and counted as it comes."""

    def __init__(self, store: FileStore, limit: int) -> None:
        self._store = store
        self._limit = limit
        handle, name = tempfile.mkstemp(prefix="incoming-", dir=store.incoming)
        self._file = os.fdopen(handle, "wb")
        self._path = Path(name)
        self._hash = hashlib.sha256()
        self._head = b""
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Add a chunk. Raises TooLarge (and throws the file away) once past the limit."""
        self.size += len(chunk)
        if self.size > self._limit:
            self.discard()
            raise TooLarge(self._limit)
        if len(self._head) < 8192:
            self._head += chunk[:8192 - len(self._head)]
        self._hash.update(chunk)
        self._file.write(chunk)

    def head(self) -> bytes:
        """The first 8 KiB, for sniffing the type."""
        return self._head

    def path(self) -> Path:
        """The temporary file (whole once every chunk is written), for checks that read the file itself."""
        self._file.flush()
        return self._path

    def keep(self) -> str:
        """Move the file into place under its SHA-256 (an identical file already there is kept); returns the hash."""
        self._file.close()
        sha = self._hash.hexdigest()
        target = self._store.where(sha)
        if target.exists():
            self._path.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self._path, 0o440)
            os.replace(self._path, target)
        return sha

    def discard(self) -> None:
        """Throw the file away."""
        if not self._file.closed:
            self._file.close()
        self._path.unlink(missing_ok=True)


class FileStore:
    """Evidence files on the local filesystem under ``root`` (``<data dir>/documents`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.incoming = self.root / "incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)

    def where(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def receive(self, limit: int) -> _Incoming:
        """Start receiving a file of at most ``limit`` bytes."""
        return _Incoming(self, limit)

    def exists(self, sha256: str) -> bool:
        return self.where(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """The stored file, to read (FileNotFoundError if it is gone)."""
        return self.where(sha256).open("rb")

    def digest(self, sha256: str) -> str | None:
        """The SHA-256 of the bytes stored under ``sha256`` as they are now; None if the file is gone."""
        try:
            with self.where(sha256).open("rb") as stream:
                return hashlib.file_digest(stream, "sha256").hexdigest()
        except FileNotFoundError:
            return None


def chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    """A file's bytes in chunks."""
    while chunk := stream.read(size):
        yield chunk
