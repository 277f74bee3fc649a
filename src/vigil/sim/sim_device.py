"""One simulated GB/T 28181 device (IPC or NVR) as a SIP user agent.

* Registration (§9.1): REGISTER → 401 → REGISTER with digest (qop when offered and
  configured) → 200; refresh at 50-80 % of Expires with the same Call-ID and the last nonce.
  A failure backs off ``retry_s × 2ⁿ`` (capped, ±20 % jitter).
* Keepalive (§9.6) every ``keepalive_s``, sent without a transaction (a lost one is a miss).
  A 404 re-registers at once with a new Call-ID; ``keepalive_timeout_count`` unanswered
  keepalives in a row mean the platform is gone (or restarted): re-register with back-off.
* Requests from the platform (queries, SUBSCRIBE) and NOTIFYs: :mod:`.sim_requests`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.manscdp import MANSCDP_CONTENT_TYPE
from vigil.protocols.sip.address import NameAddr
from vigil.protocols.sip.builders import build_request
from vigil.protocols.sip.dialog import Dialog
from vigil.protocols.sip.digest import DigestChallenge, answer_challenge
from vigil.protocols.sip.message import SipRequest, SipResponse
from vigil.protocols.sip.transaction import ServerTransaction
from vigil.protocols.sip.via import Via
from vigil.sim.config import USER_AGENT, SimConfig
from vigil.sim.device_plan import ChannelPlan, DevicePlan
from vigil.sim.keepalive_clock import KeepaliveClock
from vigil.sim.sim_port import SimPort
from vigil.sim.sim_requests import DeviceRequests


class SimDevice:
    def __init__(
        self,
        plan: DevicePlan,
        config: SimConfig,
        index: int,
        *,
        clock: KeepaliveClock,
        need_connection: Callable[[SimDevice], None] | None = None,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.plan = plan
        self.device_id = plan.device_id
        self.config = config
        self.index = index
        self.port: SimPort | None = None
        self._need_connection = need_connection
        self.rng = random.Random(config.seed * 1_000_003 + index)
        self.loop = asyncio.get_running_loop()
        self._on_change = on_change
        self._registered = False
        self.stopped = False
        self.call_id = ""
        self.cseq = 0
        self.tag = ""
        self._challenge: DigestChallenge | None = None
        self._nc = 0
        self._challenges_this_attempt = 0
        self._failures = 0
        self._ka_seq = 0
        self._ka_generation = 0
        self._ka_template: tuple[object, bytes, bytes] | None = None
        self._clock = clock
        self._ka_pending: bytes | None = None
        self._ka_misses = 0
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.subscription: Dialog | None = None
        self.registrations = 0
        self.keepalives_sent = 0
        self.keepalives_answered = 0
        self.last_date: str | None = None
        self.last_status: int | None = None
        self.requests = DeviceRequests(self)

    @property
    def registered(self) -> bool:
        return self._registered

    @registered.setter
    def registered(self, value: bool) -> None:
        if value != self._registered:
            self._registered = value
            if self._on_change is not None:
                self._on_change(value)

    # ---- plumbing ------------------------------------------------------------------

    def attach(self, port: SimPort) -> None:
        self.port = port
        port.devices[self.device_id] = self

    def owns_channel(self, channel_id: str) -> bool:
        return any(channel.channel_id == channel_id for channel in self.plan.channels)

    def _later(self, name: str, delay_s: float, action: Callable[[], None]) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        self._timers[name] = self.loop.call_later(max(delay_s, 0.0), action)

    def _cancel(self, *names: str) -> None:
        for name in names:
            handle = self._timers.pop(name, None)
            if handle is not None:
                handle.cancel()

    def stop(self) -> None:
        self.stopped = True
        self.registered = False
        self.requests.stop_media()
        self._stop_keepalives()
        self._cancel(*list(self._timers))

    def uri(self, user: str) -> str:
        return f"sip:{user}@{self.config.domain}"

    def via(self) -> Via:
        assert self.port is not None
        transport = "TCP" if self.port.reliable else "UDP"
        host, port = self.port.local
        return Via.build(transport, host, port, self.port.endpoint.new_branch())

    def contact(self) -> NameAddr:
        assert self.port is not None
        host, port = self.port.local
        return NameAddr(f"sip:{self.device_id}@{host}:{port}")

    # ---- registration --------------------------------------------------------------

    def start(self, delay_s: float = 0.0) -> None:
        self._later("register", delay_s, lambda: self.register(new_call=True))

    def register(
        self,
        *,
        new_call: bool,
        expires_s: int | None = None,
        done: Callable[[int], None] | None = None,
    ) -> None:
        if self.stopped:
            return
        port = self.port
        if port is None or port.closed:
            if self._need_connection is not None:
                self._need_connection(self)
            return
        if new_call:
            self.call_id = port.endpoint.new_call_id()
            self.tag = port.endpoint.new_tag()
            self.cseq = 0
            self._challenge = None
        self._challenges_this_attempt = 0
        expires = self.config.register_expires_s if expires_s is None else expires_s
        self._send_register(expires, done)

    def _send_register(self, expires_s: int, done: Callable[[int], None] | None) -> None:
        assert self.port is not None
        self.cseq += 1
        uri = self.uri(self.config.platform_id)
        authorization = None
        if self._challenge is not None:
            self._nc += 1
            credentials = answer_challenge(
                self._challenge,
                method="REGISTER",
                uri=uri,
                username=self.device_id,
                password=self.config.password,
                cnonce=f"{self.rng.getrandbits(32):08x}" if self.config.digest_qop else None,
                nc=self._nc,
            )
            authorization = credentials.serialize()
        request = build_request(
            "REGISTER",
            uri,
            via=self.via(),
            from_addr=NameAddr(self.uri(self.device_id)).with_tag(self.tag),
            to_addr=NameAddr(self.uri(self.device_id)),
            call_id=self.call_id,
            cseq=self.cseq,
            contact=self.contact(),
            authorization=authorization,
            headers=[("User-Agent", USER_AGENT), ("Expires", str(expires_s))],
        )
        self.port.send_request(request, lambda r: self._register_answered(r, expires_s, done))

    def _register_answered(
        self, response: SipResponse | None, expires_s: int, done: Callable[[int], None] | None
    ) -> None:
        status = 408 if response is None else response.status_code
        self.last_status = status
        if self.stopped:
            return
        if response is not None and status == 401 and self._challenges_this_attempt < 2:
            self._challenges_this_attempt += 1
            try:
                self._challenge = DigestChallenge.parse(
                    response.headers.get("WWW-Authenticate") or ""
                )
            except ParseError:
                self._finish_register(False, expires_s, done, status)
                return
            self._nc = 0
            self._send_register(expires_s, done)
            return
        if response is not None and response.is_success:
            self.last_date = response.headers.get("Date")
        self._finish_register(response is not None and response.is_success, expires_s, done, status)

    def _finish_register(
        self, ok: bool, expires_s: int, done: Callable[[int], None] | None, status: int
    ) -> None:
        if done is not None:
            done(status)
        if not ok:
            if expires_s:
                self._failed()
            return
        if expires_s == 0:
            self.registered = False
            self._stop_keepalives()
            self._cancel("refresh")
            return
        first = not self.registered
        self.registered = True
        self.registrations += 1
        self._failures = 0
        self._ka_misses = 0
        refresh = expires_s * self.rng.uniform(0.5, 0.8)
        self._later("refresh", refresh, lambda: self.register(new_call=False))
        if first:
            self._ka_pending = None
            self._start_keepalives(self.rng.uniform(0.05, 1.0) * self.config.keepalive_s)

    def _failed(self) -> None:
        self.registered = False
        self._stop_keepalives()
        self._cancel("refresh")
        delay = min(self.config.retry_s * 2**self._failures, self.config.retry_max_s)
        self._failures += 1
        self._later("register", delay * self.rng.uniform(0.8, 1.2), self._retry)

    def _retry(self) -> None:
        self.register(new_call=True)

    def reregister_now(self) -> None:
        """The platform forgot us (404) or vanished: a new registration, no back-off."""
        self.registered = False
        self._stop_keepalives()
        self._cancel("refresh")
        self._failures = 0
        self.register(new_call=True)

    def connection_lost(self) -> None:
        """The TCP connection closed: register again over a new one, after a back-off."""
        self.port = None
        if not self.stopped:
            self._failed()

    def unregister(self) -> asyncio.Future[int]:
        """REGISTER with Expires 0 (J.3) in the current registration; the final status."""
        future: asyncio.Future[int] = self.loop.create_future()
        self._stop_keepalives()
        self._cancel("refresh")

        def done(status: int) -> None:
            if not future.done():
                future.set_result(status)

        self.register(new_call=False, expires_s=0, done=done)
        return future

    # ---- keepalive -----------------------------------------------------------------

    def _start_keepalives(self, delay_s: float) -> None:
        self._ka_generation += 1
        self._clock.schedule(delay_s, self._tick, self._ka_generation)

    def _stop_keepalives(self) -> None:
        self._ka_generation += 1

    def _tick(self, generation: int) -> None:
        if generation != self._ka_generation:
            return  # cancelled since
        if self.stopped or not self.registered or self.port is None:
            return
        if self._ka_pending is not None:
            self.port.keepalives.pop(self._ka_pending, None)
            self._ka_pending = None
            self._ka_misses += 1
            if self._ka_misses >= self.config.keepalive_timeout_count:
                self.reregister_now()
                return
        self._send_keepalive()
        self._clock.schedule(self.config.keepalive_s, self._tick, generation)

    def _template(self) -> tuple[bytes, bytes]:
        """Byte templates of the keepalive MESSAGE (A.2.5 a): head and body, with ``%``
        slots for branch/Call-ID, CSeq, Content-Length and SN; rebuilt when the local
        address or the From tag changes."""
        assert self.port is not None
        key = (self.port.local, self.port.reliable, self.tag)
        if self._ka_template is None or self._ka_template[0] != key:
            config = self.config
            host, port = self.port.local
            transport = "TCP" if self.port.reliable else "UDP"
            head = (
                f"MESSAGE sip:{config.platform_id}@{config.domain} SIP/2.0\r\n"
                f"Via: SIP/2.0/{transport} {host}:{port};rport;branch=z9hG4bK%s\r\n"
                f"From: <sip:{self.device_id}@{config.domain}>;tag={self.tag}\r\n"
                f"To: <sip:{config.platform_id}@{config.domain}>\r\n"
                f"Call-ID: %s\r\nCSeq: %d MESSAGE\r\n"
                f"Content-Type: {MANSCDP_CONTENT_TYPE}\r\nMax-Forwards: 70\r\n"
                f"User-Agent: {USER_AGENT}\r\nContent-Length: %d\r\n\r\n"
            ).encode("ascii")
            body = (
                f'<?xml version="1.0" encoding="{config.charset}"?>\r\n<Notify>\r\n'
                f"<CmdType>Keepalive</CmdType>\r\n<SN>%d</SN>\r\n"
                f"<DeviceID>{self.device_id}</DeviceID>\r\n<Status>OK</Status>\r\n"
                f"</Notify>\r\n"
            ).encode("ascii")
            self._ka_template = (key, head, body)
        return self._ka_template[1], self._ka_template[2]

    def keepalive_bytes(self) -> tuple[bytes, bytes]:
        """A keepalive MESSAGE and its Call-ID (``ka…``: the port recognises the answer)."""
        head, body_template = self._template()
        self._ka_seq += 1
        self.cseq += 1
        call_id = b"ka%xz%x" % (self.index, self._ka_seq)
        body = body_template % self._ka_seq
        return head % (call_id, call_id, self.cseq, len(body)) + body, call_id

    def _send_keepalive(self) -> None:
        assert self.port is not None
        data, call_id = self.keepalive_bytes()
        self._ka_pending = call_id
        self.port.keepalives[call_id] = self
        self.port.send_raw(data)
        self.keepalives_sent += 1

    def on_keepalive_answer(self, status: int) -> None:
        self._ka_pending = None
        if status == 200:
            self._ka_misses = 0
            self.keepalives_answered += 1
        elif status == 404 and self.registered:
            self.reregister_now()
        else:
            self._ka_misses += 1

    # ---- requests from the platform ------------------------------------------------

    def handle_request(self, request: SipRequest, txn: ServerTransaction) -> None:
        self.requests.handle(request, txn)

    def notify_catalog(self, event: str, channels: Sequence[ChannelPlan]) -> asyncio.Future[int]:
        """See :meth:`DeviceRequests.notify_catalog`."""
        return self.requests.notify_catalog(event, channels)
