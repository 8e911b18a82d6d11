"""APScheduler wiring: which feature job runs when. The jobs keep their state in the database.

APScheduler 3 keeps its jobs in memory: a run missed while the process was down is not
remembered. So every job asks the database what is due ("notifications with due_at <= now",
"weeks not yet published") instead of trusting that it ran at a given instant, and claims
its work there, which also makes two schedulers (one per app process) harmless.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session

from app.contests import jobs as contest_jobs
from app.db import new_session
from app.privacy import jobs as privacy_jobs
from app.recognition import jobs as recognition_jobs
from app.stories import jobs as story_jobs
from app.weekly import jobs as feature_jobs
from app.weekly import webhook_delivery

log = logging.getLogger("tod.scheduler")

SessionFactory = Callable[[], Session]
JobFunc = Callable[[SessionFactory], object]
# A run more than this late (a suspended host, a stalled thread) is dropped when the job
# runs often anyway; a job that runs rarely gets up to this long to catch up.
RARE_JOB_GRACE = 3600


def job_specs() -> list[tuple[JobFunc, BaseTrigger, str]]:
    """Every background job: (function taking a session factory, trigger, id).

    Give every CronTrigger its own `timezone=` (the organisation's, or UTC): without one it
    runs in the host's zone, not the scheduler's.
    """
    return [
        (recognition_jobs.send_due_notifications, IntervalTrigger(seconds=30), "notifications"),
        # The digest time is per person (15:00 in their organisation's zone, in due_at), so a
        # frequent check is all the scheduling it needs.
        (recognition_jobs.send_daily_digests, IntervalTrigger(minutes=5), "digests"),
        (webhook_delivery.deliver_due, IntervalTrigger(seconds=30), "webhooks"),
        # Results are announced once voting closes; old contest photos are deleted (retention).
        (contest_jobs.contest_tick, IntervalTrigger(minutes=1), "contests"),
        # Each organisation has its own weekday, time and zone for Ukens ESS; the job works
        # out from the database what is due (and catches up what a restart missed), so one
        # frequent check replaces a CronTrigger per organisation.
        (feature_jobs.weekly_tick, IntervalTrigger(minutes=1), "weekly"),
        # Stafettpinnen: weekly reminders to the baton's holder, the stall notice, its e-mails.
        (story_jobs.relay_tick, IntervalTrigger(minutes=1), "stories"),
        # Expired logins, old rate-limit counters and deliveries go; people deactivated
        # longer than their organisation keeps them are erased.
        (privacy_jobs.privacy_tick, IntervalTrigger(hours=1), "privacy"),
    ]


def run_job(func: JobFunc, job_id: str, session_factory: SessionFactory) -> None:
    """Run one job; an exception is logged on one line and the scheduler carries on."""
    try:
        result = func(session_factory)
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        log.error("job %s failed: %s: %s", job_id, type(exc).__name__, first_line)
        log.debug("job %s traceback", job_id, exc_info=True)
        return
    if result:
        log.info("job %s: %s", job_id, result)


def _grace_seconds(trigger: BaseTrigger) -> int:
    if isinstance(trigger, IntervalTrigger):
        return max(1, int(trigger.interval_length))
    return RARE_JOB_GRACE


def build_scheduler(
    session_factory: SessionFactory = new_session,
    specs: list[tuple[JobFunc, BaseTrigger, str]] | None = None,
) -> BackgroundScheduler:
    # APScheduler logs every run at INFO, twice a minute; run_job logs what the jobs did.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = BackgroundScheduler(timezone=UTC)
    for func, trigger, job_id in job_specs() if specs is None else specs:
        scheduler.add_job(
            run_job,
            trigger,
            args=(func, job_id, session_factory),
            id=job_id,
            name=job_id,
            # Several missed runs become one; a slow run is never overlapped by the next.
            coalesce=True,
            max_instances=1,
            misfire_grace_time=_grace_seconds(trigger),
            replace_existing=True,
        )
    return scheduler


def start_in_process(session_factory: SessionFactory = new_session) -> BackgroundScheduler:
    """Start the jobs in a background thread of this process (TOD_SCHEDULER=on)."""
    scheduler = build_scheduler(session_factory)
    scheduler.start()
    log.info("scheduler started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    return scheduler


def shutdown(scheduler: BackgroundScheduler) -> None:
    """Stop taking new runs and wait for the running ones (each is bounded by SMTP timeouts)."""
    if scheduler.running:
        scheduler.shutdown(wait=True)
        log.info("scheduler stopped")


def run_forever(session_factory: SessionFactory = new_session) -> int:
    """`python -m app scheduler`: the jobs in the foreground until SIGTERM or Ctrl+C."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler = start_in_process(session_factory)
    try:
        while not stop.wait(timeout=1):
            pass
    finally:
        shutdown(scheduler)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
