"""H.264 sequence parameter set (ITU-T H.264 §7.3.2.1.1) → picture size and profile.

Parses up to ``frame_cropping`` (VUI is not needed for the media path). The frame size
follows §7.4.2.1.1: ``PicWidthInMbs * 16 - CropUnitX * (left + right)`` and the matching
height with ``FrameHeightInMbs = (2 - frame_mbs_only_flag) * PicHeightInMapUnits``.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.protocols.errors import ParseError
from vigil.protocols.h264.annexb import NAL_SPS
from vigil.protocols.media_bytes import BitReader, unescape_rbsp
from vigil.protocols.samples import Codec, ParameterSets

# Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices (§7.3.2.1.1).
HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
MAX_PIC_SIZE_MBS = 139264  # level 6.2 MaxFS (Table A-1)
MAX_SPS_BYTES = 4096


@dataclass(frozen=True, slots=True)
class H264Sps:
    profile_idc: int
    constraint_flags: int
    level_idc: int
    sps_id: int
    chroma_format_idc: int
    bit_depth_luma: int
    bit_depth_chroma: int
    frame_mbs_only: bool
    width: int
    height: int

    @property
    def codec_string(self) -> str:
        """RFC 6381 §3.3 ``avc1.PPCCLL``."""
        return f"avc1.{self.profile_idc:02x}{self.constraint_flags:02x}{self.level_idc:02x}"


def _skip_scaling_list(r: BitReader, size: int) -> None:
    """§7.3.2.1.1.1 scaling_list(): delta_scale values until nextScale becomes 0."""
    last = next_scale = 8
    for _ in range(size):
        if next_scale != 0:
            delta = r.se()
            if not -128 <= delta <= 127:
                raise ParseError("delta_scale out of range")
            next_scale = (last + delta + 256) % 256
        last = next_scale if next_scale != 0 else last


def parse_sps(nal: bytes | bytearray | memoryview) -> H264Sps:
    """Parse an SPS NAL unit (header byte included, emulation prevention still present)."""
    if len(nal) < 4 or nal[0] & 0x1F != NAL_SPS:
        raise ParseError("not an H.264 SPS NAL unit")
    if len(nal) > MAX_SPS_BYTES:
        raise ParseError("H.264 SPS too large")
    r = BitReader(unescape_rbsp(nal[1:]))
    profile_idc = r.u(8)
    constraint_flags = r.u(8)
    level_idc = r.u(8)
    sps_id = r.ue()
    if sps_id > 31:
        raise ParseError("seq_parameter_set_id out of range")
    chroma_format_idc = 1
    separate_colour_plane = False
    bit_depth_luma = bit_depth_chroma = 8
    if profile_idc in HIGH_PROFILES:
        chroma_format_idc = r.ue()
        if chroma_format_idc > 3:
            raise ParseError("chroma_format_idc out of range")
        if chroma_format_idc == 3:
            separate_colour_plane = r.flag()
        bit_depth_luma = 8 + r.ue()
        bit_depth_chroma = 8 + r.ue()
        if bit_depth_luma > 14 or bit_depth_chroma > 14:
            raise ParseError("bit depth out of range")
        r.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if r.flag():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if r.flag():
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    if r.ue() > 12:  # log2_max_frame_num_minus4
        raise ParseError("log2_max_frame_num out of range")
    poc_type = r.ue()
    if poc_type == 0:
        if r.ue() > 12:  # log2_max_pic_order_cnt_lsb_minus4
            raise ParseError("log2_max_pic_order_cnt_lsb out of range")
    elif poc_type == 1:
        r.skip(1)  # delta_pic_order_always_zero_flag
        r.se()  # offset_for_non_ref_pic
        r.se()  # offset_for_top_to_bottom_field
        cycle = r.ue()
        if cycle > 255:
            raise ParseError("num_ref_frames_in_pic_order_cnt_cycle out of range")
        for _ in range(cycle):
            r.se()
    elif poc_type != 2:
        raise ParseError("pic_order_cnt_type out of range")
    r.ue()  # max_num_ref_frames
    r.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = r.ue() + 1
    height_map_units = r.ue() + 1
    frame_mbs_only = r.flag()
    if not frame_mbs_only:
        r.skip(1)  # mb_adaptive_frame_field_flag
    r.skip(1)  # direct_8x8_inference_flag
    height_mbs = (2 - frame_mbs_only) * height_map_units
    if width_mbs * height_mbs > MAX_PIC_SIZE_MBS:
        raise ParseError("picture size out of range")
    width = width_mbs * 16
    height = height_mbs * 16
    if r.flag():  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        chroma_array_type = 0 if separate_colour_plane else chroma_format_idc
        if chroma_array_type == 0:
            crop_x, crop_y = 1, 2 - frame_mbs_only
        else:
            sub_w = 1 if chroma_format_idc == 3 else 2
            sub_h = 2 if chroma_format_idc == 1 else 1
            crop_x, crop_y = sub_w, sub_h * (2 - frame_mbs_only)
        width -= crop_x * (left + right)
        height -= crop_y * (top + bottom)
        if width <= 0 or height <= 0:
            raise ParseError("frame cropping exceeds the picture")
    return H264Sps(
        profile_idc=profile_idc,
        constraint_flags=constraint_flags,
        level_idc=level_idc,
        sps_id=sps_id,
        chroma_format_idc=chroma_format_idc,
        bit_depth_luma=bit_depth_luma,
        bit_depth_chroma=bit_depth_chroma,
        frame_mbs_only=frame_mbs_only,
        width=width,
        height=height,
    )


def parameter_sets(sps: bytes, pps: bytes) -> ParameterSets:
    """:class:`ParameterSets` for an SPS/PPS pair (NAL units without start codes)."""
    info = parse_sps(sps)
    return ParameterSets(
        codec=Codec.H264,
        sps=bytes(sps),
        pps=bytes(pps),
        vps=None,
        width=info.width,
        height=info.height,
        profile_idc=info.profile_idc,
        level_idc=info.level_idc,
        chroma_format_idc=info.chroma_format_idc,
        bit_depth_luma=info.bit_depth_luma,
        bit_depth_chroma=info.bit_depth_chroma,
        profile_tier_level=bytes((info.profile_idc, info.constraint_flags, info.level_idc)),
        codec_string=info.codec_string,
    )
