"""The initialisation segment: ``ftyp`` + ``moov`` for one video track (ISO/IEC 14496-12).

Sample tables are empty (§8.8.1: samples live in movie fragments); ``mvex/trex`` announces
fragments. The sample entry is ``avc1`` + ``avcC`` (ISO/IEC 14496-15 §5.3.3.1) or ``hvc1`` +
``hvcC`` (§8.3.3.1) built from the parameter sets. Timescale 90 000: media time is the
90 kHz clock of RTP and MPEG-PS, so no conversion happens anywhere.
"""

from __future__ import annotations

import struct

from vigil.protocols.fmp4.boxes import UNITY_MATRIX, box, full_box
from vigil.protocols.samples import Codec, ParameterSets

TIMESCALE = 90000
TRACK_ID = 1
_H264_HIGH = frozenset({100, 110, 122, 144})


def avcc(params: ParameterSets) -> bytes:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1.2), 4-byte NAL lengths."""
    profile, compat, level = params.profile_tier_level[:3]
    record = bytearray((1, profile, compat, level, 0xFF, 0xE1))
    record += struct.pack("!H", len(params.sps)) + params.sps
    record += b"\x01" + struct.pack("!H", len(params.pps)) + params.pps
    if profile in _H264_HIGH:
        record += bytes(
            (
                0xFC | params.chroma_format_idc,
                0xF8 | (params.bit_depth_luma - 8),
                0xF8 | (params.bit_depth_chroma - 8),
                0,  # numOfSequenceParameterSetExt
            )
        )
    return box(b"avcC", record)


def hvcc(params: ParameterSets) -> bytes:
    """HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1.2), 4-byte NAL lengths."""
    ptl = params.profile_tier_level
    record = bytearray((1,)) + ptl
    record += struct.pack(
        "!HBBBBHB",
        0xF000,  # reserved + min_spatial_segmentation_idc 0
        0xFC,  # reserved + parallelismType 0 (unknown)
        0xFC | params.chroma_format_idc,
        0xF8 | (params.bit_depth_luma - 8),
        0xF8 | (params.bit_depth_chroma - 8),
        0,  # avgFrameRate unknown
        (params.max_sub_layers << 3) | (params.temporal_id_nesting << 2) | 0x03,
    )
    arrays = [(32, params.vps or b""), (33, params.sps), (34, params.pps)]
    record.append(len(arrays))
    for nal_type, nal in arrays:
        record += bytes((0x80 | nal_type,)) + struct.pack("!HH", 1, len(nal)) + nal
    return box(b"hvcC", record)


def _sample_entry(params: ParameterSets) -> bytes:
    """VisualSampleEntry (§12.1.3) with its codec configuration box."""
    config = hvcc(params) if params.codec is Codec.H265 else avcc(params)
    kind = b"hvc1" if params.codec is Codec.H265 else b"avc1"
    body = b"".join(
        (
            bytes(6),
            struct.pack("!H", 1),  # data_reference_index
            bytes(16),  # pre_defined, reserved
            struct.pack("!HH", params.width, params.height),
            struct.pack("!II", 0x00480000, 0x00480000),  # 72 dpi
            bytes(4),
            struct.pack("!H", 1),  # frame_count
            bytes(32),  # compressorname
            struct.pack("!Hh", 0x0018, -1),  # depth, pre_defined
            config,
        )
    )
    return box(kind, body)


def init_segment(params: ParameterSets, *, track_id: int = TRACK_ID) -> bytes:
    """``ftyp`` + ``moov`` for a fragmented video track described by ``params``."""
    ftyp = box(b"ftyp", b"isom", struct.pack("!I", 0x200), b"isomiso6mp41")
    mvhd = full_box(
        b"mvhd", 0, 0,
        struct.pack("!IIII", 0, 0, TIMESCALE, 0),  # times, timescale, duration
        struct.pack("!IH", 0x00010000, 0x0100), bytes(10),  # rate, volume, reserved
        UNITY_MATRIX, bytes(24), struct.pack("!I", track_id + 1),
    )  # fmt: skip
    tkhd = full_box(
        b"tkhd", 0, 0x000003,  # enabled, in movie
        struct.pack("!IIIII", 0, 0, track_id, 0, 0), bytes(8),
        struct.pack("!hhhH", 0, 0, 0, 0), UNITY_MATRIX,
        struct.pack("!II", params.width << 16, params.height << 16),
    )  # fmt: skip
    mdhd = full_box(b"mdhd", 0, 0, struct.pack("!IIIIHH", 0, 0, TIMESCALE, 0, 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    vmhd = full_box(b"vmhd", 0, 1, bytes(8))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack("!I", 1), full_box(b"url ", 0, 1)))
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack("!I", 1), _sample_entry(params)),
        full_box(b"stts", 0, 0, bytes(4)),
        full_box(b"stsc", 0, 0, bytes(4)),
        full_box(b"stsz", 0, 0, bytes(8)),
        full_box(b"stco", 0, 0, bytes(4)),
    )
    minf = box(b"minf", vmhd, dinf, stbl)
    mdia = box(b"mdia", mdhd, hdlr, minf)
    trak = box(b"trak", tkhd, mdia)
    trex = full_box(b"trex", 0, 0, struct.pack("!IIIII", track_id, 1, 0, 0, 0))
    mvex = box(b"mvex", trex)
    return ftyp + box(b"moov", mvhd, trak, mvex)
