"""RecordInfo against the simulator (GB/T 28181-2016 §9.7, Appendix N): answers split over
several MESSAGEs are reassembled; a device that stops early yields what arrived, marked
incomplete; one that never answers times out."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.signaling.errors import QueryTimeoutError
from vigil.signaling.server import SignalingServer
from vigil.sim import sim_playback
from vigil.sim.sim_recordings import SendPart, channel_history, spans_in

from .conftest import fast_settings, serving, sim_config, simulating

pytestmark = pytest.mark.integration


def _window(hours: int) -> tuple[datetime, datetime]:
    end = datetime.now().replace(minute=0, second=0, microsecond=0)
    return end - timedelta(hours=hours), end


async def test_record_info_in_several_messages_is_reassembled(
    sqlite_engine: AsyncEngine,
) -> None:
    async with serving(SignalingServer(fast_settings(), sqlite_engine)) as server:
        config = sim_config(server.port, channels=2, record_items_per_message=3)
        async with simulating(config) as sim:
            await sim.wait_registered()
            device = next(iter(sim.devices.values()))
            channel_id = device.plan.channels[1].channel_id
            start, end = _window(40)
            result = await server.query_record_info(device.device_id, channel_id, start, end)
    history = channel_history(channel_id, now_s=time.time(), days=7, item_s=3600)
    expected = spans_in(history, int(start.timestamp()), int(end.timestamp()))
    assert len(expected) == 38  # 40 hours minus the channel's two gaps
    assert result.complete
    assert result.sum_num == len(result.items) == len(expected)
    assert server.records.parts_received == 13  # ⌈38 / 3⌉ MESSAGEs
    got = [(int(i.start_time.timestamp()), int(i.end_time.timestamp())) for i in result.items]
    assert got == [(span.start_s, span.end_s) for span in expected]  # sorted, none repeated
    assert all(item.device_id == channel_id for item in result.items)


async def test_nothing_recorded_answers_sum_num_zero(sqlite_engine: AsyncEngine) -> None:
    async with serving(SignalingServer(fast_settings(), sqlite_engine)) as server:
        sim_ = simulating(sim_config(server.port))
        async with sim_ as sim:
            await sim.wait_registered()
            device = next(iter(sim.devices.values()))
            start = datetime.now() - timedelta(days=30)
            result = await server.query_record_info(
                device.device_id, device.plan.channels[0].channel_id, start, start + timedelta(1)
            )
    assert result.complete
    assert (result.sum_num, result.items) == (0, ())


async def test_a_device_that_stops_early_yields_a_partial_list(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def first_part_only(parts: list[bytes], send: SendPart) -> None:
        send(parts[0], lambda _answer: None)

    monkeypatch.setattr(sim_playback, "send_serially", first_part_only)
    settings = fast_settings(catalog_idle_timeout_s=0.3)
    async with serving(SignalingServer(settings, sqlite_engine)) as server:
        config = sim_config(server.port, record_items_per_message=4)
        async with simulating(config) as sim:
            await sim.wait_registered()
            device = next(iter(sim.devices.values()))
            start, end = _window(10)
            result = await server.query_record_info(
                device.device_id, device.plan.channels[0].channel_id, start, end
            )
    assert not result.complete
    assert len(result.items) == 4
    assert result.sum_num > 4


async def test_no_answer_times_out(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim_playback, "send_serially", lambda parts, send: None)
    settings = fast_settings(query_timeout_s=0.5)
    async with serving(SignalingServer(settings, sqlite_engine)) as server:
        sim_ = simulating(sim_config(server.port))
        async with sim_ as sim:
            await sim.wait_registered()
            device = next(iter(sim.devices.values()))
            start, end = _window(3)
            with pytest.raises(QueryTimeoutError):
                await server.query_record_info(
                    device.device_id, device.plan.channels[0].channel_id, start, end
                )
            assert server.records.pending == 0
