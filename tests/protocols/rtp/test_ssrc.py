"""GB/T 28181 SSRC helpers (Appendix F note 4, reference §11.4 vectors)."""

from __future__ import annotations

import pytest

from vigil.protocols.errors import ParseError
from vigil.protocols.rtp.ssrc import format_y, make_ssrc, parse_y, stream_name


def test_reference_vectors() -> None:
    assert parse_y("0200000001") == 200000001 == 0x0BEBC201
    assert parse_y("1200000001") == 0x47868C01
    assert stream_name(0x0BEBC201) == "0BEBC201"
    assert make_ssrc("34020000002000000001", 1) == 0x0BEBC201
    assert make_ssrc("34020000002000000001", 1, history=True) == 0x47868C01
    assert make_ssrc("13010000002000000001", 0) == int("0100000000")


def test_padded_and_short_values() -> None:
    assert parse_y("0000630886") == parse_y("630886") == 630886
    assert format_y(630886) == "0000630886"


@pytest.mark.parametrize("bad", ["", "abc", "12345678901", "4294967296", "１２３"])
def test_invalid(bad: str) -> None:
    with pytest.raises(ParseError):
        parse_y(bad)
