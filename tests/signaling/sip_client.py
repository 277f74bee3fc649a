"""A raw UDP SIP client for exact exchanges with the signalling server in tests."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from vigil.protocols.gb28181.manscdp import MANSCDP_CONTENT_TYPE, Keepalive
from vigil.protocols.sip.address import NameAddr
from vigil.protocols.sip.builders import build_request
from vigil.protocols.sip.digest import DigestChallenge, answer_challenge
from vigil.protocols.sip.message import SipRequest, SipResponse, parse_message
from vigil.protocols.sip.via import Via

PLATFORM_ID = "34020000002000000001"
DOMAIN = "3402000000"

_branches = itertools.count(1)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[bytes]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait(data)


class SipClient:
    def __init__(self, transport: asyncio.DatagramTransport, queue: asyncio.Queue[bytes]) -> None:
        self.transport = transport
        self.queue = queue
        self.local: tuple[str, int] = transport.get_extra_info("sockname")[:2]
        self.platform: tuple[str, int] = ("127.0.0.1", 0)

    @classmethod
    async def open(cls, host: str = "127.0.0.1") -> SipClient:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Protocol(queue), local_addr=(host, 0)
        )
        return cls(transport, queue)

    def close(self) -> None:
        self.transport.close()

    def send(self, data: bytes) -> None:
        self.transport.sendto(data, self.platform)

    async def receive(self, timeout_s: float = 3.0) -> SipRequest | SipResponse:
        return parse_message(await asyncio.wait_for(self.queue.get(), timeout_s))

    async def response(self, method: str, timeout_s: float = 3.0) -> SipResponse:
        """The next response to ``method``; requests from the platform are skipped."""
        async with asyncio.timeout(timeout_s):
            while True:
                message = await self.receive(timeout_s)
                if isinstance(message, SipResponse) and message.cseq.method == method:
                    return message

    async def silence(self, method: str, wait_s: float = 0.5) -> bool:
        """True when no response to ``method`` arrives within ``wait_s``."""
        try:
            await self.response(method, wait_s)
        except TimeoutError:
            return True
        return False

    def request(
        self,
        method: str,
        device_id: str,
        *,
        call_id: str,
        cseq: int,
        tag: str = "1416958563",
        headers: list[tuple[str, str]] | None = None,
        authorization: str | None = None,
        body: bytes = b"",
    ) -> SipRequest:
        to_user = device_id if method == "REGISTER" else PLATFORM_ID
        return build_request(
            method,
            f"sip:{PLATFORM_ID}@{DOMAIN}",
            via=Via.build("UDP", *self.local, f"z9hG4bK{next(_branches)}x{cseq}"),
            from_addr=NameAddr(f"sip:{device_id}@{DOMAIN}").with_tag(tag),
            to_addr=NameAddr(f"sip:{to_user}@{DOMAIN}"),
            call_id=call_id,
            cseq=cseq,
            contact=NameAddr(f"sip:{device_id}@{self.local[0]}:{self.local[1]}"),
            authorization=authorization,
            content_type=MANSCDP_CONTENT_TYPE if body else None,
            body=body,
            headers=headers or [],
        )

    async def register(
        self,
        device_id: str,
        password: str,
        *,
        call_id: str = "1853719045",
        expires: int = 3600,
        qop: bool = True,
        first_cseq: int = 1,
    ) -> tuple[SipResponse, DigestChallenge | None]:
        """REGISTER → 401 → REGISTER with digest; (final response, the challenge)."""
        expires_header = [("Expires", str(expires))]
        first = self.request("REGISTER", device_id, call_id=call_id, cseq=first_cseq,
                             headers=expires_header)  # fmt: skip
        self.send(first.serialize())
        response = await self.response("REGISTER")
        if response.status_code != 401:
            return response, None
        challenge = DigestChallenge.parse(response.headers.get("WWW-Authenticate") or "")
        credentials = answer_challenge(
            challenge,
            method="REGISTER",
            uri=first.uri,
            username=device_id,
            password=password,
            cnonce="0a4f113b" if qop else None,
        )
        second = self.request(
            "REGISTER",
            device_id,
            call_id=call_id,
            cseq=first_cseq + 1,
            headers=expires_header,
            authorization=credentials.serialize(),
        )
        self.send(second.serialize())
        return await self.response("REGISTER"), challenge

    def keepalive(self, device_id: str, *, sn: int = 1, call_id: str = "ka-test") -> None:
        body = Keepalive(sn=sn, device_id=device_id).serialize()
        message = self.request("MESSAGE", device_id, call_id=call_id, cseq=20 + sn, body=body)
        self.send(message.serialize())
