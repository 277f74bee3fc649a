"""HLS VOD playlists of recorded ranges for standard players (RFC 8216, fMP4 segments).

No media is re-muxed: each entry is one stored fragment (a GOP) addressed by
``EXT-X-BYTERANGE`` (§4.3.2.2) inside its segment file, behind ``EXT-X-MAP`` (§4.3.2.5) with
the init segment of its video parameters. Decode times in the files are relative to their
run, so an ``EXT-X-DISCONTINUITY`` (§4.3.2.3) separates runs, parameter changes and gaps,
and each stretch starts with ``EXT-X-PROGRAM-DATE-TIME`` (§4.3.2.6) so players show the
wall clock. The first entry is the fragment holding ``start`` (its keyframe may be a little
earlier); the last is the one holding ``end``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vigil.recording.index import SegmentRow
from vigil.recording.playback_reader import GAP_TOLERANCE, TICKS_PER_S, fragment_at, wall_of

HLS_VERSION = 7  # EXT-X-MAP in a playlist without I-frames only (§4.3.2.5, §7)


@dataclass(frozen=True, slots=True)
class HlsPlaylist:
    text: str
    fragments: int
    duration_s: float
    first_at: datetime | None
    last_at: datetime | None


def _date_time(at: datetime) -> str:
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def hls_playlist(
    rows: Sequence[SegmentRow],
    start: datetime,
    end: datetime,
    *,
    init_uri: Callable[[int], str],
    segment_uri: Callable[[SegmentRow], str],
) -> HlsPlaylist:
    """The playlist of the fragments of ``rows`` (oldest first) overlapping [start, end)."""
    entries: list[str] = []
    longest_s = 1.0
    total_90k = 0
    count = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    previous: SegmentRow | None = None
    for row in rows:
        if not row.fragments or row.end_at <= start or row.start_at >= end:
            continue
        first = fragment_at(row, start) if row.start_at < start else 0
        continuous = (
            previous is not None
            and previous.run_id == row.run_id
            and previous.params_id == row.params_id
            and previous.start_90k + previous.duration_90k == row.start_90k
            and abs(row.start_at - previous.end_at) <= GAP_TOLERANCE
        )
        opened = False
        for entry in row.fragments[first:]:
            at = wall_of(row, entry.start_90k)
            if at >= end:
                break
            if not opened:
                if not continuous:
                    if previous is not None:
                        entries.append("#EXT-X-DISCONTINUITY")
                    if previous is None or previous.params_id != row.params_id:
                        entries.append(f'#EXT-X-MAP:URI="{init_uri(row.params_id)}"')
                    entries.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date_time(at)}")
                opened = True
            seconds = entry.duration_90k / TICKS_PER_S
            longest_s = max(longest_s, seconds)
            entries.append(f"#EXTINF:{seconds:.3f},")
            entries.append(f"#EXT-X-BYTERANGE:{entry.size_bytes}@{entry.offset_bytes}")
            entries.append(segment_uri(row))
            total_90k += entry.duration_90k
            count += 1
            first_at = first_at or at
            last_at = wall_of(row, entry.end_90k)
        if opened:
            previous = row
    head = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{HLS_VERSION}",
        f"#EXT-X-TARGETDURATION:{math.ceil(longest_s)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    text = "\n".join([*head, *entries, "#EXT-X-ENDLIST", ""])
    return HlsPlaylist(text, count, total_90k / TICKS_PER_S, first_at, last_at)
