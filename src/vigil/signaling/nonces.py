"""Stateless digest nonces for REGISTER (GB/T 28181-2016 §9.1; RFC 2617 §3.2.1).

A nonce is ``<issue time, 8 hex digits><HMAC-SHA256(secret, time:Call-ID), 24 hex digits>``:
nothing is stored per challenge, a nonce answers only for the Call-ID it was issued to (a
captured REGISTER cannot be replayed under another Call-ID), and it expires after ``ttl_s``
(an expired but genuine nonce is answered with ``stale=TRUE``). The secret is per process:
after a restart devices are simply challenged again.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os

_TIME_DIGITS = 8
_MAC_DIGITS = 24


class NonceVerdict(enum.Enum):
    VALID = "valid"
    STALE = "stale"  # ours, for this Call-ID, but too old
    INVALID = "invalid"  # not ours, or for another Call-ID


class NonceIssuer:
    def __init__(self, ttl_s: float, *, secret: bytes | None = None) -> None:
        self.ttl_s = ttl_s
        self._secret = secret if secret is not None else os.urandom(32)

    def _mac(self, stamp: str, call_id: str) -> str:
        message = f"{stamp}:{call_id}".encode("utf-8", "surrogateescape")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:_MAC_DIGITS]

    def issue(self, call_id: str, wall_now: float) -> str:
        stamp = f"{int(wall_now) & 0xFFFFFFFF:08x}"
        return stamp + self._mac(stamp, call_id)

    def check(self, nonce: str, call_id: str, wall_now: float) -> NonceVerdict:
        if len(nonce) != _TIME_DIGITS + _MAC_DIGITS:
            return NonceVerdict.INVALID
        stamp, mac = nonce[:_TIME_DIGITS], nonce[_TIME_DIGITS:]
        if not hmac.compare_digest(
            mac.encode("ascii", "replace"), self._mac(stamp, call_id).encode()
        ):
            return NonceVerdict.INVALID
        try:
            issued = int(stamp, 16)
        except ValueError:
            return NonceVerdict.INVALID
        age = (int(wall_now) & 0xFFFFFFFF) - issued
        if age < -5 or age > self.ttl_s:
            return NonceVerdict.STALE
        return NonceVerdict.VALID
