"""A device registered over TCP whose connection closed is reached again by a new TCP
connection to its Contact (RFC 3261 §18.1.1: the platform opens the connection)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.protocols.gb28181.manscdp import (
    MANSCDP_CONTENT_TYPE,
    DeviceStatusQuery,
    DeviceStatusResponse,
    parse_manscdp,
)
from vigil.protocols.sip.address import NameAddr
from vigil.protocols.sip.builders import build_request, create_response
from vigil.protocols.sip.digest import DigestChallenge, answer_challenge
from vigil.protocols.sip.framing import SipStreamFramer
from vigil.protocols.sip.message import SipRequest, SipResponse, parse_message
from vigil.protocols.sip.via import Via
from vigil.signaling.server import SignalingServer

from .conftest import eventually, fast_settings, serving

pytestmark = pytest.mark.integration

DEVICE = "34020000001320000001"
PLATFORM = "34020000002000000001"


class Stream:
    """A framed SIP stream over an asyncio TCP connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = SipStreamFramer()
        self.pending: list[bytes] = []

    async def next(self) -> SipRequest | SipResponse:
        while not self.pending:
            chunk = await asyncio.wait_for(self.reader.read(65536), 5)
            assert chunk, "connection closed"
            self.pending.extend(self.framer.push(chunk))
        return parse_message(self.pending.pop(0))

    def send(self, message: SipRequest | SipResponse) -> None:
        self.writer.write(message.serialize())


def register(contact_port: int, cseq: int, authorization: str | None = None) -> SipRequest:
    return build_request(
        "REGISTER",
        f"sip:{PLATFORM}@3402000000",
        via=Via.build("TCP", "127.0.0.1", contact_port, f"z9hG4bKreg{cseq}"),
        from_addr=NameAddr(f"sip:{DEVICE}@3402000000").with_tag("77"),
        to_addr=NameAddr(f"sip:{DEVICE}@3402000000"),
        call_id="tcp-reg-1",
        cseq=cseq,
        contact=NameAddr(f"sip:{DEVICE}@127.0.0.1:{contact_port}"),
        authorization=authorization,
        headers=[("Expires", "3600")],
    )


async def test_platform_reconnects_to_the_contact(sqlite_engine: AsyncEngine) -> None:
    accepted: asyncio.Queue[Stream] = asyncio.Queue()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(Stream(reader, writer))

    listener = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    contact_port = listener.sockets[0].getsockname()[1]
    settings = fast_settings(
        keepalive_interval_s=30.0,
        catalog_on_register=False,
        query_device_info_on_register=False,
        catalog_subscribe=False,
    )
    async with listener, serving(SignalingServer(settings, sqlite_engine)) as server:
        reg = Stream(*await asyncio.open_connection("127.0.0.1", server.port))
        first = register(contact_port, 1)
        reg.send(first)
        challenge_response = await reg.next()
        assert isinstance(challenge_response, SipResponse)
        assert challenge_response.status_code == 401
        challenge = DigestChallenge.parse(challenge_response.headers.get("WWW-Authenticate") or "")
        answer = answer_challenge(
            challenge, method="REGISTER", uri=first.uri, username=DEVICE, password="12345678"
        )
        reg.send(register(contact_port, 2, answer.serialize()))
        ok = await reg.next()
        assert isinstance(ok, SipResponse)
        assert ok.status_code == 200
        state = server.device_state(DEVICE)
        assert state is not None
        assert state.transport == "tcp"
        reg.writer.close()
        await eventually(lambda: server.metrics()["tcp_connections"] == 0)

        query = asyncio.ensure_future(server.query_device_status(DEVICE))
        device = await asyncio.wait_for(accepted.get(), 5)  # the platform connected to us
        request = await device.next()
        assert isinstance(request, SipRequest)
        assert request.top_via.transport == "TCP"
        asked = parse_manscdp(request.body)
        assert isinstance(asked, DeviceStatusQuery)
        device.send(create_response(request, 200, to_tag="9"))
        status = DeviceStatusResponse(sn=asked.sn, device_id=DEVICE, encode="ON")
        device.send(
            build_request(
                "MESSAGE",
                f"sip:{PLATFORM}@3402000000",
                via=Via.build("TCP", "127.0.0.1", contact_port, "z9hG4bKstatus"),
                from_addr=NameAddr(f"sip:{DEVICE}@3402000000").with_tag("78"),
                to_addr=NameAddr(f"sip:{PLATFORM}@3402000000"),
                call_id="status-1",
                cseq=3,
                content_type=MANSCDP_CONTENT_TYPE,
                body=status.serialize(),
            )
        )
        answered = await device.next()
        assert isinstance(answered, SipResponse)
        assert answered.status_code == 200
        result = await asyncio.wait_for(query, 5)
        assert result.encode == "ON"
        device.writer.close()
