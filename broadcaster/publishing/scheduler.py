"""schedules.yaml -> APScheduler jobs whose only effect is to create publications."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from broadcaster.workspace.models import Schedule, Workspace

log = logging.getLogger(__name__)

# `every:` intervals count from this instant, so every process and every restart
# computes the same fire times (and so the same publication keys).
INTERVAL_ANCHOR = datetime(2000, 1, 1)
# Never write more than this many "missed" records for one schedule after a long outage.
MAX_MISSED_RECORDS = 500
# A target that can (`prepare(schedule, fire_time)`) is asked this long before each fire
# time to render what the firing will publish, so that the firing itself only stores it.
PREPARE_AHEAD = timedelta(seconds=2)


class FiringTarget(Protocol):
    """What a firing does: the publisher, which only creates publications (a target that
    is also `Preparing` is asked to prepare each firing PREPARE_AHEAD before it)."""

    async def fire(self, schedule: Schedule, fire_time: datetime) -> None: ...

    async def record_missed(self, schedule: Schedule, fire_time: datetime) -> None: ...

    async def last_fire_time(self, schedule_id: str) -> datetime | None: ...


@runtime_checkable
class Preparing(Protocol):
    """A target that can do a firing's work ahead of its fire time (Publisher.prepare)."""

    def prepare(self, schedule: Schedule, fire_time: datetime) -> None: ...


def trigger_for(schedule: Schedule, tz: ZoneInfo) -> BaseTrigger:
    """The APScheduler trigger for one schedule, in the workspace time zone."""
    if schedule.at is not None:
        return DateTrigger(run_date=schedule.at, timezone=tz)
    if schedule.cron is not None:
        return _cron(schedule, tz)
    assert schedule.every is not None
    return IntervalTrigger(
        seconds=int(schedule.every.total_seconds()),
        start_date=INTERVAL_ANCHOR.replace(tzinfo=tz),
        end_date=schedule.until,
        timezone=tz,
    )


def _cron(schedule: Schedule, tz: ZoneInfo) -> CronTrigger:
    assert schedule.cron is not None
    minute, hour, day, month, day_of_week = schedule.cron.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=day_of_week,
        end_date=schedule.until,
        timezone=tz,
    )


def fire_times(trigger: BaseTrigger, after: datetime | None, until: datetime) -> Iterator[datetime]:
    """Fire times in (after, until]; from the trigger's start when `after` is None."""
    start = (
        after + timedelta(microseconds=1) if after is not None else datetime(1970, 1, 1, tzinfo=UTC)
    )
    previous: datetime | None = None
    moment = trigger.get_next_fire_time(None, start)
    while moment is not None and moment <= until:
        if after is None or moment > after:
            yield moment
        previous = moment
        moment = trigger.get_next_fire_time(previous, previous + timedelta(microseconds=1))


class _FiringExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """Runs a job with its scheduled fire time, the key that makes a firing unique.

    `in_flight` holds the firings still running, so that stopping can wait for them:
    APScheduler's own shutdown cancels them mid-query and does not wait.
    """

    def __init__(self) -> None:
        super().__init__()
        self.in_flight: set[asyncio.Task[None]] = set()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        async def run() -> None:
            # Coalesced: several due times run once, as the latest.
            await job.func(*job.args, run_times[-1])

        def done(task: asyncio.Task[None]) -> None:
            self._pending_futures.discard(task)
            if task.cancelled():
                return
            error = task.exception()
            if error is None:
                self._run_job_success(job.id, [])
            else:
                self._run_job_error(job.id, error, error.__traceback__)

        task = self._eventloop.create_task(run())
        task.add_done_callback(done)
        task.add_done_callback(self.in_flight.discard)
        self._pending_futures.add(task)
        self.in_flight.add(task)


class Scheduler:
    """Creates publications when schedules fire, and catches up after downtime."""

    def __init__(self, target: FiringTarget, *, grace: timedelta) -> None:
        self.target = target
        self.grace = grace
        self._aps: AsyncIOScheduler | None = None
        self._executor: _FiringExecutor | None = None
        self._schedules: dict[str, Schedule] = {}
        self._preparing: dict[str, asyncio.TimerHandle] = {}

    async def start(self, workspace: Workspace, now: datetime | None = None) -> None:
        """Catch up on missed firings, then run every schedule from now on."""
        self._executor = _FiringExecutor()
        self._aps = AsyncIOScheduler(
            event_loop=asyncio.get_running_loop(),
            executors={"default": self._executor},
            timezone=workspace.timezone,
        )
        self._aps.start()
        await self.load(workspace, now)

    async def load(self, workspace: Workspace, now: datetime | None = None) -> None:
        """Replace all jobs with the workspace's schedules (used at start and on reload)."""
        assert self._aps is not None, "start() first"
        now = now or datetime.now(UTC)
        self._aps.remove_all_jobs()
        self._disarm()
        self._schedules = {
            s.id: s for s in workspace.schedules if s.campaign is not None or s.digest is not None
        }
        for schedule in self._schedules.values():
            await self.catch_up(schedule, workspace.timezone, now)
            trigger = trigger_for(schedule, workspace.timezone)
            next_time = trigger.get_next_fire_time(None, now)
            if next_time is None or next_time <= now:
                continue  # a date trigger returns its date even when past; catch_up had it
            self._aps.add_job(
                self._fire,
                trigger,
                args=[schedule.id],
                id=schedule.id,
                name=schedule.id,
                next_run_time=next_time,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(1, int(self.grace.total_seconds())),
                replace_existing=True,
            )
            self._arm(schedule.id)

    async def catch_up(self, schedule: Schedule, tz: ZoneInfo, now: datetime) -> None:
        """Run the latest firing missed within the grace window once; record older ones missed."""
        trigger = trigger_for(schedule, tz)
        last = await self.target.last_fire_time(schedule.id)
        earliest = now - self.grace
        if last is None and schedule.at is None:
            # No history: only the window itself is considered, not all of time.
            last = earliest - timedelta(microseconds=1)
        missed = list(fire_times(trigger, last, now))
        if not missed:
            return
        *older, latest = missed
        for moment in older[-MAX_MISSED_RECORDS:]:
            await self.target.record_missed(schedule, moment)
        if latest >= earliest:
            log.info("catching up schedule %s missed at %s", schedule.id, latest.isoformat())
            await self.target.fire(schedule, latest)
        else:
            await self.target.record_missed(schedule, latest)

    def _arm(self, schedule_id: str) -> None:
        """Have the target prepare the job's next firing PREPARE_AHEAD before it."""
        handle = self._preparing.pop(schedule_id, None)
        if handle is not None:
            handle.cancel()
        job = self._aps.get_job(schedule_id) if self._aps is not None else None
        if job is None or job.next_run_time is None or not isinstance(self.target, Preparing):
            return
        fire_time: datetime = job.next_run_time
        wait = fire_time - PREPARE_AHEAD - datetime.now(UTC)
        self._preparing[schedule_id] = asyncio.get_running_loop().call_later(
            max(wait.total_seconds(), 0), self._prepare, schedule_id, fire_time
        )

    def _prepare(self, schedule_id: str, fire_time: datetime) -> None:
        self._preparing.pop(schedule_id, None)
        schedule = self._schedules.get(schedule_id)
        # Too late to help (the loop was busy): the firing renders it then.
        if schedule is None or fire_time - datetime.now(UTC) < PREPARE_AHEAD / 20:
            return
        if not isinstance(self.target, Preparing):
            return
        try:
            self.target.prepare(schedule, fire_time)
        except Exception:
            log.exception("schedule %s: could not prepare the firing at %s", schedule_id, fire_time)

    def _disarm(self) -> None:
        for handle in self._preparing.values():
            handle.cancel()
        self._preparing.clear()

    async def _fire(self, schedule_id: str, fire_time: datetime | None = None) -> None:
        schedule = self._schedules.get(schedule_id)
        if schedule is None or fire_time is None:
            return
        self._arm(schedule_id)  # the job's next firing
        try:
            await self.target.fire(schedule, fire_time)
        except Exception:
            log.exception("schedule %s could not fire at %s", schedule_id, fire_time.isoformat())
            raise

    def next_fire_times(self) -> dict[str, datetime | None]:
        """The next fire time of every scheduled job (for /metrics and `status`)."""
        if self._aps is None:
            return {}
        return {job.id: job.next_run_time for job in self._aps.get_jobs()}

    def shutdown(self) -> None:
        """Stop firing at once; firings in flight are cancelled (see `stop`)."""
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None
        self._disarm()

    async def stop(self, grace: float) -> None:
        """Stop firing; let firings in flight finish for `grace` seconds, then cancel and
        await the rest, so none is left using the store after it is closed."""
        if self._aps is not None and self._aps.running:
            self._aps.pause()
        running = set(self._executor.in_flight) if self._executor is not None else set()
        if running:
            await asyncio.wait(running, timeout=grace)
        self.shutdown()
        await asyncio.gather(*running, return_exceptions=True)
