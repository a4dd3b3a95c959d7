"""Definitions by version: publishing the files in ``definitions/`` and building each version's engine once.

The folder is read when the service starts and again only when an administrator asks for a reload: the registry
keeps what it loaded (and the problems of a reload that was refused), so nothing reads the disk per request.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from workflow.clock import Clock
from workflow.definitions.loader import LoadedDefinition, load_all, parse_definition
from workflow.engine import Engine
from workflow.errors import DefinitionProblem, InvalidDefinition, NotFound
from workflow.store.database import Database
from workflow.store.tables import StoredDefinition


class DefinitionRegistry:
    """The versions of every definition and their engines (one engine per version, built on first use)."""

    def __init__(self, database: Database, clock: Clock, folder: Path | None = None) -> None:
        self._db = database
        self._clock = clock
        self._folder = folder
        self._engines: dict[tuple[str, int], Engine] = {}
        self._current: dict[str, int] = {}
        self._loaded: dict[str, LoadedDefinition] = {}
        self._problems: tuple[DefinitionProblem, ...] = ()
        self._lock = threading.Lock()
        self._reloading = threading.Lock()

    def publish(self, loaded: Mapping[str, LoadedDefinition]) -> dict[str, int]:
        """Store each definition's text as a new version unless that exact text is stored already, and keep
        ``loaded`` as what this process runs.

        Returns:
            Definition name → the version now current.
        """
        versions: dict[str, int] = {}
        for name, item in loaded.items():
            versions[name] = self._publish_one(item)
            with self._lock:
                self._engines.setdefault((name, versions[name]), Engine(item.definition))
                self._current[name] = versions[name]
                self._loaded[name] = item
        return versions

    def loaded(self) -> dict[str, LoadedDefinition]:
        """The definitions as last loaded from the folder (at start, or by the last reload that succeeded)."""
        with self._lock:
            return dict(self._loaded)

    def problems(self) -> tuple[DefinitionProblem, ...]:
        """What was wrong with the folder at the last reload, if it was refused (empty once one succeeds)."""
        return self._problems

    def reload(self) -> dict[str, int]:
        """Read the definitions folder again and, if every file in it is valid, publish each definition whose
        text changed as a new version (credentials already started keep the version they run on).

        Returns:
            Definition name → the version now current.

        Raises:
            InvalidDefinition: listing every problem of every file; nothing is published then, the versions in
                use stay as they were, and ``problems()`` lists the problems until a reload succeeds.
        """
        if self._folder is None:
            raise RuntimeError("this registry was not given a definitions folder")
        with self._reloading:
            try:
                loaded = load_all([self._folder])
            except InvalidDefinition as error:
                self._problems = tuple(error.problems)
                raise
            versions = self.publish(loaded)
            self._problems = ()
            return versions

    def _publish_one(self, item: LoadedDefinition) -> int:
        name = item.definition.name
        for _ in range(3):
            try:
                with self._db.write() as session:
                    found = session.exec(select(StoredDefinition.version).where(
                        StoredDefinition.name == name, StoredDefinition.content_hash == item.content_hash)).first()
                    if found is not None:
                        return found
                    latest = session.exec(select(func.max(StoredDefinition.version)).where(
                        StoredDefinition.name == name)).one()
                    version = (latest or 0) + 1
                    session.add(StoredDefinition(name=name, version=version, content_hash=item.content_hash,
                                                 source=item.source, created_at=self._clock.now()))
                    return version
            except IntegrityError:  # another process published the same text at the same moment
                continue
        raise RuntimeError(f"could not publish definition {name!r}")

    def current_version(self, name: str) -> int:
        """The newest published version of ``name``."""
        if name in self._current:
            return self._current[name]
        with self._db.read() as session:
            latest = session.exec(select(func.max(StoredDefinition.version)).where(
                StoredDefinition.name == name)).one()
        if latest is None:
            raise NotFound("definition", name)
        return latest

    def engine(self, name: str, version: int | None = None) -> Engine:
        """The engine of one definition version (the current one if ``version`` is not given)."""
        version = self.current_version(name) if version is None else version
        key = (name, version)
        engine = self._engines.get(key)
        if engine is not None:
            return engine
        with self._db.read() as session:
            row = session.exec(select(StoredDefinition).where(
                StoredDefinition.name == name, StoredDefinition.version == version)).first()
        if row is None:
            raise NotFound("definition", f"{name} v{version}")
        built = Engine(parse_definition(row.source, file=f"{name} v{version}").definition)
        with self._lock:
            return self._engines.setdefault(key, built)

    def names(self) -> list[str]:
        """Every definition name published."""
        with self._db.read() as session:
            return list(session.exec(select(StoredDefinition.name).distinct().order_by(
                col(StoredDefinition.name))).all())
