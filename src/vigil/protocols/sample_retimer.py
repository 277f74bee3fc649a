"""Media time for a device playback at a speed other than real time (GB/T 28181-2016 §9.8.2,
Appendix B ``Scale``).

A device asked for ``Scale: 2`` sends its recording twice as fast, but keeps the recorded
timestamps: a browser's Media Source buffer would still play them at 1× and grow without end.
:class:`SampleRetimer` maps each sample's decode and presentation times (and duration) onto an
output timeline that advances at ``1 / scale`` of the source, so the viewer plays at the
chosen speed without being told:

    out = anchor_out + (src - anchor_src) / scale

The anchor moves at every change of scale, at the first sample after it (the output stays
continuous: the new line starts where the old one had arrived), and at every discontinuity
of the source — a seek, a gap between recorded files longer than ``max_step_90k``, a device
that restarts its clock: the output then goes on one frame interval after the last sample,
so it never runs backwards and never leaves a hole a Media Source would stall at. Pauses
need nothing: the device stops sending and resumes where it stopped.

A pure stream transformer (DESIGN §4): time is the samples' own, in 90 kHz units.
"""

from __future__ import annotations

from vigil.protocols.samples import Sample

DEFAULT_STEP_90K = 3600  # one frame at 25 fps, until the source shows its own interval
# Longer than any frame interval a device sends at speed, keyframes only included (a GOP of
# several seconds); a longer step is a jump in the recording, not a slow frame.
MAX_STEP_90K = 10 * 90_000


class SampleRetimer:
    """``retime(sample) -> Sample`` on a timeline running at ``1 / scale`` of the source."""

    def __init__(self, scale: float = 1.0, *, max_step_90k: int = MAX_STEP_90K) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self.max_step_90k = max_step_90k
        self.discontinuities = 0
        self._next_scale: float | None = None
        self._anchor_src = 0
        self._anchor_out = 0
        self._last_src: int | None = None
        self._last_out = 0
        self._step_out = DEFAULT_STEP_90K

    def set_scale(self, scale: float) -> None:
        """From the next sample on, media time advances at ``1 / scale`` of the source."""
        if scale <= 0:
            raise ValueError("scale must be positive")
        self._next_scale = scale

    def output_time(self, src_90k: int) -> int:
        """Where a source instant lands on the current line (not clamped)."""
        return self._anchor_out + round((src_90k - self._anchor_src) / self.scale)

    def retime(self, sample: Sample) -> Sample:
        src = sample.dts_90k
        last_src = self._last_src
        if last_src is None:  # the first sample: the output starts at the source's time
            self._anchor_src = self._anchor_out = src
            self._last_out = src - self._step_out
            self._apply_next_scale()
        elif src < last_src or src - last_src > self.max_step_90k:
            self.discontinuities += 1
            self._anchor_src = src
            self._anchor_out = self._last_out + self._step_out
            self._apply_next_scale()
        elif self._next_scale is not None:
            self._anchor_out = self.output_time(src)
            self._anchor_src = src
            self._apply_next_scale()
        scale = self.scale
        dts = self.output_time(src)
        if dts <= self._last_out:  # a repeated source time: keep strictly increasing
            dts = self._last_out + 1
        if last_src is not None and dts - self._last_out <= self.max_step_90k:
            self._step_out = dts - self._last_out
        self._last_src = src
        self._last_out = dts
        if scale == 1.0 and dts == src:
            return sample
        duration = sample.duration_90k
        return Sample(
            sample.codec,
            dts + round((sample.pts_90k - src) / scale),
            dts,
            sample.is_key,
            sample.data,
            max(round(duration / scale), 1) if duration else duration,
            sample.nal_units,
        )

    def _apply_next_scale(self) -> None:
        if self._next_scale is not None:
            self.scale = self._next_scale
            self._next_scale = None
