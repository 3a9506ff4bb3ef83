"""Schedules: fire times in the workspace zone (DST included) and catch-up after downtime."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broadcaster.publishing.scheduler import Scheduler, fire_times, trigger_for
from broadcaster.workspace.models import Schedule

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NEW_YORK = ZoneInfo("America/New_York")


def schedule(**timing: object) -> Schedule:
    values: dict[str, object] = {
        "id": "s",
        "campaign": "c",
        "digest": None,
        "frequency": None,
        "channels": ("website",),
        "at": None,
        "cron": None,
        "every": None,
        "until": None,
    }
    values.update(timing)
    return Schedule(**values)  # type: ignore[arg-type]


def test_cron_fires_at_local_time_in_the_workspace_zone() -> None:
    trigger = trigger_for(schedule(cron="0 8 * * mon"), HCM)
    times = list(
        fire_times(trigger, datetime(2021, 7, 10, tzinfo=HCM), datetime(2021, 7, 27, tzinfo=HCM))
    )
    assert [t.astimezone(HCM).strftime("%a %d %H:%M") for t in times] == [
        "Mon 12 08:00",
        "Mon 19 08:00",
        "Mon 26 08:00",
    ]


def test_cron_across_daylight_saving_changes() -> None:
    trigger = trigger_for(schedule(cron="30 9 * * *"), NEW_YORK)
    # 2021-03-14: clocks go forward in New York; 09:30 local stays 09:30 local.
    times = list(
        fire_times(
            trigger,
            datetime(2021, 3, 13, tzinfo=NEW_YORK),
            datetime(2021, 3, 15, 12, tzinfo=NEW_YORK),
        )
    )
    local = [t.astimezone(NEW_YORK) for t in times]
    assert [t.strftime("%d %H:%M") for t in local] == ["13 09:30", "14 09:30", "15 09:30"]
    assert [t.utcoffset() for t in local] == [
        timedelta(hours=-5),
        timedelta(hours=-4),
        timedelta(hours=-4),
    ]


def test_until_ends_a_cron_schedule() -> None:
    trigger = trigger_for(
        schedule(cron="0 8 * * *", until=datetime(2021, 7, 12, 23, 59, tzinfo=HCM)), HCM
    )
    times = list(fire_times(trigger, None, datetime(2021, 8, 1, tzinfo=HCM)))
    assert times[-1].astimezone(HCM).date().isoformat() == "2021-07-12"


def test_every_is_anchored_so_all_processes_agree() -> None:
    first = trigger_for(schedule(every=timedelta(hours=6)), HCM)
    second = trigger_for(schedule(every=timedelta(hours=6)), HCM)
    window = (datetime(2021, 7, 10, 1, tzinfo=HCM), datetime(2021, 7, 11, tzinfo=HCM))
    assert list(fire_times(first, *window)) == list(fire_times(second, *window))
    assert [t.astimezone(HCM).hour for t in fire_times(first, *window)] == [6, 12, 18, 0]


@dataclass
class Recorder:
    """A FiringTarget that remembers what the scheduler asked for."""

    history: dict[str, datetime] = field(default_factory=dict)
    fired: list[tuple[str, datetime]] = field(default_factory=list)
    missed: list[tuple[str, datetime]] = field(default_factory=list)

    async def fire(self, schedule: Schedule, fire_time: datetime) -> None:
        self.fired.append((schedule.id, fire_time))
        self.history[schedule.id] = fire_time

    async def record_missed(self, schedule: Schedule, fire_time: datetime) -> None:
        self.missed.append((schedule.id, fire_time))
        self.history[schedule.id] = max(fire_time, self.history.get(schedule.id, fire_time))

    async def last_fire_time(self, schedule_id: str) -> datetime | None:
        return self.history.get(schedule_id)


async def test_catch_up_runs_the_latest_missed_firing_once_within_the_grace_window() -> None:
    target = Recorder(history={"s": datetime(2021, 7, 12, 8, tzinfo=HCM)})
    scheduler = Scheduler(target, grace=timedelta(hours=6))
    now = datetime(2021, 7, 14, 10, tzinfo=HCM)  # down since Monday; two 08:00 firings missed
    await scheduler.catch_up(schedule(cron="0 8 * * *"), HCM, now)
    assert target.fired == [("s", datetime(2021, 7, 14, 8, tzinfo=HCM))]
    assert target.missed == [("s", datetime(2021, 7, 13, 8, tzinfo=HCM))]
    # Running the catch-up again changes nothing: the firing is now in the history.
    await scheduler.catch_up(schedule(cron="0 8 * * *"), HCM, now)
    assert len(target.fired) == 1


async def test_catch_up_records_old_firings_as_missed_and_sends_nothing() -> None:
    target = Recorder(history={"s": datetime(2021, 7, 12, 8, tzinfo=HCM)})
    scheduler = Scheduler(target, grace=timedelta(hours=6))
    await scheduler.catch_up(schedule(cron="0 8 * * *"), HCM, datetime(2021, 7, 14, 20, tzinfo=HCM))
    assert target.fired == []
    assert [t.day for _, t in target.missed] == [13, 14]


async def test_a_past_at_outside_the_window_is_missed_inside_it_fires() -> None:
    at = datetime(2021, 7, 10, 8, tzinfo=HCM)
    target = Recorder()
    await Scheduler(target, grace=timedelta(hours=6)).catch_up(
        schedule(at=at), HCM, at + timedelta(days=2)
    )
    assert (target.fired, target.missed) == ([], [("s", at)])
    target = Recorder()
    await Scheduler(target, grace=timedelta(hours=6)).catch_up(
        schedule(at=at), HCM, at + timedelta(hours=1)
    )
    assert target.fired == [("s", at)]


async def test_no_history_considers_only_the_grace_window() -> None:
    target = Recorder()
    now = datetime(2021, 7, 14, 10, tzinfo=HCM)
    await Scheduler(target, grace=timedelta(hours=6)).catch_up(schedule(cron="0 8 * * *"), HCM, now)
    assert target.fired == [("s", datetime(2021, 7, 14, 8, tzinfo=HCM))]
    assert target.missed == []


async def test_a_running_scheduler_fires_with_the_scheduled_time() -> None:
    target = Recorder()
    scheduler = Scheduler(target, grace=timedelta(hours=6))

    class Tiny:
        timezone = UTC
        schedules = (schedule(every=timedelta(minutes=1)),)

    now = datetime.now(UTC)
    await scheduler.start(Tiny(), now=now)  # type: ignore[arg-type]
    try:
        next_fire = scheduler.next_fire_times()["s"]
        assert next_fire is not None
        assert next_fire > now
        assert next_fire.second == 0
    finally:
        scheduler.shutdown()
    await asyncio.sleep(0)


@pytest.mark.parametrize("grace_hours", [0, 6])
async def test_grace_zero_never_catches_up(grace_hours: int) -> None:
    target = Recorder(history={"s": datetime(2021, 7, 13, 8, tzinfo=HCM)})
    await Scheduler(target, grace=timedelta(hours=grace_hours)).catch_up(
        schedule(cron="0 8 * * *"), HCM, datetime(2021, 7, 14, 8, 30, tzinfo=HCM)
    )
    assert len(target.fired) == (1 if grace_hours else 0)


@dataclass
class SlowRecorder(Recorder):
    """A target whose firing takes `seconds` (a publication being written)."""

    seconds: float = 0.5
    started: asyncio.Event = field(default_factory=asyncio.Event)
    finished: list[str] = field(default_factory=list)

    async def fire(self, schedule: Schedule, fire_time: datetime) -> None:
        self.started.set()
        await asyncio.sleep(self.seconds)
        self.finished.append(schedule.id)


@pytest.mark.parametrize(("seconds", "finished"), [(0.3, ["s"]), (30.0, [])])
async def test_stopping_waits_for_a_firing_in_flight_then_cancels_and_awaits_it(
    seconds: float, finished: list[str]
) -> None:
    """Nothing a firing started is left running (on a closed store) after `stop`."""
    target = SlowRecorder(seconds=seconds)
    scheduler = Scheduler(target, grace=timedelta(hours=6))

    class Soon:
        timezone = UTC
        schedules = (schedule(at=datetime.now(UTC) + timedelta(seconds=0.2)),)

    await scheduler.start(Soon())  # type: ignore[arg-type]
    await asyncio.wait_for(target.started.wait(), 5)
    await scheduler.stop(grace=1.0)
    assert target.finished == finished
    mine = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not mine and not t.done()] == []


@dataclass
class PreparingRecorder(Recorder):
    """A target that also prepares its firings ahead of time (like the publisher)."""

    prepared: list[tuple[str, datetime, datetime]] = field(default_factory=list)

    def prepare(self, schedule: Schedule, fire_time: datetime) -> None:
        self.prepared.append((schedule.id, fire_time, datetime.now(UTC)))


async def test_a_preparing_target_is_asked_ahead_of_each_fire_time() -> None:
    target = PreparingRecorder()
    scheduler = Scheduler(target, grace=timedelta(hours=6))
    at = datetime.now(UTC) + timedelta(seconds=0.5)

    class Soon:
        timezone = UTC
        schedules = (schedule(at=at),)

    await scheduler.start(Soon())  # type: ignore[arg-type]
    try:
        for _ in range(100):
            if target.fired:
                break
            await asyncio.sleep(0.02)
    finally:
        scheduler.shutdown()
    ((schedule_id, fire_time, when),) = target.prepared
    assert target.fired == [(schedule_id, fire_time)]
    assert when < fire_time
