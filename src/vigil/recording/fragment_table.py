"""The compact fragment table stored with each segment row.

One fixed-size little-endian entry per fragment (one GOP): byte offset in the file, byte
size of ``moof``+``mdat``, start relative to the segment start and duration in 90 kHz
ticks, frame count and flags. 24 bytes per fragment — a 60 s segment with a keyframe every
2 s costs 720 bytes — instead of a row per fragment, and it decodes with one ``iter_unpack``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vigil.recording.errors import IndexCorruptError

_ENTRY = struct.Struct("<QIIIHH")
ENTRY_BYTES = _ENTRY.size
FLAG_KEY = 0x1  # the fragment starts with a keyframe


@dataclass(frozen=True, slots=True)
class FragmentEntry:
    offset_bytes: int
    size_bytes: int
    start_90k: int  # relative to the segment's start_90k
    duration_90k: int
    frames: int
    starts_with_key: bool = True

    @property
    def end_90k(self) -> int:
        return self.start_90k + self.duration_90k


def pack_fragments(entries: list[FragmentEntry] | tuple[FragmentEntry, ...]) -> bytes:
    out = bytearray(ENTRY_BYTES * len(entries))
    for i, e in enumerate(entries):
        _ENTRY.pack_into(
            out,
            i * ENTRY_BYTES,
            e.offset_bytes,
            e.size_bytes,
            e.start_90k,
            e.duration_90k,
            e.frames,
            FLAG_KEY if e.starts_with_key else 0,
        )
    return bytes(out)


def unpack_fragments(data: bytes) -> tuple[FragmentEntry, ...]:
    if len(data) % ENTRY_BYTES:
        raise IndexCorruptError(
            f"fragment table of {len(data)} bytes is not a multiple of {ENTRY_BYTES}"
        )
    return tuple(
        FragmentEntry(offset, size, start, duration, frames, bool(flags & FLAG_KEY))
        for offset, size, start, duration, frames, flags in _ENTRY.iter_unpack(data)
    )
