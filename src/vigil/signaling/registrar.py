"""REGISTER handling (GB/T 28181-2016 §9.1, J.1-J.3; RFC 3261 §10.3; RFC 2617 digest).

Checks, in order: a readable From user and an Expires (header, or the Contact's ``expires``
parameter) — else 400 "Missing Expires" as WVP answers; a 20-digit ID — else 403; a source
not locked out for failed digests — else 403 without checking; a known device (the table,
then the database, then the ``unknown_devices`` policy: ``refuse`` → 403, ``pending`` →
admitted with status pending once its digest is right); not disabled — else 403.

Digest: the challenge carries the configured realm, a stateless nonce bound to the Call-ID
(:mod:`.nonces`) and ``qop="auth"``; answers with and without qop are accepted. The password
is the device's own or the platform default. A wrong answer is 403 "wrong password" and
counts towards the source's lockout; when the cached password is older than
``PASSWORD_RECHECK_S`` it is re-read from the database first (it may just have been changed).

Refresh vs new registration (the choice made here): a REGISTER whose Call-ID is the stored
one is a refresh. It is answered 200 without a new challenge when its Authorization answers
a still-valid nonce issued for that Call-ID with a higher CSeq than the last accepted one;
a refresh without Authorization gets a 401 like any request (WVP accepts those unchallenged,
which lets anyone who saw the Call-ID move the device's address). A new Call-ID is a new
registration (the device rebooted): catalog and DeviceInfo are read again.

``Expires: 0`` unregisters (J.3): the device and its channels go offline. The final 200 OK
carries ``Date`` (local time ``yyyy-MM-ddTHH:mm:ss.SSS``, §9.1 time sync), ``Expires`` and
the device's Contact.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from vigil.protocols.errors import ParseError, StateError
from vigil.protocols.sip.digest import DigestChallenge, DigestCredentials
from vigil.protocols.sip.events import RequestReceived
from vigil.protocols.sip.message import SipResponse
from vigil.protocols.sip.transaction import Address, ServerTransaction
from vigil.registry.device_presence import Arrival, KnownDevice
from vigil.settings import SipSettings
from vigil.signaling.auth_throttle import AuthThrottle
from vigil.signaling.counters import SignalingCounters
from vigil.signaling.device_directory import DeviceDirectory
from vigil.signaling.devices import DeviceState, DeviceTable
from vigil.signaling.nonces import NonceIssuer, NonceVerdict
from vigil.signaling.presence import PresenceTracker, format_address
from vigil.signaling.register_fields import contact_address, gb_date, requested_expires
from vigil.signaling.stateless_request import scan_request, stateless_answer

logger = logging.getLogger(__name__)

PASSWORD_RECHECK_S = 30.0
UNKNOWN_RECHECK_S = 10.0  # an unknown ID is looked up again in the database after this
MAX_UNKNOWN_REMEMBERED = 10_000

Respond = Callable[[ServerTransaction, SipResponse], None]


class Registrar:
    def __init__(
        self,
        settings: SipSettings,
        directory: DeviceDirectory,
        table: DeviceTable,
        presence: PresenceTracker,
        counters: SignalingCounters,
        respond: Respond,
        now: Callable[[], float],
        *,
        throttle: AuthThrottle,
        nonces: NonceIssuer,
    ) -> None:
        self._settings = settings
        self._directory = directory
        self._table = table
        self._presence = presence
        self._counters = counters
        self._respond = respond
        self._now = now
        self.throttle = throttle
        self.nonces = nonces
        self._unknown: OrderedDict[str, float] = OrderedDict()

    # ---- responses -------------------------------------------------------------------

    def _answer(
        self,
        event: RequestReceived,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        txn = event.transaction
        if txn is None or txn.terminated:
            return
        try:
            self._respond(txn, txn.create_response(status, reason, headers=headers or []))
        except StateError:
            logger.debug("REGISTER transaction ended before it was answered")

    def _reject(self, event: RequestReceived, status: int, reason: str) -> None:
        self._counters.registrations_rejected += 1
        self._answer(event, status, reason)

    def _challenge(self, event: RequestReceived, *, stale: bool = False) -> None:
        self._counters.auth_challenges += 1
        challenge = self._challenge_header(event.request.call_id, stale=stale)
        self._answer(event, 401, None, [("WWW-Authenticate", challenge)])

    # ---- stateless challenge ---------------------------------------------------------

    def challenge_stateless(
        self, data: bytes, addr: Address, reliable: bool
    ) -> tuple[str, bytes, Address] | None:
        """Answer a first REGISTER (no Authorization) with a 401 without a transaction: half
        the REGISTERs of a registration storm, and no state kept for unauthenticated
        requests. Unknown devices are challenged too under the "pending" policy (they are
        looked up once authenticated). (device ID, response, destination), or ``None``: the
        general path decides (unknown or disabled device, lockout, missing Expires, an
        unusual message)."""
        request = scan_request(data, b"REGISTER")
        if request is None or "authorization" in request.fields:
            return None
        device_id = request.from_user
        expires = request.fields.get("expires", b"")
        call_id = request.fields["call-id"]
        if device_id is None or len(device_id) != 20 or not device_id.isdigit():
            return None
        if not expires.isdigit() or not call_id.isascii():
            return None
        state = self._table.get(device_id)
        if state is None and self._settings.unknown_devices != "pending":
            return None  # refused or not, after a look-up: the general path
        if state is not None and state.status == "disabled":
            return None
        if self.throttle.locked(addr[0], self._now()):
            return None
        self._counters.auth_challenges += 1
        challenge = self._challenge_header(request.call_id, stale=False)
        answer = stateless_answer(
            request, 401, b"Unauthorized", addr, reliable,
            (b"WWW-Authenticate: " + challenge.encode("ascii"),),
        )  # fmt: skip
        return None if answer is None else (device_id, *answer)

    def _challenge_header(self, call_id: str, *, stale: bool) -> str:
        return DigestChallenge(
            realm=self._settings.realm or self._settings.domain,
            nonce=self.nonces.issue(call_id, time.time()),
            algorithm="MD5",
            qop=("auth",) if self._settings.digest_qop else (),
            stale=stale,
        ).serialize()

    # ---- entry point -----------------------------------------------------------------

    def handle(self, event: RequestReceived) -> None:
        request = event.request
        try:
            device_id = request.from_addr.sip_uri.user or ""
            expires = requested_expires(request)
        except ParseError as exc:
            self._reject(event, 400, f"Bad Request ({exc})"[:120])
            return
        if expires is None:
            self._reject(event, 400, "Missing Expires")
            return
        if len(device_id) != 20 or not device_id.isascii() or not device_id.isdigit():
            self._reject(event, 403, "Device ID must be 20 digits")
            return
        if self.throttle.locked(event.addr[0], self._now()):
            self._counters.auth_rate_limited += 1
            self._answer(event, 403, "Too many failed attempts")
            return
        state = self._table.get(device_id)
        if state is not None:
            self._authenticate(event, device_id, expires, state)
            return
        seen = self._unknown.get(device_id)
        if seen is not None and self._now() - seen < UNKNOWN_RECHECK_S:
            self._unknown_device(event, device_id, expires)
            return
        future = self._directory.lookup(device_id)
        if future is None:
            self._overloaded(event)
            return

        def looked_up(done: asyncio.Future[KnownDevice | None]) -> None:
            if done.cancelled() or done.exception() is not None:
                self._overloaded(event)
                return
            known = done.result()
            if known is None:
                self._remember_unknown(device_id)
                self._unknown_device(event, device_id, expires)
                return
            try:
                current = self._table.add(self._state_of(known))
            except ValueError:
                self._overloaded(event)
                return
            self._authenticate(event, device_id, expires, current)

        future.add_done_callback(looked_up)

    def forget_unknown(self, device_id: str) -> None:
        """The device was just created: look it up at its next REGISTER."""
        self._unknown.pop(device_id, None)

    def _overloaded(self, event: RequestReceived) -> None:
        self._counters.overloaded += 1
        self._answer(event, 503, None, [("Retry-After", "30")])

    def _state_of(self, known: KnownDevice) -> DeviceState:
        return DeviceState(
            known.id, status=known.status, password=known.sip_password, loaded_at=self._now()
        )

    def _remember_unknown(self, device_id: str) -> None:
        self._unknown[device_id] = self._now()
        self._unknown.move_to_end(device_id)
        if len(self._unknown) > MAX_UNKNOWN_REMEMBERED:
            self._unknown.popitem(last=False)

    def _unknown_device(self, event: RequestReceived, device_id: str, expires: int) -> None:
        if self._settings.unknown_devices == "refuse":
            self._reject(event, 403, "Unknown device")
            return
        self._authenticate(event, device_id, expires, None)

    # ---- digest ----------------------------------------------------------------------

    def _authenticate(
        self,
        event: RequestReceived,
        device_id: str,
        expires: int,
        state: DeviceState | None,
        *,
        rechecked: bool = False,
    ) -> None:
        request = event.request
        if state is not None and state.status == "disabled":
            self._reject(event, 403, "Device disabled")
            return
        header = request.headers.get("Authorization")
        if header is None:
            self._challenge(event)
            return
        try:
            credentials = DigestCredentials.parse(header)
            call_id, cseq = request.call_id, request.cseq.number
        except ParseError:
            self._challenge(event)
            return
        realm = self._settings.realm or self._settings.domain
        if credentials.realm != realm:
            self._challenge(event)
            return
        verdict = self.nonces.check(credentials.nonce, call_id, time.time())
        if verdict is not NonceVerdict.VALID:
            self._challenge(event, stale=verdict is NonceVerdict.STALE)
            return
        replayed = (
            state is not None
            and state.call_id == call_id
            and state.last_nonce == credentials.nonce
            and cseq <= state.last_cseq
        )
        if replayed:
            self._challenge(event)
            return
        password = (state.password if state is not None else "") or self._settings.password
        if credentials.verify("REGISTER", password):
            self.throttle.success(event.addr[0], self._now())
            self._accepted(event, device_id, expires, state, credentials.nonce)
            return
        stale = state is not None and self._now() - state.password_loaded_at > PASSWORD_RECHECK_S
        if state is not None and stale and not rechecked:
            self._recheck(event, device_id, expires, state)
            return
        self._counters.auth_failures += 1
        if self.throttle.failure(event.addr[0], self._now()):
            logger.warning("locking out %s after repeated digest failures", event.addr[0])
        self._answer(event, 403, "wrong password")

    def _recheck(
        self, event: RequestReceived, device_id: str, expires: int, state: DeviceState
    ) -> None:
        future = self._directory.lookup(device_id)
        if future is None:
            self._overloaded(event)
            return

        def reread(done: asyncio.Future[KnownDevice | None]) -> None:
            state.password_loaded_at = self._now()
            if not done.cancelled() and done.exception() is None:
                known = done.result()
                if known is not None:
                    state.password, state.status = known.sip_password, known.status
            self._authenticate(event, device_id, expires, state, rechecked=True)

        future.add_done_callback(reread)

    # ---- accepted --------------------------------------------------------------------

    def _accepted(
        self,
        event: RequestReceived,
        device_id: str,
        expires: int,
        state: DeviceState | None,
        nonce: str,
    ) -> None:
        if state is None:
            self._admit(event, device_id, expires, nonce)
            return
        request = event.request
        date = [("Date", gb_date())] if self._settings.send_date_header else []
        if expires == 0:
            self._answer(event, 200, None, [*date, ("Expires", "0")])
            self._presence.offline(state, "unregistered", unregister=True)
            return
        headers = [("Expires", str(expires)), *date]
        contact = request.headers.get("Contact")
        if contact is not None:
            headers.insert(0, ("Contact", contact))
        self._answer(event, 200, None, headers)
        self._presence.registered(
            state,
            self._now(),
            addr=event.addr,
            reliable=event.reliable,
            contact=contact_address(request) if event.reliable else None,
            call_id=request.call_id,
            cseq=request.cseq.number,
            nonce=nonce,
            expires_s=expires,
        )

    def _admit(self, event: RequestReceived, device_id: str, expires: int, nonce: str) -> None:
        """An unknown device answered the default password: park it as pending."""
        if expires == 0:
            self._answer(event, 200, None, [("Expires", "0")])
            return
        if self._table.full:
            self._overloaded(event)
            return
        transport = "tcp" if event.reliable else "udp"
        arrival = Arrival(device_id, transport, format_address(event.addr))
        future = self._directory.admit(arrival)
        if future is None:
            self._overloaded(event)
            return

        def admitted(done: asyncio.Future[KnownDevice | None]) -> None:
            if done.cancelled() or done.exception() is not None:
                self._overloaded(event)
                return
            known = done.result()
            if known is None:
                self._reject(event, 403, "Device not admitted")
                return
            self._unknown.pop(device_id, None)
            try:
                state = self._table.add(self._state_of(known))
            except ValueError:
                self._overloaded(event)
                return
            logger.info("unknown device %s admitted as pending", device_id)
            self._accepted(event, device_id, expires, state, nonce)

        future.add_done_callback(admitted)
