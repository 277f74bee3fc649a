"""GB/T 28181 SSRC values: the SDP ``y=`` decimal string ⇄ the RTP SSRC field.

GB/T 28181-2016 Appendix F note 4: ``y=`` is 10 decimal digits — digit 1 is ``0`` (live) or
``1`` (history), digits 2-6 are digits 4-8 of the SIP domain ID, digits 7-10 a stream
number. On the wire the SSRC is the integer value of that string (``0200000001`` →
``0x0BEBC201``). Vendor quirks: some devices pad or shorten ``y=`` (``0000630886``), so
parsing accepts 1-10 digits; ZLMediaKit names streams by the SSRC in upper-case hex.
"""

from __future__ import annotations

from vigil.protocols.errors import ParseError

MAX_SSRC = 0xFFFFFFFF


def parse_y(text: str) -> int:
    """SSRC from a ``y=`` value (1-10 decimal digits, value ≤ 2**32-1)."""
    value = text.strip()
    if not (1 <= len(value) <= 10 and value.isascii() and value.isdigit()):
        raise ParseError(f"y= value {text!r} is not 1-10 decimal digits")
    ssrc = int(value)
    if ssrc > MAX_SSRC:
        raise ParseError(f"y= value {text!r} exceeds 32 bits")
    return ssrc


def format_y(ssrc: int) -> str:
    """The 10-digit ``y=`` form of an SSRC."""
    if not 0 <= ssrc <= MAX_SSRC:
        raise ValueError("SSRC out of range")
    return f"{ssrc:010d}"


def make_ssrc(domain_id: str, stream_number: int, *, history: bool = False) -> int:
    """Compose the SSRC for a stream of the given SIP domain ID (Appendix F note 4)."""
    if len(domain_id) < 8 or not domain_id[:8].isdigit():
        raise ValueError("domain ID needs at least 8 leading digits")
    if not 0 <= stream_number <= 9999:
        raise ValueError("stream number must be 0-9999")
    return int(f"{1 if history else 0}{domain_id[3:8]}{stream_number:04d}")


def stream_name(ssrc: int) -> str:
    """Upper-case 8-digit hex, as ZLMediaKit names streams on its shared RTP port."""
    return f"{ssrc & MAX_SSRC:08X}"
