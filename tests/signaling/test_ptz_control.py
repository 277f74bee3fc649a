"""PTZ DeviceControl from the signalling server: to a simulated NVR (which answers with a
Response and moves its heads), to a raw device that only answers 200 (no Response, as J.6
allows), and the errors of offline and refusing devices."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.protocols.gb28181.manscdp import DeviceControl, parse_manscdp
from vigil.protocols.gb28181.ptz import PresetCommand, PtzCommand, PtzMove
from vigil.protocols.sip.builders import create_response
from vigil.protocols.sip.message import SipRequest
from vigil.signaling.errors import DeviceUnavailableError, QueryFailedError
from vigil.signaling.server import SignalingServer

from .conftest import fast_settings, serving, sim_config, simulating
from .sip_client import SipClient

pytestmark = pytest.mark.integration


async def test_simulated_nvr_moves_its_dome_and_refuses_its_fixed_camera(
    sqlite_engine: AsyncEngine,
) -> None:
    async with (
        serving(SignalingServer(fast_settings(), sqlite_engine)) as server,
        simulating(sim_config(server.port, devices=1, channels=2)) as sim,
    ):
        await sim.wait_registered()
        device = next(iter(sim.devices.values()))
        dome, fixed = (c.channel_id for c in device.plan.channels)  # …1 odd, …2 even
        right = PtzMove(pan=1, pan_speed=255)
        outcome = await server.ptz.send(device.device_id, dome, right)
        assert outcome.ptz_cmd == "A50F0101FF0000B5"
        assert outcome.sip_status == 200
        assert outcome.result == "OK"
        head = device.requests.ptz.head(dome)
        assert head is not None
        assert head.moving
        await asyncio.sleep(0.2)
        stop = await server.ptz.send(device.device_id, dome, PtzMove())
        assert stop.result == "OK"
        assert not head.moving
        view = device.requests.ptz.viewport(dome)
        assert view is not None
        assert view.pan > 0.1
        saved = await server.ptz.send(device.device_id, dome, PresetCommand("set", 4))
        assert (saved.ptz_cmd, saved.result) == ("A50F01810004003A", "OK")
        assert head.presets[4] == view

        refused = await server.ptz.send(device.device_id, fixed, right)
        assert refused.result == "ERROR"
        assert refused.refused
        unknown = await server.ptz.send(device.device_id, dome, PresetCommand("call", 99))
        assert unknown.refused


async def test_device_without_response_and_device_refusing(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    settings = fast_settings(
        keepalive_interval_s=10.0,
        query_device_info_on_register=False,
        catalog_on_register=False,
        catalog_subscribe=False,
    )
    ipc, channel = "34020000001320000007", "34020000001310000007"
    async with serving(SignalingServer(settings, sqlite_engine)) as server:
        with pytest.raises(DeviceUnavailableError):
            await server.ptz.send(ipc, channel, PtzMove())
        client.platform = ("127.0.0.1", server.port)
        assert (await client.register(ipc, "12345678"))[0].status_code == 200

        async def device(status: int) -> SipRequest:
            while True:
                message = await client.receive()
                if isinstance(message, SipRequest) and message.method == "MESSAGE":
                    client.send(create_response(message, status, to_tag="9").serialize())
                    return message

        up = PtzMove(tilt=1, tilt_speed=0x80)
        answered = asyncio.ensure_future(device(200))
        outcome = await server.ptz.send(ipc, channel, up)
        request = await answered
        assert outcome.result is None  # no Response within the short wait: still a success
        assert outcome.sip_status == 200
        assert request.uri.startswith(f"sip:{channel}@")
        control = parse_manscdp(request.body)
        assert isinstance(control, DeviceControl)
        assert control.device_id == channel
        assert control.ptz_cmd == "A50F01080080003D"  # the reference vector "up, tilt 0x80"
        assert control.control_priority == 5
        assert control.ptz == PtzCommand.parse("A50F01080080003D")

        refusing = asyncio.ensure_future(device(403))
        with pytest.raises(QueryFailedError) as failed:
            await server.ptz.send(ipc, channel, up)
        await refusing
        assert failed.value.status == 403
