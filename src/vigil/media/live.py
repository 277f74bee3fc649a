"""Live fragmented MP4 for one viewer (DESIGN §5: hub → fMP4 → WebSocket → browser MSE).

Transport-agnostic: an async iterator of ``bytes`` messages, each to be sent as one binary
WebSocket message and appended to a ``SourceBuffer`` as is. The first message is an init
segment (``ftyp``+``moov``), then one ``moof``+``mdat`` fragment per frame (ISO/IEC
14496-12 §8.8; FragmentMode.FRAME). When the camera changes its parameter sets (resolution,
profile), a new init segment comes before the next fragment: the player re-initialises on a
message that starts with an ``ftyp`` box (:func:`is_init_segment`). :attr:`mime_type` is
what ``MediaSource.isTypeSupported`` and ``addSourceBuffer`` want.

A new viewer starts with the hub's cached GOP, so its first picture is a keyframe but up to
a GOP behind live: the player should seek to the end of the buffered range once it plays.
A viewer too slow for the stream skips to the next keyframe (the hub decides); the frame
before the skip is then shown longer, and the media timeline stays gap-free because each
fragment's duration runs to the next frame's decode time.

A device playback at a speed other than 1× passes a :class:`SampleRetimer`: its samples are
moved onto a timeline that advances at ``1 / scale`` of the recording before they are
written, so the browser plays at that speed (live view passes none and is left as it is).
"""

from __future__ import annotations

from collections import deque
from types import TracebackType

from vigil.media.hub import StreamHub, Subscription
from vigil.protocols.fmp4.writer import Fmp4Writer, FragmentMode
from vigil.protocols.sample_retimer import SampleRetimer


def is_init_segment(message: bytes) -> bool:
    """Whether a message is an init segment (it begins with an ``ftyp`` box)."""
    return message[4:8] == b"ftyp"


class LiveFmp4Session:
    """``async for message in session`` yields init segments and per-frame fragments."""

    def __init__(self, subscription: Subscription, retimer: SampleRetimer | None = None) -> None:
        self._subscription = subscription
        self._retimer = retimer
        self._writer = Fmp4Writer(FragmentMode.FRAME)
        self._pending: deque[bytes] = deque()
        self._ended = False
        self.messages = 0
        self.bytes_sent = 0
        self.init_segments = 0

    @classmethod
    def open(cls, hub: StreamHub, retimer: SampleRetimer | None = None) -> LiveFmp4Session:
        """Subscribe to a hub's video (the GOP cache first) and wrap it in a session;
        ``retimer`` moves every sample onto its timeline before it is written."""
        return cls(hub.subscribe(video_only=True), retimer)

    @property
    def codec_string(self) -> str | None:
        """RFC 6381 codec of the current init segment (``avc1.64001f``), once known."""
        return self._writer.codec_string

    @property
    def mime_type(self) -> str | None:
        codec = self.codec_string
        return f'video/mp4; codecs="{codec}"' if codec else None

    @property
    def init_segment(self) -> bytes | None:
        """The current init segment (for a player that has to start over)."""
        return self._writer.init_segment

    @property
    def subscription(self) -> Subscription:
        return self._subscription

    def __aiter__(self) -> LiveFmp4Session:
        return self

    async def __anext__(self) -> bytes:
        # Once per frame: the subscription is polled and its future awaited here rather
        # than through its own __anext__ coroutine, and the usual single fragment of a
        # sample skips the pending queue.
        pending = self._pending
        subscription = self._subscription
        retimer = self._retimer
        while not pending:
            if self._ended:
                raise StopAsyncIteration
            sample = subscription.poll()
            if sample is None:
                if subscription.closed:
                    self._ended = True
                    if subscription.ended:  # the stream ended: write the last frame
                        pending.extend(self._writer.flush())
                else:
                    await subscription.changed()
                continue
            if retimer is not None:
                sample = retimer.retime(sample)
            out = self._writer.push(sample)
            if len(out) == 1:
                message = out[0]
                break
            pending.extend(out)
        else:
            message = pending.popleft()
        self.messages += 1
        self.bytes_sent += len(message)
        if message.startswith(b"ftyp", 4):  # is_init_segment, inlined
            self.init_segments += 1
        return message

    def close(self) -> None:
        """Stop: the subscription is released at once. Idempotent."""
        self._ended = True
        self._pending.clear()
        self._subscription.close()

    async def __aenter__(self) -> LiveFmp4Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
