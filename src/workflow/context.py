"""Wiring: the database, the definition registry and the services, built from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from workflow.clock import Clock, SystemClock
from workflow.config import Settings
from workflow.definitions.loader import load_all
from workflow.errors import DefinitionProblem, InvalidDefinition
from workflow.notify.digest import DigestService
from workflow.notify.dispatch import Dispatcher
from workflow.notify.outbox import Notifier
from workflow.notify.render import Renderer
from workflow.notify.smtp import SmtpSender, SmtpSettings
from workflow.services.access import AccessService
from workflow.services.accounts import AccountService
from workflow.services.analytics import AnalyticsService
from workflow.services.auth import AuthService
from workflow.services.commands import CredentialCommands
from workflow.services.dated_timers import replan_dated_timers
from workflow.services.decisions import DecisionViews
from workflow.services.definitions import DefinitionRegistry
from workflow.services.evidence import EvidenceService
from workflow.services.inbox import Inbox
from workflow.services.looks import LookService
from workflow.services.migration import Migrations
from workflow.services.oidc import OidcSignIn
from workflow.services.outbox import OutboxService
from workflow.services.pathways import PathwayViews
from workflow.services.people import PeopleService
from workflow.services.plan_views import PlanViews
from workflow.services.plans import PlanService
from workflow.services.portfolio import PortfolioService
from workflow.services.publication import PublicationService
from workflow.services.second_factor import SecondFactor
from workflow.services.signin_log import SignInLog
from workflow.services.timers import TimerService
from workflow.services.views import CredentialViews
from workflow.store.database import Database
from workflow.store.documents import FileStore
from workflow.store.migrate import require_current, upgrade


@dataclass
class Services:
    """Everything a front end (CLI, HTTP, scheduler) needs, built once per process."""

    settings: Settings
    clock: Clock
    database: Database
    definitions: DefinitionRegistry
    access: AccessService
    auth: AuthService
    accounts: AccountService
    people: PeopleService
    credentials: CredentialCommands
    views: CredentialViews
    inbox: Inbox
    timers: TimerService
    dispatcher: Dispatcher
    digests: DigestService
    outbox: OutboxService
    portfolio: PortfolioService
    looks: LookService
    decisions: DecisionViews
    migrations: Migrations
    sign_in_log: SignInLog
    second_factor: SecondFactor
    oidc: OidcSignIn
    plans: PlanService
    documents: FileStore
    evidence: EvidenceService
    publication: PublicationService
    pathways: PathwayViews
    analytics: AnalyticsService

    @classmethod
    def start(cls, settings: Settings, clock: Clock | None = None, *, migrate: bool = True) -> Services:
        """Open the database (migrating it unless told not to) and publish the definitions in the folder.

        Raises:
            InvalidDefinition: if any definition file is invalid; nothing is published then.
            SchemaNotCurrent: without ``migrate``, if the schema is not the one this version needs.
        """
        clock = clock or SystemClock()
        loaded = load_all([settings.definitions_dir])
        renderer = Renderer(settings.notifications_dir)
        problems = renderer.check()
        if problems:  # a definition's events would fail to render: refuse to start, naming the templates
            raise InvalidDefinition([DefinitionProblem(str(settings.notifications_dir), 1, "template", p)
                                     for p in problems])
        database = Database.from_settings(settings)
        try:
            if migrate:
                upgrade(database)
            else:
                require_current(database)  # SchemaNotCurrent: `workflow db upgrade` has not been run
        except BaseException:
            database.dispose()
            raise
        definitions = DefinitionRegistry(database, clock, settings.definitions_dir)
        definitions.publish(loaded)
        # Timers at dates are due at local midnight in the institution's zone: re-time those planned otherwise
        # (by a version where dates were UTC days, or under another WORKFLOW_TIMEZONE).
        replan_dated_timers(database, definitions, settings.days)
        roles = {role for item in loaded.values() for role in item.definition.roles}
        access = AccessService(database, clock, settings.days)
        notifier = Notifier(renderer, public_url=settings.public_url, mail_domain=settings.mail_domain,
                            days=settings.days)
        credentials = CredentialCommands(database, definitions, access, clock, notifier)
        documents = FileStore(settings.documents_path)
        evidence = EvidenceService(database, credentials.actions, documents, clock,
                                   max_bytes=settings.evidence_max_bytes)
        views = CredentialViews(database, definitions, access, clock)
        looks = LookService(database, clock)
        sign_in_log = SignInLog(database, clock, keep_days=settings.sign_in_log_days)
        plans = PlanService(database, definitions, access, clock, notifier,
                            PlanViews(database, definitions, access, clock, settings.terms))
        sender = SmtpSender(SmtpSettings(
            host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
            username=settings.smtp_username, password=settings.smtp_password, sender=settings.mail_from,
        )) if settings.smtp_host else None
        return cls(
            settings=settings, clock=clock, database=database, definitions=definitions, access=access,
            auth=AuthService(database, clock, session_hours=settings.session_hours,
                             idle_minutes=settings.session_idle_minutes, log=sign_in_log,
                             method_words={f"oidc:{p.key}": p.display_name for p in settings.oidc_providers}),
            accounts=AccountService(database, clock, renderer, settings.days, public_url=settings.public_url,
                                    mail_domain=settings.mail_domain, link_hours=settings.account_link_hours),
            people=PeopleService(database, clock, settings.days, roles,
                                 allow_file_passwords=settings.environment != "production",
                                 on_units_changed=access.forget_tree),
            credentials=credentials, views=views, inbox=Inbox(database, definitions, access, views),
            timers=TimerService(database, clock, credentials.run_timer, lease_seconds=settings.timer_lease_seconds),
            dispatcher=Dispatcher(database, clock, sender, max_attempts=settings.outbox_max_attempts,
                                  backoff_seconds=settings.outbox_backoff_seconds,
                                  unreachable_max_backoff_seconds=settings.outbox_unreachable_max_backoff_seconds),
            digests=DigestService(database, clock, renderer, timezone=settings.timezone,
                                  mail_domain=settings.mail_domain, public_url=settings.public_url),
            outbox=OutboxService(database, clock, alert_after=timedelta(minutes=settings.mail_alert_minutes)),
            portfolio=PortfolioService(database, definitions, views, clock),
            looks=looks, decisions=DecisionViews(definitions, access, views, looks, evidence),
            migrations=Migrations(database, definitions, clock, settings.days),
            sign_in_log=sign_in_log,
            second_factor=SecondFactor(database, clock, sign_in_log, required=settings.second_factor_required),
            oidc=OidcSignIn(database, clock, sign_in_log, settings.oidc_providers, public_url=settings.public_url,
                            known_roles=roles),
            plans=plans,
            documents=documents, evidence=evidence,
            publication=PublicationService(database, definitions, access, views, settings.public_url),
            pathways=PathwayViews(database, definitions),
            analytics=AnalyticsService(database, definitions, settings.days, clock),
        )

    def reload_definitions(self) -> dict[str, int]:
        """Read the definitions folder again and publish what changed, if every file is valid (see
        :meth:`DefinitionRegistry.reload`); roles a new version names can then be given to people.

        Raises:
            InvalidDefinition: nothing changed; every problem is listed.
        """
        versions = self.definitions.reload()
        self.people.learn_roles(role for item in self.definitions.loaded().values() for role in item.definition.roles)
        return versions

    def credentials_link(self, credential_id: int) -> str:
        """The address of a credential's page."""
        return f"{self.settings.public_url.rstrip('/')}/credentials/{credential_id}"

    def close(self) -> None:
        """Release the database connections (and those to identity providers)."""
        self.oidc.close()
        self.database.dispose()
