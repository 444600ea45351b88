"""The one factory: builds the store, clock, gateway, projections and scheduler from
settings, for the HTTP app and the CLI. Nothing is built at import time."""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from commands.clock import Clock, ManualClock, SystemClock
from commands.links import LinkSigner
from commands.scheduler import TimeDrivenScheduler, WorkLock
from commands.services import Services
from commands.time_driven import ObservedDueWork
from infrastructure.address_ranges import load_address_ranges
from infrastructure.link_secret import link_secret
from infrastructure.locks import FileLock, KeptAdvisoryLock, PostgresAdvisoryLock
from infrastructure.personal_data.sealing import check_readable, cipher_env
from infrastructure.sandbox_gateway import SandboxGateway
from infrastructure.store import LifecycleStore, persistence_env
from infrastructure.timer import IntervalTimer
from lifecycle.catalogue import Catalogue
from projections.audit_chain import AuditChainProjection
from projections.due_work import DueWorkProjection, DueWorkView
from projections.contract_views import ContractsProjection
from projections.notifications import NotificationsProjection
from projections.profiles import ProfilesProjection
from projections.rebuild import Rebuilder
from projections.runner import HeadWatcher, ProjectionRunner

from api.logs import SECRETS
from api.metrics import Metrics, TimeDrivenObserver
from api.settings import Settings

log = logging.getLogger("lifecycle.bootstrap")

HEAD_POLL_SECONDS = 0.02
"""How often each process looks at the log's head to wake the projections behind it."""


@dataclass
class Container:
    settings: Settings
    services: Services
    runners: dict[str, ProjectionRunner]
    due_work: ObservedDueWork
    scheduler: IntervalTimer | None
    started: bool = field(default=False)
    rebuilders: dict[str, Rebuilder] = field(default_factory=dict)
    head_watcher: HeadWatcher | None = None
    metrics: Metrics = field(default_factory=Metrics)

    def rebuilder(self, name: str) -> Rebuilder:
        """The side-by-side rebuild of one projection (``KeyError`` for unknown names)."""
        if name not in self.rebuilders:
            self.rebuilders[name] = Rebuilder(self.runners[name])
        return self.rebuilders[name]

    def start(self) -> None:
        """Start following the log and, under the system clock, the time-driven work."""
        if self.started:
            return
        for runner in self.runners.values():
            runner.start(self.settings.projection_poll_seconds)
        self.head_watcher = HeadWatcher(
            self.services.store, list(self.runners.values()), HEAD_POLL_SECONDS
        )
        self.head_watcher.start()
        if self.scheduler is not None:
            self.scheduler.start()
        self.started = True

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.head_watcher is not None:
            self.head_watcher.stop()
        for runner in self.runners.values():
            runner.stop()
        self.services.store.close()


def projection_lock_key(name: str) -> int:
    """The advisory-lock key of one projection's background runner (one process at a time)."""
    return 0x6C69_7000_0000_0000 | zlib.crc32(name.encode())


def _clock(settings: Settings, store: LifecycleStore) -> Clock:
    """The system clock, or the manual clock at ``LIFECYCLE_CLOCK_START`` (else now) —
    but never before the latest event already recorded: a clock started earlier would
    record new events before old ones, and as-of reads would then lie."""
    if settings.clock != "manual":
        return SystemClock()
    start = settings.clock_start or datetime.now(timezone.utc)
    latest = store.latest_instant()
    if latest is not None and latest > start:
        log.info(
            "the manual clock resumes at %s, the latest recorded event, not at %s",
            latest.isoformat(),
            start.isoformat(),
        )
        start = latest
    return ManualClock(start)


def build(settings: Settings) -> Container:
    master_key = settings.cipher_key()
    env = {**persistence_env(settings.database_url), **cipher_env(master_key)}
    if master_key:
        SECRETS.add(master_key)  # no log line shows it
    store = LifecycleStore(env=env)
    try:
        check_readable(store)  # a wrong or missing LIFECYCLE_EVENT_CIPHER_KEY stops here
    except BaseException:  # close the pool whatever stopped the start, then re-raise
        store.close()
        raise
    database = store.database
    dialect = database.dialect
    secret = link_secret(database, settings.link_secret)
    SECRETS.add(secret.decode())  # no log line shows it
    services = Services(
        store=store,
        database=database,
        clock=_clock(settings, store),
        gateway=SandboxGateway(database),
        catalogue=Catalogue(),
        address_ranges=load_address_ranges(settings.address_ranges_file),
        links=LinkSigner(secret),
        account_services_email=settings.account_services_email,
    )
    runners = {
        projection.name: ProjectionRunner(
            store,
            database,
            projection,
            lock=KeptAdvisoryLock(store.recorder.datastore, projection_lock_key(projection.name))
            if dialect == "postgres"
            else None,
        )
        for projection in (
            DueWorkProjection(store),
            NotificationsProjection(store),
            AuditChainProjection(),
            ProfilesProjection(store),
            ContractsProjection(store),
        )
    }
    metrics = Metrics()
    due_work = ObservedDueWork(
        DueWorkView(runners["due_work"], database), TimeDrivenObserver(metrics)
    )
    metrics.watch_store(services, runners, due_work)
    scheduler = None
    if settings.clock == "system":
        lock: WorkLock = (
            PostgresAdvisoryLock(store.recorder.datastore)
            if dialect == "postgres"
            else FileLock(str(Path(env["SQLITE_DBNAME"]).resolve()) + ".scheduler.lock")
        )
        scheduler = IntervalTimer(
            TimeDrivenScheduler(services, due_work, lock).tick,
            settings.scheduler_interval_seconds,
            name="time-driven-work",
        )
    return Container(settings, services, runners, due_work, scheduler, metrics=metrics)
