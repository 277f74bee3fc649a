"""Hostile input: malformed and oversized SIP, XML bombs, random datagrams — answered 400 or
dropped, counted, and the server keeps serving."""

from __future__ import annotations

import asyncio
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.signaling.server import SignalingServer

from .conftest import fast_settings, serving
from .sip_client import SipClient

pytestmark = pytest.mark.integration

DEVICE = "34020000001320000001"

XML_BOMB = b"""<?xml version="1.0" encoding="GB2312"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>&lol3;</DeviceID></Response>
"""


async def test_malformed_sip_is_answered_400_or_dropped_and_counted(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    async with serving(SignalingServer(fast_settings(), sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        broken = (
            b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKbad\r\n"
            b"From: <sip:34020000001320000001@3402000000>;tag=1\r\n"
            b"To: <sip:34020000001320000001@3402000000>\r\n"
            b"Call-ID: bad-1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: seventy\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        client.send(broken)
        response = await client.response("REGISTER")
        assert response.status_code == 400
        client.send(b"\x00\x01 not SIP at all \xff" * 10)
        client.send(b"SIP/2.0 200 OK\r\n\r\n")  # a response that cannot be matched: dropped
        await asyncio.sleep(0.2)
        assert server.counters.parse_failures == 3
        assert server.counters.failures_by_source["127.0.0.1"] == 3
        ok, _ = await client.register(DEVICE, "12345678")
        assert ok.status_code == 200


async def test_xml_bomb_is_refused(sqlite_engine: AsyncEngine, client: SipClient) -> None:
    settings_ = fast_settings(keepalive_interval_s=10, query_device_info_on_register=False)
    async with serving(SignalingServer(settings_, sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        assert (await client.register(DEVICE, "12345678"))[0].status_code == 200
        bomb = client.request("MESSAGE", DEVICE, call_id="bomb", cseq=40, body=XML_BOMB)
        client.send(bomb.serialize())
        response = await client.response("MESSAGE")
        assert response.status_code == 400
        assert server.counters.manscdp_failures == 1
        client.keepalive(DEVICE, sn=3)
        assert (await client.response("MESSAGE")).status_code == 200


async def test_oversized_and_broken_tcp_streams_close_only_their_connection(
    sqlite_engine: AsyncEngine,
) -> None:
    async with serving(SignalingServer(fast_settings(), sqlite_engine)) as server:
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"REGISTER sip:x@y SIP/2.0\r\n" + b"X-Pad: " + b"a" * 70_000)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        writer.close()
        assert server.counters.tcp_stream_errors == 1
        # RFC 5626 keep-alive on a healthy connection: a double CRLF gets a CRLF.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\r\n\r\n")
        assert await asyncio.wait_for(reader.readexactly(2), 5) == b"\r\n"
        writer.close()
        assert loop.is_running()


async def test_tcp_connection_bound(sqlite_engine: AsyncEngine) -> None:
    async with serving(
        SignalingServer(fast_settings(max_tcp_connections=2), sqlite_engine)
    ) as server:
        opened = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        reader = opened[2][0]
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert server.counters.tcp_connections_refused == 1
        for _, writer in opened:
            writer.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_random_datagrams_never_stop_the_server(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    async with serving(SignalingServer(fast_settings(), sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        prefixes = st.sampled_from(
            [b"", b"REGISTER sip:a@b SIP/2.0\r\n", b"MESSAGE sip:a@b SIP/2.0\r\n", b"SIP/2.0 "]
        )

        @settings(max_examples=300, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
        @given(prefix=prefixes, noise=st.binary(max_size=1500))
        def blast(prefix: bytes, noise: bytes) -> None:
            sock.sendto(prefix + noise, ("127.0.0.1", server.port))

        blast()
        sock.close()
        await asyncio.sleep(0.3)
        assert server.counters.handler_errors == 0
        response, _ = await client.register(DEVICE, "12345678", call_id="after-fuzz")
        assert response.status_code == 200
