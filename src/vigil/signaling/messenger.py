"""Requests from the platform to devices, and waiting for their answers.

GB/T 28181 queries are two exchanges (A.2.4, §4 of the implementation notes): the platform's
MESSAGE is answered 200 at once, and the real answer comes later as the device's own MESSAGE
with the same SN. :meth:`DeviceMessenger.send` awaits the SIP final response;
:meth:`DeviceMessenger.query` also awaits the MANSCDP answer matched by (device, CmdType, SN).

Requests go where the device's packets come from (NAT-aware, §9.1): over UDP to the source
address; over TCP on the device's connection, or to its Contact when that connection closed.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable, Sequence
from typing import Any

from vigil.protocols.gb28181.manscdp import MANSCDP_CONTENT_TYPE
from vigil.protocols.sip.address import NameAddr
from vigil.protocols.sip.builders import build_request
from vigil.protocols.sip.endpoint import SipEndpoint
from vigil.protocols.sip.events import ResponseReceived, TransactionTimeout
from vigil.protocols.sip.message import SipRequest, SipResponse
from vigil.protocols.sip.transaction import Address, ClientTransaction
from vigil.protocols.sip.via import Via
from vigil.settings import SipSettings
from vigil.signaling.counters import SignalingCounters
from vigil.signaling.devices import DeviceState, DeviceTable
from vigil.signaling.errors import (
    DeviceUnavailableError,
    OverloadedError,
    QueryFailedError,
    QueryTimeoutError,
)
from vigil.signaling.signalling_log import SignallingLog
from vigil.signaling.transport import SipTransport

USER_AGENT = "Vigil"
MAX_PENDING_ANSWERS = 65_536
MAX_PENDING_REQUESTS = 65_536

AnswerKey = tuple[str, str, int]  # (device ID, CmdType lower case, SN)


class DeviceMessenger:
    def __init__(
        self,
        settings: SipSettings,
        endpoint: SipEndpoint,
        transport: SipTransport,
        table: DeviceTable,
        log: SignallingLog,
        counters: SignalingCounters,
    ) -> None:
        self._settings = settings
        self._endpoint = endpoint
        self._transport = transport
        self._table = table
        self._log = log
        self._counters = counters
        self._sn = itertools.count(int.from_bytes(os.urandom(2), "big") + 1)
        self._cseq = itertools.count(1)
        self._requests: dict[int, tuple[str, asyncio.Future[SipResponse]]] = {}
        self._answers: dict[AnswerKey, asyncio.Future[Any]] = {}

    def next_sn(self) -> int:
        return next(self._sn) % 2_000_000_000 or 1

    # ---- building ------------------------------------------------------------------

    def destination(self, state: DeviceState) -> tuple[Address, bool]:
        if state.address is None:
            raise DeviceUnavailableError(f"device {state.device_id} has no known address")
        if state.transport != "tcp":
            return state.address, False
        if self._transport.has_connection(state.address) or state.contact is None:
            return state.address, True
        return state.contact, True

    def via_for(self, addr: Address, reliable: bool) -> Via:
        host = self._transport.local_host_for(addr)
        transport = "TCP" if reliable else "UDP"
        return Via.build(transport, host, self._transport.port, self._endpoint.new_branch())

    def platform_contact(self, addr: Address) -> NameAddr:
        host = self._transport.local_host_for(addr)
        return NameAddr(f"sip:{self._settings.id}@{host}:{self._transport.port}")

    def build(
        self,
        state: DeviceState,
        method: str,
        *,
        body: bytes = b"",
        target_id: str | None = None,
        content_type: str | None = MANSCDP_CONTENT_TYPE,
        headers: Sequence[tuple[str, str]] = (),
        contact: bool = False,
    ) -> tuple[SipRequest, Address, bool]:
        """A request outside any dialog to ``target_id`` (a channel) or the device itself."""
        addr, reliable = self.destination(state)
        target = target_id or state.device_id
        settings = self._settings
        request = build_request(
            method,
            f"sip:{target}@{addr[0]}:{addr[1]}",
            via=self.via_for(addr, reliable),
            from_addr=NameAddr(f"sip:{settings.id}@{settings.domain}").with_tag(
                self._endpoint.new_tag()
            ),
            to_addr=NameAddr(f"sip:{target}@{settings.domain}"),
            call_id=self._endpoint.new_call_id(),
            cseq=next(self._cseq),
            contact=self.platform_contact(addr) if contact else None,
            content_type=content_type if body else None,
            body=body,
            headers=[*headers, ("User-Agent", USER_AGENT)],
        )
        return request, addr, reliable

    # ---- sending -------------------------------------------------------------------

    def send(
        self, device_id: str, request: SipRequest, addr: Address, reliable: bool
    ) -> asyncio.Future[SipResponse]:
        """Start a client transaction; the future gets the final response, or
        QueryTimeoutError when none came (Timer F, or the TCP connection failed)."""
        if len(self._requests) >= MAX_PENDING_REQUESTS:
            raise OverloadedError("too many requests to devices in progress")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SipResponse] = loop.create_future()
        data = request.serialize()
        txn = self._endpoint.send_request(request, addr, self._transport.now(), reliable=reliable)
        self._requests[id(txn)] = (device_id, future)
        self._log.record(device_id, "out", addr, reliable, data)
        self._transport.pump()
        return future

    async def message(
        self, device_id: str, body: bytes, *, target_id: str | None = None
    ) -> SipResponse:
        """Send a MANSCDP MESSAGE and return the device's final response."""
        state = self.reachable(device_id)
        request, addr, reliable = self.build(state, "MESSAGE", body=body, target_id=target_id)
        return await self.send(device_id, request, addr, reliable)

    def reachable(self, device_id: str) -> DeviceState:
        state = self._table.get(device_id)
        if state is None or not state.reachable:
            raise DeviceUnavailableError(f"device {device_id} is not online")
        return state

    async def query(
        self,
        device_id: str,
        cmd_type: str,
        make_body: Callable[[int, str], bytes],
        *,
        timeout_s: float | None = None,
    ) -> Any:
        """MESSAGE a query built by ``make_body(sn, charset)`` and await the MANSCDP answer."""
        state = self.reachable(device_id)
        sn = self.next_sn()
        key = (device_id, cmd_type.lower(), sn)
        if len(self._answers) >= MAX_PENDING_ANSWERS:
            raise OverloadedError("too many queries in progress")
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._answers[key] = answer
        try:
            async with asyncio.timeout(timeout_s or self._settings.query_timeout_s):
                body = make_body(sn, state.charset or "GB2312")
                response = await self.message(device_id, body)
                if not response.is_success:
                    raise QueryFailedError(
                        f"{device_id} answered {response.status_code} to {cmd_type}",
                        response.status_code,
                    )
                return await answer
        except TimeoutError:
            self._counters.queries_timed_out += 1
            raise QueryTimeoutError(f"{device_id} did not answer {cmd_type} in time") from None
        finally:
            self._answers.pop(key, None)

    def expect(self, device_id: str, cmd_type: str, sn: int) -> asyncio.Future[Any]:
        """Wait for the MANSCDP answer (device, CmdType, SN) to a request about to be sent,
        for requests whose answer is optional (DeviceControl); pair with :meth:`forget`."""
        if len(self._answers) >= MAX_PENDING_ANSWERS:
            raise OverloadedError("too many requests waiting for answers")
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._answers[(device_id, cmd_type.lower(), sn)] = answer
        return answer

    def forget(self, device_id: str, cmd_type: str, sn: int) -> None:
        self._answers.pop((device_id, cmd_type.lower(), sn), None)

    def deliver(self, device_id: str, cmd_type: str, sn: int, message: object) -> bool:
        """A MANSCDP answer arrived; True if a query was waiting for it."""
        future = self._answers.get((device_id, cmd_type.lower(), sn))
        if future is None or future.done():
            return False
        future.set_result(message)
        return True

    # ---- endpoint events -----------------------------------------------------------

    def on_response(self, event: ResponseReceived) -> None:
        response = event.response
        if response.is_provisional:
            return
        entry = self._requests.pop(id(event.transaction), None)
        if entry is None:
            return
        device_id, future = entry
        self._log.record(
            device_id,
            "in",
            event.transaction.addr,
            event.transaction.reliable,
            response.serialize(),
        )
        if not future.done():
            future.set_result(response)

    def on_timeout(self, transaction: ClientTransaction) -> None:
        entry = self._requests.pop(id(transaction), None)
        if entry is None:
            return
        device_id, future = entry
        self._counters.queries_timed_out += 1
        if not future.done():
            future.set_exception(
                QueryTimeoutError(f"no answer from {device_id} to {transaction.method}")
            )

    def on_transaction_timeout(self, event: TransactionTimeout) -> None:
        if isinstance(event.transaction, ClientTransaction):
            self.on_timeout(event.transaction)
