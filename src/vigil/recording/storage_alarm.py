"""The text and detail of a ``storage_full`` alarm: which channels' footage is at stake.

A full pool is never purged silently (DESIGN §6): the alarm names each channel, its class
guarantee and the range of footage that was (policy overwrite) or would next be (policy
stop) purged; the detail carries the complete list, the message the first few.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vigil.recording.index import SegmentRow

MESSAGE_CHANNELS = 10  # channels named in an alarm message; the detail lists them all


class HasGuarantee(Protocol):
    @property
    def guarantee_days(self) -> int: ...


@dataclass(frozen=True, slots=True)
class AtStake:
    channel_id: str
    guarantee_days: int
    start_at: datetime
    end_at: datetime
    segments: int
    size_bytes: int


def stake_by_channel(
    rows: Sequence[SegmentRow], policy: Mapping[str, HasGuarantee], unknown: HasGuarantee
) -> list[AtStake]:
    grouped: dict[str, list[SegmentRow]] = {}
    for row in rows:
        grouped.setdefault(row.channel_id, []).append(row)
    return [
        AtStake(
            channel_id=channel_id,
            guarantee_days=policy.get(channel_id, unknown).guarantee_days,
            start_at=min(r.start_at for r in group),
            end_at=max(r.end_at for r in group),
            segments=len(group),
            size_bytes=sum(r.size_bytes for r in group),
        )
        for channel_id, group in sorted(grouped.items())
    ]


def storage_alarm_text(pool: str, policy: str, stake: Sequence[AtStake]) -> str:
    named = "; ".join(
        f"{s.channel_id} (≥ {s.guarantee_days} d): "
        f"{s.start_at:%Y-%m-%d %H:%M}–{s.end_at:%Y-%m-%d %H:%M} UTC"
        for s in stake[:MESSAGE_CHANNELS]
    )
    more = f" and {len(stake) - MESSAGE_CHANNELS} more" if len(stake) > MESSAGE_CHANNELS else ""
    if policy == "overwrite":
        return (
            f"Storage pool {pool} is full; guaranteed footage was overwritten "
            f"(policy overwrite): {named}{more}"
        )
    if not stake:
        return (
            f"Storage pool {pool} is full and holds nothing that may be purged "
            f"(only locked footage, or none); recording to it is stopped"
        )
    return (
        f"Storage pool {pool} is full and holds only guaranteed or locked footage; "
        f"recording to it is stopped (policy stop). Next to be purged: {named}{more}"
    )


def stake_json(stake: Sequence[AtStake]) -> list[dict[str, object]]:
    return [
        {
            "channel_id": s.channel_id,
            "guarantee_days": s.guarantee_days,
            "start": s.start_at.isoformat(),
            "end": s.end_at.isoformat(),
            "segments": s.segments,
            "size_bytes": s.size_bytes,
        }
        for s in stake
    ]
