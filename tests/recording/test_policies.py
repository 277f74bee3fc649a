"""Recording policies: class defaults, overrides, weekly schedules in the platform's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import channels, regions
from vigil.recording.errors import RecordingInputError
from vigil.recording.policies import (
    RecordingPolicy,
    ScheduleWindow,
    effective_policy,
    in_schedule,
    next_change,
    parse_schedule,
    recording_candidates,
    set_policy,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 2026-11-02 09:30 in Shanghai is 01:30 UTC the same day.
MONDAY_0930_LOCAL = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)


def test_schedule_is_read_in_local_time() -> None:
    office = parse_schedule([[0, 8 * 60, 18 * 60]])
    assert office == (ScheduleWindow(0, 480, 1080),)
    assert in_schedule(office, MONDAY_0930_LOCAL, SHANGHAI)
    assert not in_schedule(office, MONDAY_0930_LOCAL, UTC)  # 01:30 on Monday in UTC
    assert in_schedule((), MONDAY_0930_LOCAL, SHANGHAI)  # empty: always
    change = next_change(office, MONDAY_0930_LOCAL, SHANGHAI)
    assert change == datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # 18:00 local
    assert next_change((), MONDAY_0930_LOCAL, SHANGHAI) is None


@pytest.mark.parametrize(
    "raw",
    [[[7, 0, 10]], [[0, 10, 10]], [[0, -1, 10]], [[0, 0, 1441]], [[0, 1]], [["0", 1, 2]],
     [[True, 1, 2]], "nope"],
)  # fmt: skip
def test_bad_schedules_are_refused(raw: object) -> None:
    with pytest.raises(RecordingInputError):
        parse_schedule(raw)  # type: ignore[arg-type]


def test_class_defaults_and_overrides() -> None:
    assert effective_policy("a", 1, None, "default").enabled
    assert effective_policy("a", 2, None, "default").enabled
    assert not effective_policy("a", 3, None, "default").enabled
    override = RecordingPolicy("a", None, parse_schedule([[1, 0, 60]]), "fast", "op", None)
    merged = effective_policy("a", 1, override, "default")
    assert (merged.enabled, merged.pool, merged.overridden) == (True, "fast", True)
    assert not merged.records_at(MONDAY_0930_LOCAL, SHANGHAI)
    off = RecordingPolicy("a", False, (), None, "op", None)
    assert not effective_policy("a", 1, off, "default").enabled
    on = RecordingPolicy("a", True, (), None, "op", None)
    assert effective_policy("a", 3, on, "default").records_at(MONDAY_0930_LOCAL, SHANGHAI)


async def test_candidates_join_ledger_and_policies(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(regions.insert().values(code="3402", name="芜湖市", level=2))
        await conn.execute(
            channels.insert(),
            [
                {"id": f"3402000000132000000{i}", "name": f"p{i}", "region_code": "3402",
                 "point_class": cls, "online": True}
                for i, cls in ((1, 1), (2, 2), (3, 3), (4, 3), (5, 1))
            ],
        )  # fmt: skip
        await set_policy(conn, "34020000001320000004", enabled=True, schedule=[], pool=None,
                         updated_by="op", known_pools=["default"])  # fmt: skip
        await set_policy(conn, "34020000001320000005", enabled=False, schedule=[], pool=None,
                         updated_by="op", known_pools=["default"])  # fmt: skip
        await set_policy(conn, "34020000001320000002", enabled=None, schedule=[[0, 0, 60]],
                         pool=None, updated_by="op", known_pools=["default"])  # fmt: skip
        found = await recording_candidates(conn, "default")
    assert [c.channel_id[-1] for c in found] == ["1", "2", "4"]
    assert found[1].policy.schedule == (ScheduleWindow(0, 0, 60),)
    assert all(c.online for c in found)
