"""H.265 sequence parameter set (ITU-T H.265 §7.3.2.2.1) → profile, tier, level and size.

Parses ``profile_tier_level`` (§7.3.3) and the SPS up to the bit depths. The output size is
``pic_width_in_luma_samples - SubWidthC * (conf_win_left + conf_win_right)`` (§7.4.3.2.1,
Table 6-1) and likewise for the height.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.protocols.errors import ParseError
from vigil.protocols.h265.annexb import NAL_SPS, nal_type
from vigil.protocols.media_bytes import BitReader, unescape_rbsp
from vigil.protocols.samples import Codec, ParameterSets

MAX_SPS_BYTES = 4096
MAX_LUMA_PICTURE_SIZE = 35_651_584  # level 6.2 MaxLumaPs (Table A.8)


@dataclass(frozen=True, slots=True)
class H265Sps:
    profile_space: int
    tier_flag: bool
    profile_idc: int
    compatibility_flags: int
    constraint_flags: int  # the 48 bits of general_progressive_source_flag … inbld/reserved
    level_idc: int
    max_sub_layers: int
    temporal_id_nesting: bool
    sps_id: int
    chroma_format_idc: int
    width: int
    height: int
    bit_depth_luma: int
    bit_depth_chroma: int

    @property
    def profile_tier_level(self) -> bytes:
        """The 12-byte general profile_tier_level, as copied into hvcC."""
        first = (self.profile_space << 6) | (self.tier_flag << 5) | self.profile_idc
        return (
            bytes((first,))
            + self.compatibility_flags.to_bytes(4, "big")
            + self.constraint_flags.to_bytes(6, "big")
            + bytes((self.level_idc,))
        )

    @property
    def codec_string(self) -> str:
        """ISO/IEC 14496-15 Annex E.3: ``hvc1.<space><profile>.<compat>.<tier><level>.<cons>``."""
        space = "" if self.profile_space == 0 else "ABC"[self.profile_space - 1]
        compat = int(f"{self.compatibility_flags:032b}"[::-1], 2)  # bits in reverse order
        constraints = self.constraint_flags.to_bytes(6, "big").rstrip(b"\x00")
        parts = [
            "hvc1",
            f"{space}{self.profile_idc}",
            f"{compat:X}",
            f"{'H' if self.tier_flag else 'L'}{self.level_idc}",
            *(f"{b:X}" for b in constraints),
        ]
        return ".".join(parts)


def _skip_sub_layers(r: BitReader, max_sub_layers_minus1: int) -> None:
    """§7.3.3: the sub-layer part of profile_tier_level."""
    present = [(r.flag(), r.flag()) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        r.skip(2 * (8 - max_sub_layers_minus1))  # reserved_zero_2bits
    for profile_present, level_present in present:
        if profile_present:
            r.skip(88)
        if level_present:
            r.skip(8)


def parse_sps(nal: bytes | bytearray | memoryview) -> H265Sps:
    """Parse an SPS NAL unit (2-byte header included, emulation prevention still present)."""
    if len(nal) < 15 or nal_type(nal) != NAL_SPS:
        raise ParseError("not an H.265 SPS NAL unit")
    if len(nal) > MAX_SPS_BYTES:
        raise ParseError("H.265 SPS too large")
    r = BitReader(unescape_rbsp(nal[2:]))
    r.skip(4)  # sps_video_parameter_set_id
    max_sub_layers_minus1 = r.u(3)
    if max_sub_layers_minus1 > 6:
        raise ParseError("sps_max_sub_layers_minus1 out of range")
    temporal_id_nesting = r.flag()
    profile_space = r.u(2)
    tier_flag = r.flag()
    profile_idc = r.u(5)
    compatibility_flags = r.u(32)
    constraint_flags = r.u(48)
    level_idc = r.u(8)
    _skip_sub_layers(r, max_sub_layers_minus1)
    sps_id = r.ue()
    if sps_id > 15:
        raise ParseError("sps_seq_parameter_set_id out of range")
    chroma_format_idc = r.ue()
    if chroma_format_idc > 3:
        raise ParseError("chroma_format_idc out of range")
    separate_colour_plane = chroma_format_idc == 3 and r.flag()
    width = r.ue()
    height = r.ue()
    if width == 0 or height == 0 or width * height > MAX_LUMA_PICTURE_SIZE:
        raise ParseError("picture size out of range")
    if r.flag():  # conformance_window_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        chroma_array_type = 0 if separate_colour_plane else chroma_format_idc
        sub_w = 2 if chroma_array_type in (1, 2) else 1
        sub_h = 2 if chroma_array_type == 1 else 1
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
        if width <= 0 or height <= 0:
            raise ParseError("conformance window exceeds the picture")
    bit_depth_luma = 8 + r.ue()
    bit_depth_chroma = 8 + r.ue()
    if bit_depth_luma > 16 or bit_depth_chroma > 16:
        raise ParseError("bit depth out of range")
    return H265Sps(
        profile_space=profile_space,
        tier_flag=tier_flag,
        profile_idc=profile_idc,
        compatibility_flags=compatibility_flags,
        constraint_flags=constraint_flags,
        level_idc=level_idc,
        max_sub_layers=max_sub_layers_minus1 + 1,
        temporal_id_nesting=temporal_id_nesting,
        sps_id=sps_id,
        chroma_format_idc=chroma_format_idc,
        width=width,
        height=height,
        bit_depth_luma=bit_depth_luma,
        bit_depth_chroma=bit_depth_chroma,
    )


def parameter_sets(vps: bytes, sps: bytes, pps: bytes) -> ParameterSets:
    """:class:`ParameterSets` for a VPS/SPS/PPS triple (NAL units without start codes)."""
    info = parse_sps(sps)
    return ParameterSets(
        codec=Codec.H265,
        sps=bytes(sps),
        pps=bytes(pps),
        vps=bytes(vps),
        width=info.width,
        height=info.height,
        profile_idc=info.profile_idc,
        level_idc=info.level_idc,
        chroma_format_idc=info.chroma_format_idc,
        bit_depth_luma=info.bit_depth_luma,
        bit_depth_chroma=info.bit_depth_chroma,
        profile_tier_level=info.profile_tier_level,
        codec_string=info.codec_string,
        max_sub_layers=info.max_sub_layers,
        temporal_id_nesting=info.temporal_id_nesting,
    )
