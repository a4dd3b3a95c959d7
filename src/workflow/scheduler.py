"""APScheduler (3.x, in-process, UTC) drives the durable timers, the daily digests and the email dispatcher:
it only says *when to look*; what is due, and who does it, is decided in the database (see
``workflow.services.timers`` and ``workflow.notify``)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from workflow.notify.digest import DigestService
from workflow.notify.dispatch import Dispatcher
from workflow.services.analytics import AnalyticsService
from workflow.services.plans import PlanService
from workflow.services.timers import TimerService

log = logging.getLogger(__name__)
JOB_ID = "workflow-timers"
PLAN_JOB_ID = "workflow-plan-alerts"
PLAN_ALERT_SECONDS = 3600  # forecasts move by days: looking each hour is soon enough
FOLD_PER_POLL = 100_000  # events folded into the analytics per poll at most (a few seconds: timers stay prompt)


class _QuietOverlaps(logging.LoggerAdapter[logging.Logger]):
    """APScheduler's log, except that a poll skipped because the previous one still runs (one at a time, by
    design: ``max_instances=1``) is a DEBUG line of ours, not a warning on every poll of a long run."""

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        if "maximum number of running instances reached" in str(msg):
            log.debug("poll skipped: the previous one is still running")
        else:
            super().warning(msg, *args, **kwargs)


class Scheduler:
    """Polls for due timers every ``interval`` seconds, and once at start (timers that came due while nothing
    ran fire then). Each poll also folds the events written since the last one into the analytics counts (a long
    backlog over several polls), so that page requests find them folded."""

    def __init__(self, timers: TimerService, *, interval: float = 30.0, digests: DigestService | None = None,
                 dispatcher: Dispatcher | None = None, plans: PlanService | None = None,
                 analytics: AnalyticsService | None = None) -> None:
        self.timers = timers
        self.plans = plans
        self.analytics = analytics
        self.digests = digests
        self.dispatcher = dispatcher
        self.interval = interval
        self._stop = threading.Event()
        self._aps = BackgroundScheduler(timezone=UTC, logger=_QuietOverlaps(logging.getLogger("apscheduler.scheduler")),
                                        job_defaults={"coalesce": True, "max_instances": 1,
                                                      "misfire_grace_time": None})
        self._aps.add_job(self.tick, "interval", seconds=interval, id=JOB_ID, next_run_time=datetime.now(UTC))
        if plans is not None:
            self._aps.add_job(self.plan_alerts, "interval", seconds=PLAN_ALERT_SECONDS, id=PLAN_JOB_ID,
                              next_run_time=datetime.now(UTC))

    def plan_alerts(self) -> int:
        """Tell project managers of plans that slipped (once each; see PlanService.run_alerts)."""
        sent = self.plans.run_alerts() if self.plans is not None else 0
        if sent:
            log.info("sent %d plan alert(s)", sent)
        return sent

    def tick(self) -> int:
        """Fire the timers due now, write the digests due now, send what the outbox holds, fold the new events
        into the analytics counts; returns how many timers were handled."""
        handled = self.timers.run_due(stop=self._stop)
        if handled:
            log.info("handled %d timer(s)", handled)
        if self.digests is not None:
            self.digests.run()
        if self.dispatcher is not None:
            sent = self.dispatcher.run(stop=self._stop)
            if sent:
                log.info("sent %d message(s)", sent)
        if self.analytics is not None:
            folded = self.analytics.fold(most=FOLD_PER_POLL)
            if folded:
                log.debug("folded %d event(s) into the analytics", folded)
        return handled

    @property
    def running(self) -> bool:
        """Whether the scheduler is started."""
        return bool(self._aps.running)

    def start(self) -> None:
        """Start polling in a background thread."""
        self._stop.clear()
        self._aps.start()

    def shutdown(self) -> None:
        """Stop polling; a batch in progress finishes the timer it is on."""
        self._stop.set()
        if self._aps.running:
            self._aps.shutdown(wait=True)
