"""RFC 2617 digest with the GB/T 28181 registration vector (implementation notes §2.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.protocols.errors import ParseError
from vigil.protocols.sip.digest import (
    DigestChallenge,
    DigestCredentials,
    answer_challenge,
    compute_ha1,
    compute_ha2,
    compute_response,
    make_nonce,
)
from vigil.protocols.sip.message import SipRequest, SipResponse

DATA = Path(__file__).parent / "data"
DEVICE = "34020000001320000001"
REALM = "3402000000"
PASSWORD = "12345678"
NONCE = "6fe9ba44a76be22a"
URI = "sip:34020000002000000001@3402000000"
HA1 = "8258341d7dd730ce4d3b8fd2db050320"
HA2 = "95fced343cf76247d3e2102931f17507"
RESPONSE_NO_QOP = "6a2143ae65b119e276a75f0a4a8992b7"
RESPONSE_QOP = "fb6d2f768312116118c121c2608cf961"


def test_hashes_match_the_vector() -> None:
    assert compute_ha1(DEVICE, REALM, PASSWORD) == HA1
    assert compute_ha2("REGISTER", URI) == HA2
    assert compute_response(HA1, NONCE, HA2) == RESPONSE_NO_QOP
    assert (
        compute_response(HA1, NONCE, HA2, qop="auth", nc="00000001", cnonce="0a4f113b")
        == RESPONSE_QOP
    )


def test_register_exchange_verifies() -> None:
    challenge_header = SipResponse.parse((DATA / "register_401.sip").read_bytes()).headers.get(
        "WWW-Authenticate"
    )
    challenge = DigestChallenge.parse(challenge_header or "")
    assert challenge == DigestChallenge(realm=REALM, nonce=NONCE, algorithm="MD5")
    assert challenge.serialize() == challenge_header

    request = SipRequest.parse((DATA / "register_authenticated.sip").read_bytes())
    header = request.headers.get("Authorization") or ""
    credentials = DigestCredentials.parse(header)
    assert credentials.username == DEVICE
    assert credentials.uri == URI
    assert credentials.response == RESPONSE_NO_QOP
    assert credentials.verify("REGISTER", PASSWORD)
    assert credentials.verify_ha1("REGISTER", HA1)
    assert not credentials.verify("REGISTER", "wrong")
    assert not credentials.verify("INVITE", PASSWORD)
    assert credentials.serialize() == header

    answered = answer_challenge(
        challenge, method="REGISTER", uri=URI, username=DEVICE, password=PASSWORD
    )
    assert answered.serialize() == header


def test_qop_auth_round_trip() -> None:
    challenge = DigestChallenge(realm=REALM, nonce=NONCE, qop=("auth",))
    assert challenge.serialize().endswith('algorithm=MD5, qop="auth"')
    assert DigestChallenge.parse(challenge.serialize()).qop == ("auth",)
    credentials = answer_challenge(
        challenge, method="REGISTER", uri=URI, username=DEVICE, password=PASSWORD,
        cnonce="0a4f113b",
    )  # fmt: skip
    assert credentials.response == RESPONSE_QOP
    assert (credentials.qop, credentials.nc) == ("auth", "00000001")
    parsed = DigestCredentials.parse(credentials.serialize())
    assert parsed == credentials
    assert parsed.verify("REGISTER", PASSWORD)


def test_quoted_values_with_commas_and_escapes() -> None:
    header = (
        'Digest username="a\\"b", realm="x, y", nonce="n", uri="sip:a@b", '
        'response="00", opaque="o,p"'
    )
    credentials = DigestCredentials.parse(header)
    assert credentials.username == 'a"b'
    assert credentials.realm == "x, y"
    assert credentials.opaque == "o,p"
    assert DigestCredentials.parse(credentials.serialize()) == credentials


def test_other_algorithms_and_qops_do_not_verify() -> None:
    good = DigestCredentials.parse(
        SipRequest.parse((DATA / "register_authenticated.sip").read_bytes()).headers.get(
            "Authorization") or ""
    )  # fmt: skip
    sha = DigestCredentials(**{**_fields(good), "algorithm": "SHA-256"})
    assert not sha.verify("REGISTER", PASSWORD)
    auth_int = DigestCredentials(**{**_fields(good), "qop": "auth-int", "nc": "1", "cnonce": "c"})
    assert not auth_int.verify("REGISTER", PASSWORD)


def _fields(credentials: DigestCredentials) -> dict[str, str | None]:
    return {name: getattr(credentials, name) for name in credentials.__dataclass_fields__}


@pytest.mark.parametrize(
    "header",
    [
        "Basic abc",
        "Digest",
        'Digest realm="x"',
        'Digest username="a", realm="r", nonce="n", uri="u"',
        'Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth',
        'Digest username="a, realm="r"',
        "Digest novalue",
        "Digest " + ", ".join(f"p{i}=1" for i in range(40)),
    ],
)
def test_malformed_credentials(header: str) -> None:
    with pytest.raises(ParseError):
        DigestCredentials.parse(header)


def test_make_nonce_uses_caller_randomness() -> None:
    assert make_nonce(bytes(range(8))) == "0001020304050607"
    with pytest.raises(ValueError, match="8 random bytes"):
        make_nonce(b"123")
