"""Bit-level reading for codec headers: fixed-width fields and Exp-Golomb codes.

ITU-T H.264 §7.2 / H.265 §7.2 (``u(n)``, ``ue(v)``, ``se(v)``) and §9.1 (Exp-Golomb). The
whole RBSP is held as one Python integer, so a read is a shift and a mask and finding the
leading zeros of an Exp-Golomb code is ``int.bit_length`` — no per-bit loop. Reading past the
end raises :class:`ParseError`; the input size is bounded.
"""

from __future__ import annotations

from vigil.protocols.errors import ParseError

MAX_RBSP_BYTES = 64 * 1024
MAX_EXP_GOLOMB_ZEROS = 31


class BitReader:
    """Reads big-endian bit fields from a bounded byte string."""

    __slots__ = ("_pos", "_total", "_value")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        if len(data) > MAX_RBSP_BYTES:
            raise ParseError(f"bit string of {len(data)} bytes exceeds {MAX_RBSP_BYTES}")
        self._value = int.from_bytes(data, "big")
        self._total = len(data) * 8
        self._pos = 0

    @property
    def bits_left(self) -> int:
        return self._total - self._pos

    def u(self, n: int) -> int:
        """``u(n)``: an unsigned n-bit field."""
        end = self._pos + n
        if end > self._total:
            raise ParseError("bit string overrun")
        self._pos = end
        return (self._value >> (self._total - end)) & ((1 << n) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def skip(self, n: int) -> None:
        if self._pos + n > self._total:
            raise ParseError("bit string overrun")
        self._pos += n

    def ue(self) -> int:
        """``ue(v)``: unsigned Exp-Golomb (H.264 §9.1), at most 31 leading zeros."""
        left = self._total - self._pos
        rest = self._value & ((1 << left) - 1)
        if rest == 0:
            raise ParseError("Exp-Golomb code overrun")
        zeros = left - rest.bit_length()
        if zeros > MAX_EXP_GOLOMB_ZEROS:
            raise ParseError("Exp-Golomb code too long")
        self._pos += zeros
        return self.u(zeros + 1) - 1

    def se(self) -> int:
        """``se(v)``: signed Exp-Golomb (H.264 §9.1.1)."""
        k = self.ue()
        return (k + 1) >> 1 if k & 1 else -(k >> 1)


def unescape_rbsp(nal: bytes | bytearray | memoryview) -> bytes:
    """Remove emulation-prevention bytes (H.264 §7.3.1 / H.265 §7.3.1.1).

    The spec's left-to-right scan drops the ``03`` of every ``00 00 03``; ``bytes.replace``
    performs exactly that non-overlapping left-to-right scan in C.
    """
    return bytes(nal).replace(b"\x00\x00\x03", b"\x00\x00")
