"""Live plays over each RTP transport with the simulator: UDP, TCP passive (the simulated
device connects to the media server) and TCP active (the media server connects to the
address in the device's answer); frames and a keyframe arrive and BYE ends the play."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.media.stream_handle import MediaTransport
from vigil.protocols.samples import Sample

from ..signaling.conftest import eventually
from .conftest import live_path

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("transport", ["udp", "tcp_passive", "tcp_active"])
async def test_a_play_over_each_transport(engine: AsyncEngine, transport: str) -> None:
    async with live_path(engine, grace_s=0.2, media={"default_transport": transport}) as path:
        channel_id, device_id = path.channel
        device = path.sim.devices[device_id]
        lease = await path.streams.open_live(channel_id, device_id)
        assert lease.handle.transport is MediaTransport(transport)
        samples: list[Sample] = []
        async with asyncio.timeout(15):
            async with lease.hub.subscribe(video_only=True) as subscription:
                async for sample in subscription:
                    samples.append(sample)
                    if len(samples) >= 30:
                        break
        assert samples[0].is_key
        assert sum(s.is_key for s in samples) >= 1
        session = lease.session
        (sender,) = device.requests.calls.values()
        assert sender.link.role == {
            "udp": "udp", "tcp_passive": "tcp-active", "tcp_active": "tcp-passive",
        }[transport]  # fmt: skip
        if transport != "udp":
            assert sender.link.connected_to is not None
        # the answer names the simulator's real sending socket, not a fixed port
        assert session.answer_summary is not None
        assert sender.link.local is not None
        assert f":{sender.link.local[1]} " in session.answer_summary
        invite = next(e for e in session.timeline() if e.kind == "invite_sent")
        words = {"udp": "over UDP", "tcp_passive": "TCP passive", "tcp_active": "TCP active"}
        assert words[transport] in invite.detail
        assert session.to_dict()["transport"] == transport
        lease.release()
        await eventually(lambda: device.requests.byes == 1, timeout_s=5)
        assert not device.requests.calls
        await eventually(lambda: session.state == "closed", timeout_s=5)  # BYE answered
        assert not path.media.streams()


async def test_a_per_device_override_beats_the_default(engine: AsyncEngine) -> None:
    async with live_path(engine, media={"default_transport": "udp"}) as path:
        channel_id, device_id = path.channel
        path.settings.media.device_transports[device_id] = "tcp_active"
        async with await path.streams.open_live(channel_id, device_id) as lease:
            assert lease.handle.transport is MediaTransport.TCP_ACTIVE
            keyframe = await asyncio.wait_for(lease.hub.wait_keyframe(), 15)
        assert keyframe.is_key
        kinds = [e.kind for e in lease.session.timeline()]
        assert "connecting" in kinds
