"""Wiring: the database, the definition registry and the services, built from settings."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.clock import Clock, SystemClock
from workflow.config import Settings
from workflow.definitions.loader import load_all
from workflow.services.access import AccessService
from workflow.services.auth import AuthService
from workflow.services.credentials import CredentialService
from workflow.services.definitions import DefinitionRegistry
from workflow.services.people import PeopleService
from workflow.services.timers import TimerService
from workflow.store.database import Database
from workflow.store.migrate import upgrade


@dataclass
class Services:
    """Everything a front end (CLI, HTTP, scheduler) needs, built once per process."""

    settings: Settings
    clock: Clock
    database: Database
    definitions: DefinitionRegistry
    access: AccessService
    auth: AuthService
    people: PeopleService
    credentials: CredentialService
    timers: TimerService

    @classmethod
    def start(cls, settings: Settings, clock: Clock | None = None, *, migrate: bool = True) -> Services:
        """Open the database (migrating it unless told not to) and publish the definitions in the folder.

        Raises:
            InvalidDefinition: if any definition file is invalid; nothing is published then.
        """
        clock = clock or SystemClock()
        loaded = load_all([settings.definitions_dir])
        database = Database.from_settings(settings)
        if migrate:
            upgrade(database)
        definitions = DefinitionRegistry(database, clock)
        definitions.publish(loaded)
        roles = {role for item in loaded.values() for role in item.definition.roles}
        access = AccessService(database, clock)
        credentials = CredentialService(database, definitions, access, clock)
        return cls(
            settings=settings, clock=clock, database=database, definitions=definitions, access=access,
            auth=AuthService(database, clock, session_hours=settings.session_hours),
            people=PeopleService(database, clock, roles, allow_file_passwords=settings.environment != "production"),
            credentials=credentials,
            timers=TimerService(database, clock, credentials.run_timer, lease_seconds=settings.timer_lease_seconds),
        )

    def close(self) -> None:
        """Release the database connections."""
        self.database.dispose()
