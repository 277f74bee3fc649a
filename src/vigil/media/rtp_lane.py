"""The compiled per-packet receive path, when it is built, and how a pipeline hands over.

Most of a healthy stream's datagrams need the same few steps: read, route by SSRC, check
the header is plain and the sequence number the next one, count, jitter, append the payload
to the frame being joined. ``_rtp_fastpath.c`` does those for a stream whose ``Lane`` is
*armed* and returns whole frames; every other datagram comes back unchanged for
:class:`~vigil.media.pipeline.StreamPipeline`'s Python path, which stays the reference for
what a datagram means.

The hand-over keeps one owner for each piece of state. While armed, the Lane owns the
stream's in-order state (next sequence number, jitter, the frame being joined, counts since
the last :func:`fold`); the pipeline folds the counts into its own figures whenever it
reports them, and takes everything back (:func:`disarm`) before its Python path handles a
packet. After a batch, the pipelines whose Lane stalled are offered a re-arm (:func:`arm`),
which succeeds only where the Python path itself would take its in-order shortcut: nothing
held for reordering, the expected source and SSRC, no pending "first packet" attention.

Without a C compiler the extension is absent and everything runs in Python, with the same
results (tests/media/test_rtp_lane.py compares both).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from vigil.media.ps_ingest import PsIngest
from vigil.protocols.rtp.reorder import Reorderer

if TYPE_CHECKING:
    from vigil.media._rtp_fastpath import Lane

compiled: ModuleType | None
try:
    from vigil.media import _rtp_fastpath as compiled
except ImportError:  # not built (no compiler at install time): the Python path does all
    compiled = None


def new_lane() -> Lane | None:
    """A Lane for a new pipeline, or None when the compiled path is not built."""
    return None if compiled is None else compiled.Lane()


def fold(lane: Lane, reorder: Reorderer) -> tuple[int, int, float]:
    """Counts since the last fold into the reorderer; (packets, bytes, last arrival)."""
    packets, nbytes, last_s, last_transit, jitter_q4 = lane.collect()
    reorder.advance(packets, None if last_transit < 0 else last_transit, jitter_q4)
    return packets, nbytes, last_s


def disarm(lane: Lane, ps: PsIngest) -> None:
    """Give the in-order state back to the PS collector (after :func:`fold`)."""
    next_seq, timestamp, parts = lane.disarm()
    ps.resume(next_seq, timestamp, parts)


def arm(lane: Lane, ssrc: int, source: tuple[str, int], reorder: Reorderer, ps: PsIngest) -> bool:
    """Hand the in-order state to the Lane, if the reorderer and PS collector agree on it."""
    next_seq = reorder.in_order_next()
    expected, timestamp, parts = ps.in_order_state()
    if next_seq is None or expected != next_seq:
        return False
    last_transit, jitter_q4 = reorder.jitter_state()
    armed = lane.arm(
        ssrc,
        source[0],
        source[1],
        next_seq,
        timestamp,
        parts,
        -1 if last_transit is None else last_transit,
        jitter_q4,
    )
    if armed:
        ps.hand_off()
    return armed
