"""Definitions by version: publishing the files in ``definitions/`` and building each version's engine once."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from workflow.clock import Clock
from workflow.definitions.loader import LoadedDefinition, parse_definition
from workflow.engine import Engine
from workflow.errors import NotFound
from workflow.store.database import Database
from workflow.store.tables import StoredDefinition


class DefinitionRegistry:
    """The versions of every definition and their engines (one engine per version, built on first use)."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        self._engines: dict[tuple[str, int], Engine] = {}
        self._current: dict[str, int] = {}
        self._lock = threading.Lock()

    def publish(self, loaded: Mapping[str, LoadedDefinition]) -> dict[str, int]:
        """Store each definition's text as a new version unless that exact text is stored already.

        Returns:
            Definition name → the version now current.
        """
        versions: dict[str, int] = {}
        for name, item in loaded.items():
            versions[name] = self._publish_one(item)
            with self._lock:
                self._engines.setdefault((name, versions[name]), Engine(item.definition))
                self._current[name] = versions[name]
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
