"""The frames of a steerable (PTZ) channel's live stream: the shared clip while the camera
looks home, and its own pictures only once it has been steered.

Thousands of simulated streams replay one clip encoded once (:mod:`vigil.sim.sim_media`), so
steering must not make every channel an encoder. The rules, frame by frame:

* Stopped at a view that has a clip (home, or a view cached since): replay that clip. A switch
  to a clip waits for one of its keyframes, so the decoder never sees a frame it cannot use.
* Moving, or stopped at a view without a clip: encode live, each frame rendered at the view of
  that moment (a new encoder starts with an IDR picture, so the switch is clean).
* Stopped and encoding live: from the next loop boundary, the next :data:`CLIP_FRAMES` live
  frames are recorded; they *are* the loop clip of that view (same encoder settings, keyframes
  at the same places), so it is cached and replayed from then on. A stop therefore costs at
  most two loops (4 s) of live encoding and no extra encode.

CPU and memory stay bounded: at most :data:`MAX_LIVE_ENCODERS` streams encode live at once
(beyond that a steered stream keeps replaying its clip until a slot frees) and at most
:data:`MAX_STEERED_CLIPS` steered clips are cached (least recently used go first). Stopped
views snap to a grid (:meth:`Viewport.quantised`), so cached clips are shared by channels.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable

import av
from av.video.codeccontext import VideoCodecContext

from vigil.protocols.samples import Codec
from vigil.sim.pattern import FPS, render_frame
from vigil.sim.ptz_head import HOME, PtzHead, Viewport

CLIP_FRAMES = 2 * FPS
MAX_LIVE_ENCODERS = 8
MAX_STEERED_CLIPS = 64

Clip = tuple[tuple[bytes, bool], ...]  # (access unit, keyframe), as sim_media's clips
ClipKey = tuple[int, int, str, Codec, Viewport]


class _SteeredClips:
    """The clips recorded at steered views, least recently used dropped first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._clips: OrderedDict[ClipKey, Clip] = OrderedDict()
        self._lock = threading.Lock()  # simulators may run on several event loops

    def get(self, key: ClipKey) -> Clip | None:
        with self._lock:
            clip = self._clips.get(key)
            if clip is not None:
                self._clips.move_to_end(key)
            return clip

    def put(self, key: ClipKey, clip: Clip) -> None:
        with self._lock:
            self._clips[key] = clip
            self._clips.move_to_end(key)
            while len(self._clips) > self._capacity:
                self._clips.popitem(last=False)

    def __len__(self) -> int:
        return len(self._clips)


class _EncoderSlots:
    """A count of live encoders, never above its limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.in_use >= self.limit:
                return False
            self.in_use += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.in_use -= 1


STEERED_CLIPS = _SteeredClips(MAX_STEERED_CLIPS)
ENCODER_SLOTS = _EncoderSlots(MAX_LIVE_ENCODERS)


class SteeredVideo:
    """Chooses (and when needed encodes) each frame of one stream of a PTZ channel."""

    def __init__(
        self,
        head: PtzHead,
        *,
        width: int,
        height: int,
        label: str,
        video_codec: Codec,
        open_encoder: Callable[[], VideoCodecContext],
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.head = head
        self.width = width
        self.height = height
        self.label = label[-4:]  # as the shared clip's OSD
        self.video_codec = video_codec
        self._open_encoder = open_encoder
        self._clock = clock or asyncio.get_running_loop().time
        self._playing: Clip | None = None  # the clip being replayed, None while live
        self._playing_view: Viewport | None = HOME
        self._encoder: VideoCodecContext | None = None
        self._recording: list[tuple[bytes, bool]] | None = None
        self._recording_view: Viewport | None = None
        self.live_frames = 0  # frames encoded live by this stream (for tests and logs)

    @property
    def live(self) -> bool:
        return self._encoder is not None

    def _key(self, view: Viewport) -> ClipKey:
        return (self.width, self.height, self.label, self.video_codec, view)

    def _clip_of(self, view: Viewport, home_clip: Clip) -> Clip | None:
        return home_clip if view == HOME else STEERED_CLIPS.get(self._key(view))

    async def frame(self, index: int, home_clip: Clip) -> tuple[bytes, bool]:
        """Frame ``index`` of the stream (an access unit and whether it is a keyframe);
        ``home_clip`` is the shared clip of the channel's home view."""
        if self._playing is None and self._playing_view == HOME:
            self._playing = home_clip
        view = self.head.viewport(self._clock())
        moving = self.head.moving
        position = index % CLIP_FRAMES
        if not moving and view == self._playing_view and self._playing is not None:
            return self._playing[position % len(self._playing)]
        clip = None if moving else self._clip_of(view, home_clip)
        if clip is not None:
            if index % FPS == 0:  # a keyframe of every clip: switch here
                self._play(clip, view)
                return clip[position % len(clip)]
            if self._playing is not None:  # a jump to a view with a clip (a preset call)
                return self._playing[position % len(self._playing)]
        if self._encoder is None and not ENCODER_SLOTS.take():
            # No encoder free: keep replaying the current clip (the picture lags the head).
            clip = self._playing or home_clip
            return clip[position % len(clip)]
        if moving or view != self._recording_view:
            self._recording = None
        if not moving and position == 0 and self._recording is None:
            self._restart_encoder()  # a clip starts with an IDR picture
            self._recording, self._recording_view = [], view
        self._playing, self._playing_view = None, None
        encoder = self._encoder or self._open_encoder()
        self._encoder = encoder
        data, key = await asyncio.to_thread(self._encode, encoder, position, view)
        self.live_frames += 1
        if self._recording is not None:
            self._recording.append((data, key))
            if len(self._recording) == CLIP_FRAMES:
                if all(data for data, _ in self._recording):
                    STEERED_CLIPS.put(self._key(view), tuple(self._recording))
                self._recording = None
        return data, key

    def _encode(
        self, encoder: VideoCodecContext, position: int, view: Viewport
    ) -> tuple[bytes, bool]:
        image = render_frame(position, self.width, self.height, self.label, viewport=view)
        frame = av.VideoFrame.from_ndarray(image, "rgb24").reformat(format="yuv420p")
        frame.pts = self.live_frames
        packets = encoder.encode(frame)
        # ``tune=zerolatency`` has no encoder delay: one frame in, one access unit out.
        return b"".join(bytes(p) for p in packets), any(p.is_keyframe for p in packets)

    def _play(self, clip: Clip, view: Viewport) -> None:
        self._release_encoder()
        self._recording = None
        self._playing, self._playing_view = clip, view

    def _restart_encoder(self) -> None:
        if self._encoder is not None:
            self._encoder = self._open_encoder()

    def _release_encoder(self) -> None:
        if self._encoder is not None:
            self._encoder = None
            ENCODER_SLOTS.give_back()

    def close(self) -> None:
        """The stream ended: give the encoder slot back."""
        self._release_encoder()
