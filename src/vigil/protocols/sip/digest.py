"""HTTP Digest authentication for SIP, MD5 (RFC 2617 §3.2, as used by RFC 3261 §22.4).

GB/T 28181-2016 §9.1 registers devices with it. The server offers ``qop="auth"`` or nothing;
devices answer with or without qop and both are accepted. The ``uri`` the client put in its
Authorization header is used verbatim. Nonces are the caller's: :func:`make_nonce` turns
caller-supplied random bytes into one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.headers import quote, unquote
from vigil.protocols.sip.params import split_outside_quotes

MAX_DIGEST_CHARS = 4096
MAX_DIGEST_PARAMS = 24


def _md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()


def compute_ha1(username: str, realm: str, password: str) -> str:
    """HA1 = MD5(username:realm:password) (RFC 2617 §3.2.2.2, algorithm MD5)."""
    return _md5_hex(f"{username}:{realm}:{password}")


def compute_ha2(method: str, uri: str) -> str:
    """HA2 = MD5(method:digest-uri) (RFC 2617 §3.2.2.3, qop absent or ``auth``)."""
    return _md5_hex(f"{method}:{uri}")


def compute_response(
    ha1: str, nonce: str, ha2: str, *, qop: str | None = None, nc: str = "", cnonce: str = ""
) -> str:
    """request-digest (RFC 2617 §3.2.2.1): with ``qop=auth`` nc and cnonce are mixed in."""
    if qop:
        return _md5_hex(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5_hex(f"{ha1}:{nonce}:{ha2}")


def make_nonce(random_bytes: bytes) -> str:
    """A nonce from caller-supplied randomness (hex; at least 8 bytes)."""
    if len(random_bytes) < 8:
        raise ValueError("a nonce needs at least 8 random bytes")
    return random_bytes.hex()


def _parse_params(value: str, scheme_expected: str = "digest") -> dict[str, str]:
    if len(value) > MAX_DIGEST_CHARS:
        raise ParseError("digest header too long")
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != scheme_expected:
        raise ParseError(f"not a Digest header: {value[:30]!r}")
    pieces = [piece for piece in split_outside_quotes(rest, ",") if piece.strip()]
    if len(pieces) > MAX_DIGEST_PARAMS:
        raise ParseError("too many digest parameters")
    params: dict[str, str] = {}
    for piece in pieces:
        name, eq, raw = piece.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            raise ParseError(f"bad digest parameter {piece.strip()[:40]!r}")
        params[name] = unquote(raw)
    return params


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """``WWW-Authenticate: Digest realm=…, nonce=…`` (RFC 2617 §3.2.1)."""

    realm: str
    nonce: str
    algorithm: str | None = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, value: str) -> DigestChallenge:
        params = _parse_params(value)
        if "realm" not in params or "nonce" not in params:
            raise ParseError("digest challenge without realm or nonce")
        qop = tuple(item.strip() for item in params.get("qop", "").split(",") if item.strip())
        return cls(
            realm=params["realm"],
            nonce=params["nonce"],
            algorithm=params.get("algorithm"),
            qop=qop,
            opaque=params.get("opaque"),
            stale=params.get("stale", "").lower() == "true",
        )

    def serialize(self) -> str:
        parts = [f"realm={quote(self.realm)}", f"nonce={quote(self.nonce)}"]
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque)}")
        if self.stale:
            parts.append("stale=TRUE")
        if self.algorithm is not None:
            parts.append(f"algorithm={self.algorithm}")
        if self.qop:
            parts.append(f"qop={quote(','.join(self.qop))}")
        return "Digest " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """``Authorization: Digest username=…, response=…`` (RFC 2617 §3.2.2)."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None

    @classmethod
    def parse(cls, value: str) -> DigestCredentials:
        params = _parse_params(value)
        missing = [
            key for key in ("username", "realm", "nonce", "uri", "response") if key not in params
        ]
        if missing:
            raise ParseError(f"digest credentials without {', '.join(missing)}")
        qop = params.get("qop") or None
        if qop is not None and ("nc" not in params or "cnonce" not in params):
            raise ParseError("digest qop without nc or cnonce")
        return cls(
            username=params["username"],
            realm=params["realm"],
            nonce=params["nonce"],
            uri=params["uri"],
            response=params["response"],
            algorithm=params.get("algorithm"),
            qop=qop,
            nc=params.get("nc"),
            cnonce=params.get("cnonce"),
            opaque=params.get("opaque"),
        )

    def serialize(self) -> str:
        parts = [
            f"username={quote(self.username)}",
            f"realm={quote(self.realm)}",
            f"nonce={quote(self.nonce)}",
            f"uri={quote(self.uri)}",
            f"response={quote(self.response)}",
        ]
        if self.algorithm is not None:
            parts.append(f"algorithm={self.algorithm}")
        if self.qop is not None:
            parts.extend([f"qop={self.qop}", f"nc={self.nc}", f"cnonce={quote(self.cnonce or '')}"])
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque)}")
        return "Digest " + ", ".join(parts)

    def expected_response(self, method: str, ha1: str) -> str:
        return compute_response(
            ha1,
            self.nonce,
            compute_ha2(method, self.uri),
            qop=self.qop,
            nc=self.nc or "",
            cnonce=self.cnonce or "",
        )

    def verify_ha1(self, method: str, ha1: str) -> bool:
        """Check against a stored HA1 (constant-time compare). Only MD5 and qop auth."""
        if self.algorithm is not None and self.algorithm.upper() != "MD5":
            return False
        if self.qop is not None and self.qop.lower() != "auth":
            return False
        expected = self.expected_response(method, ha1)
        given = self.response.lower().encode("utf-8", "surrogateescape")
        return hmac.compare_digest(expected.encode("ascii"), given)

    def verify(self, method: str, password: str) -> bool:
        """Check the response for ``password`` using the username and realm the client sent."""
        return self.verify_ha1(method, compute_ha1(self.username, self.realm, password))


def answer_challenge(
    challenge: DigestChallenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str | None = None,
    nc: int = 1,
) -> DigestCredentials:
    """Credentials for a challenge (the device side). With a ``cnonce`` and a challenge that
    offers ``auth``, qop is used; otherwise the RFC 2069-compatible form."""
    ha1 = compute_ha1(username, challenge.realm, password)
    ha2 = compute_ha2(method, uri)
    use_qop = cnonce is not None and "auth" in challenge.qop
    nc_text = f"{nc:08x}"
    response = compute_response(
        ha1,
        challenge.nonce,
        ha2,
        qop="auth" if use_qop else None,
        nc=nc_text,
        cnonce=cnonce or "",
    )
    return DigestCredentials(
        username=username,
        realm=challenge.realm,
        nonce=challenge.nonce,
        uri=uri,
        response=response,
        algorithm=challenge.algorithm,
        qop="auth" if use_qop else None,
        nc=nc_text if use_qop else None,
        cnonce=cnonce if use_qop else None,
        opaque=challenge.opaque,
    )
