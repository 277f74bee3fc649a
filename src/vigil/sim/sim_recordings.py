"""The recording history of a simulated channel and its RecordInfo answers (GB/T 28181-2016
§9.7, A.2.4 d query, A.2.6 h response).

Each channel has recorded continuously for ``record_days`` up to the last whole
``record_item_s`` boundary, in items of ``record_item_s`` (one hour by default), except for
two items left out as gaps — the 4th-8th and the 28th-34th before the end, chosen by the
channel's serial so neighbouring channels differ. The history is a pure function of the
channel ID and the clock, so a platform's query and a later playback agree.

Answers list the items overlapping the queried window (whole items, as devices list whole
files) and are split into MESSAGEs of ``record_items_per_message`` items sharing the query's
SN, each sent after the previous one's 200 (Appendix N, as for catalogs); ``SumNum`` is the
total, and 0 without a list when nothing matches. Times are the device's local time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vigil.protocols.gb28181.manscdp import RecordInfoQuery, RecordInfoResponse, RecordItem
from vigil.protocols.sip.message import SipResponse

SECONDS_PER_DAY = 86_400
SendPart = Callable[[bytes, Callable[[SipResponse | None], None]], None]
BITRATE_BYTES_PER_S = 64_000  # what the FileSize of an item claims (512 kbit/s)


@dataclass(frozen=True, slots=True)
class RecordSpan:
    """One recorded item in Unix seconds: ``[start_s, end_s)``."""

    start_s: int
    end_s: int


def channel_history(channel_id: str, *, now_s: float, days: int, item_s: int) -> list[RecordSpan]:
    """The channel's recorded items, oldest first, with its two gaps left out."""
    end_s = int(now_s) // item_s * item_s
    count = days * SECONDS_PER_DAY // item_s
    serial = int(channel_id[-6:]) if channel_id[-6:].isdigit() else 0
    gaps = {count - 4 - serial % 5, count - 28 - serial % 7}
    first_s = end_s - count * item_s
    return [
        RecordSpan(first_s + i * item_s, first_s + (i + 1) * item_s)
        for i in range(count)
        if i not in gaps
    ]


def spans_in(spans: list[RecordSpan], start_s: int, end_s: int) -> list[RecordSpan]:
    """The items overlapping ``[start_s, end_s)``."""
    return [span for span in spans if span.end_s > start_s and span.start_s < end_s]


def clipped(spans: list[RecordSpan], start_s: int, end_s: int) -> list[RecordSpan]:
    """The recorded parts of ``[start_s, end_s)``: what a playback of that window streams."""
    return [
        RecordSpan(max(span.start_s, start_s), min(span.end_s, end_s))
        for span in spans_in(spans, start_s, end_s)
    ]


def record_items(channel_id: str, name: str, spans: list[RecordSpan]) -> list[RecordItem]:
    return [
        RecordItem(
            device_id=channel_id,
            name=name,
            file_path=f"/record/{channel_id}/{span.start_s}.ps",
            address=name,
            start_time=datetime.fromtimestamp(span.start_s),
            end_time=datetime.fromtimestamp(span.end_s),
            secrecy=0,
            type="time",
            file_size=(span.end_s - span.start_s) * BITRATE_BYTES_PER_S,
        )
        for span in spans
    ]


def record_info_parts(
    query: RecordInfoQuery, name: str, spans: list[RecordSpan], per_message: int
) -> list[RecordInfoResponse]:
    """The answer to ``query`` as the MESSAGE bodies to send, in order."""
    start_s = int(query.start_time.timestamp())
    end_s = int(query.end_time.timestamp())
    wanted = query.type in (None, "all", "time")
    matches = spans_in(spans, start_s, end_s) if wanted and end_s > start_s else []
    items = record_items(query.device_id, name, matches)
    if not items:
        return [RecordInfoResponse(query.sn, query.device_id, 0, (), name)]
    return [
        RecordInfoResponse(
            query.sn, query.device_id, len(items), tuple(items[i : i + per_message]), name
        )
        for i in range(0, len(items), per_message)
    ]


def send_serially(parts: list[bytes], send: SendPart) -> None:
    """Send each body after the previous one was answered 2xx (Appendix N: serially)."""

    def send_part(index: int) -> None:
        def next_part(answer: SipResponse | None) -> None:
            if answer is not None and answer.is_success and index + 1 < len(parts):
                send_part(index + 1)

        send(parts[index], next_part)

    if parts:
        send_part(0)
