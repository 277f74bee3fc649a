"""Playback control on the wire against a hand-driven device (reference §11.5-11.7): the
Playback INVITE's offer, INFO with MANSRTSP inside the dialog, and MediaStatus 121 matched
by Call-ID even when From names someone else (Hikvision)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.protocols.gb28181.manscdp import MediaStatusNotify
from vigil.protocols.gb28181.mansrtsp import MansrtspRequest, MansrtspResponse
from vigil.protocols.sdp import (
    SessionDescription,
    build_media_answer,
    build_media_offer,
    make_ssrc,
)
from vigil.protocols.sip.address import NameAddr
from vigil.protocols.sip.builders import create_response
from vigil.protocols.sip.message import SipRequest
from vigil.signaling.server import SignalingServer

from .conftest import fast_settings, serving
from .sip_client import SipClient

pytestmark = pytest.mark.integration

DEVICE = "34020000001320000001"
CHANNEL = "34020000001310000001"
PLATFORM = "34020000002000000001"


async def _request(client: SipClient, method: str) -> SipRequest:
    async with asyncio.timeout(5):
        while True:
            message = await client.receive(5)
            if isinstance(message, SipRequest) and message.method == method:
                return message


async def test_info_in_dialog_and_media_status_by_call_id(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    async with serving(SignalingServer(fast_settings(), sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        assert (await client.register(DEVICE, "12345678"))[0].status_code == 200
        ssrc = make_ssrc(PLATFORM, 1, history=True)
        offer = build_media_offer(
            origin_id=PLATFORM, ip="127.0.0.1", port=30004, ssrc=ssrc, session="Playback",
            channel_id=CHANNEL, start=1714521600, end=1714525200,
        )  # fmt: skip
        inviting = asyncio.ensure_future(server.invite(DEVICE, CHANNEL, offer))
        invite = await _request(client, "INVITE")
        sdp = SessionDescription.parse(invite.body)
        assert (sdp.session_name, sdp.uri, sdp.start_end) == (
            "Playback",
            f"{CHANNEL}:0",
            (1714521600, 1714525200),
        )
        assert sdp.ssrc == "1200000001"
        assert invite.headers.get("Subject") == f"{CHANNEL}:1200000001,{PLATFORM}:0"
        answer = build_media_answer(
            origin_id=CHANNEL, ip="127.0.0.1", port=15060, ssrc=ssrc, session="Playback",
            times=(1714521600, 1714525200),
        )  # fmt: skip
        ok = create_response(
            invite, 200, to_tag="dev-tag", body=answer.serialize(),
            content_type="application/sdp",
            contact=NameAddr(f"sip:{CHANNEL}@{client.local[0]}:{client.local[1]}"),
        )  # fmt: skip
        client.send(ok.serialize())
        session = await asyncio.wait_for(inviting, 5)
        await _request(client, "ACK")

        pausing = asyncio.ensure_future(
            server.playback_control.send(session, MansrtspRequest.pause)
        )
        info = await _request(client, "INFO")
        assert info.call_id == invite.call_id
        assert info.cseq.number == invite.cseq.number + 1
        assert (info.headers.get("Content-Type") or "").lower() == "application/mansrtsp"
        assert MansrtspRequest.parse(info.body) == MansrtspRequest.pause(1)
        reply = MansrtspResponse(200, "OK", 1).serialize()
        client.send(
            create_response(info, 200, body=reply, content_type="Application/MANSRTSP").serialize()
        )
        assert await asyncio.wait_for(pausing, 5) == MansrtspResponse(200, "OK", 1)

        seen: list[MediaStatusNotify] = []
        server.playback_control.watch(session, seen.append)
        body = MediaStatusNotify(sn=7, device_id=CHANNEL).serialize()
        # Hikvision: From is not the device; only the Call-ID ties it to the playback.
        notify = client.request(
            "MESSAGE", "34020000002000000099", call_id=invite.call_id, cseq=30, body=body
        )
        client.send(notify.serialize())
        assert (await client.response("MESSAGE")).status_code == 200
        assert [m.end_of_file for m in seen] == [True]

        server.playback_control.unwatch(session)
        stray = client.request("MESSAGE", "34020000002000000099", call_id="other", cseq=31,
                               body=body)  # fmt: skip
        client.send(stray.serialize())
        assert (await client.response("MESSAGE")).status_code == 404  # unknown sender
        assert len(seen) == 1
