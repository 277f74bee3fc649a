"""Reading back a fragmented MP4 file: init segment, then whole ``moof`` + ``mdat`` pairs.

Used to index a segment file a crash left without its index row (DESIGN §6): the file is
``ftyp`` + ``moov`` followed by fragments, and everything after the last *whole* fragment —
a ``moof`` whose ``mdat`` is complete — is a torn tail (boxes per ISO/IEC 14496-12 §4.2;
each fragment is read by ``fragment_reader.parse_fragment``). The codec configuration is
read from the ``avcC`` (ISO/IEC 14496-15 §5.3.3.1) or ``hvcC`` (§8.3.3.1) of the sample
entry. Untrusted input raises only ParseError.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.box_reader import BoxSpan, read_boxes
from vigil.protocols.fmp4.fragment_reader import parse_fragment
from vigil.protocols.h264 import sps as h264_sps
from vigil.protocols.h265 import sps as h265_sps
from vigil.protocols.samples import ParameterSets

_SKIPPABLE = frozenset({b"free", b"skip", b"styp", b"sidx", b"prft", b"emsg"})


@dataclass(frozen=True, slots=True)
class ScannedFragment:
    offset_bytes: int  # of the moof, from the start of the file
    size_bytes: int  # moof + mdat
    decode_time_90k: int
    duration_90k: int
    sample_count: int
    starts_with_key: bool


@dataclass(frozen=True, slots=True)
class FileScan:
    init_size_bytes: int  # ftyp + moov
    fragments: tuple[ScannedFragment, ...]
    whole_bytes: int  # end of the last whole fragment (or of the init segment)


def _boxes(data: bytes | memoryview, start: int, end: int) -> list[BoxSpan]:
    """The complete child boxes in data[start:end]; stops at a torn one."""
    return read_boxes(data, start, end, stop_at_torn=True)


def _child(data: bytes | memoryview, start: int, end: int, kind: bytes) -> tuple[int, int]:
    for child, _box_start, payload, box_end in _boxes(data, start, end):
        if child == kind:
            return payload, box_end
    raise ParseError(f"missing {kind.decode(errors='replace')} box")


def scan_file(data: bytes | memoryview) -> FileScan:
    """The init segment and the whole fragments of a (possibly torn) fMP4 file."""
    boxes = _boxes(data, 0, len(data))
    if len(boxes) < 2 or boxes[0][0] != b"ftyp" or boxes[1][0] != b"moov":
        raise ParseError("the file does not start with ftyp + moov")
    init_size = boxes[1][3]
    fragments: list[ScannedFragment] = []
    whole = init_size
    index = 2
    while index < len(boxes):
        kind, start, _payload, end = boxes[index]
        if kind in _SKIPPABLE:
            index += 1
            whole = end
            continue
        if kind != b"moof" or index + 1 >= len(boxes) or boxes[index + 1][0] != b"mdat":
            break
        mdat_end = boxes[index + 1][3]
        try:
            parsed = parse_fragment(bytes(data[start:mdat_end]))
        except ParseError:
            break  # what follows a damaged fragment cannot be trusted: treat it as torn
        fragments.append(
            ScannedFragment(
                offset_bytes=start,
                size_bytes=mdat_end - start,
                decode_time_90k=parsed.decode_time_90k,
                duration_90k=parsed.duration_90k,
                sample_count=len(parsed.samples),
                starts_with_key=parsed.samples[0].is_key if parsed.samples else False,
            )
        )
        whole = mdat_end
        index += 2
    return FileScan(init_size, tuple(fragments), whole)


def init_parameter_sets(init: bytes | memoryview) -> ParameterSets:
    """The decoder configuration of the first video sample entry of an init segment."""
    boxes = _boxes(init, 0, len(init))
    moov = next(((p, e) for kind, _s, p, e in boxes if kind == b"moov"), None)
    if moov is None:
        raise ParseError("no moov")
    trak = _child(init, *moov, b"trak")
    mdia = _child(init, *trak, b"mdia")
    minf = _child(init, *mdia, b"minf")
    stbl = _child(init, *minf, b"stbl")
    stsd_start, stsd_end = _child(init, *stbl, b"stsd")
    for kind, _s, payload, end in _boxes(init, stsd_start + 8, stsd_end):
        entry_children = payload + 78  # VisualSampleEntry fields (§12.1.3)
        if kind in (b"avc1", b"avc3"):
            c_start, c_end = _child(init, entry_children, end, b"avcC")
            return _avcc_parameter_sets(bytes(init[c_start:c_end]))
        if kind in (b"hvc1", b"hev1"):
            c_start, c_end = _child(init, entry_children, end, b"hvcC")
            return _hvcc_parameter_sets(bytes(init[c_start:c_end]))
    raise ParseError("no avc1/hvc1 sample entry")


def _avcc_parameter_sets(record: bytes) -> ParameterSets:
    if len(record) < 7:
        raise ParseError("truncated avcC")
    pos = 6
    (sps_len,) = struct.unpack_from("!H", record, pos)
    sps = record[pos + 2 : pos + 2 + sps_len]
    pos += 2 + sps_len
    if pos + 3 > len(record):
        raise ParseError("truncated avcC")
    (pps_len,) = struct.unpack_from("!H", record, pos + 1)
    pps = record[pos + 3 : pos + 3 + pps_len]
    if len(sps) != sps_len or len(pps) != pps_len:
        raise ParseError("truncated avcC")
    return h264_sps.parameter_sets(sps, pps)


def _hvcc_parameter_sets(record: bytes) -> ParameterSets:
    if len(record) < 23:
        raise ParseError("truncated hvcC")
    nals: dict[int, bytes] = {}
    pos = 23
    for _ in range(record[22]):
        if pos + 3 > len(record):
            raise ParseError("truncated hvcC")
        nal_type = record[pos] & 0x3F
        (count,) = struct.unpack_from("!H", record, pos + 1)
        pos += 3
        for _ in range(count):
            if pos + 2 > len(record):
                raise ParseError("truncated hvcC")
            (length,) = struct.unpack_from("!H", record, pos)
            nals.setdefault(nal_type, record[pos + 2 : pos + 2 + length])
            pos += 2 + length
    if not {32, 33, 34} <= nals.keys():
        raise ParseError("hvcC without VPS, SPS and PPS")
    return h265_sps.parameter_sets(nals[32], nals[33], nals[34])
