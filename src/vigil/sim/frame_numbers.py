"""Numbered frames: each access unit the simulator sends can carry its stream's SSRC and its
frame number, so whatever a receiver kept (a recording, an export) can be matched frame for
frame with what was sent, in frames rather than in wall time (``vigil sim --frame-numbers``).

The number travels in a "user data unregistered" SEI message (H.264 §D.1.6 / H.265 §D.2.6,
payload type 5): a 16-byte identifier, then ``SSRC:INDEX`` in ASCII digits. ASCII keeps the
payload free of ``00 00`` runs, so no emulation prevention byte is ever needed and the bytes
read back from a file are the bytes written. The SEI goes right before the picture's first
slice (§7.4.1.2.3: SEI precedes the primary coded picture), after any SPS/PPS, so receivers
split access units exactly as without it.
"""

from __future__ import annotations

from vigil.protocols.h264 import annexb as h264_annexb
from vigil.protocols.h265 import annexb as h265_annexb
from vigil.protocols.samples import Codec

__all__ = ["FRAME_NUMBER_UUID", "number_frame", "read_frame_number"]

FRAME_NUMBER_UUID = b"VigilSimFrameNo!"  # 16 bytes, no zero byte
_PAYLOAD_TYPE_USER_DATA_UNREGISTERED = 5
_RBSP_TRAILING = b"\x80"
_H264_SEI_HEADER = bytes((h264_annexb.NAL_SEI,))
_H265_PREFIX_SEI_HEADER = bytes((h265_annexb.NAL_PREFIX_SEI << 1, 1))  # layer 0, TemporalId 0


def _sei_nal(codec: Codec, ssrc: int, index: int) -> bytes:
    payload = FRAME_NUMBER_UUID + f"{ssrc}:{index}".encode("ascii")
    header = _H265_PREFIX_SEI_HEADER if codec is Codec.H265 else _H264_SEI_HEADER
    message = bytes((_PAYLOAD_TYPE_USER_DATA_UNREGISTERED, len(payload))) + payload
    return header + message + _RBSP_TRAILING


def _is_vcl(codec: Codec, nal: bytes) -> bool:
    if codec is Codec.H265:
        return h265_annexb.nal_type(nal) < 32  # §7.4.2.2: types 0-31 are slices
    return 1 <= h264_annexb.nal_type(nal) <= 5


def number_frame(data: bytes, codec: Codec, ssrc: int, index: int) -> bytes:
    """The Annex-B access unit ``data`` with its number SEI before its first slice."""
    nals = h264_annexb.split_nal_units(data)  # start codes are the same in H.265
    first_slice = next((i for i, nal in enumerate(nals) if _is_vcl(codec, nal)), len(nals))
    nals.insert(first_slice, _sei_nal(codec, ssrc, index))
    return h264_annexb.join_annexb(nals)


def read_frame_number(data: bytes) -> tuple[int, int] | None:
    """``(ssrc, index)`` of the last numbered frame in ``data`` (Annex-B or length-prefixed
    samples, a whole fragment or file), or None if it holds none."""
    at = data.rfind(FRAME_NUMBER_UUID)
    if at < 1:
        return None
    size = data[at - 1]  # the SEI payload size byte comes just before the identifier
    text = data[at + len(FRAME_NUMBER_UUID) : at + size]
    ssrc, colon, index = text.partition(b":")
    if not colon or not ssrc.isdigit() or not index.isdigit():
        return None
    return int(ssrc), int(index)
