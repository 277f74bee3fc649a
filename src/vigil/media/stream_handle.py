"""What the streams layer holds for an open stream: its hub, statistics and timeline."""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Container

from vigil.media.hub import StreamHub
from vigil.media.pipeline import StreamPipeline
from vigil.media.stats import StreamStats
from vigil.media.timeline import TimelineEvent
from vigil.protocols.samples import ParameterSets


class MediaTransport(enum.Enum):
    """How the device sends RTP (GB/T 28181 reference §11.3: ``m=`` and ``a=setup``)."""

    UDP = "udp"
    TCP_PASSIVE = "tcp_passive"  # the device connects to us (a=setup:passive in our offer)
    TCP_ACTIVE = "tcp_active"  # we connect to the device (a=setup:active)


_serial = itertools.count(1)


def stream_name(ssrc: int | None, wanted: str | None, taken: Container[str]) -> str:
    """``wanted`` if free, else the SSRC in ZLMediaKit's hex form, made unique."""
    if wanted is not None and wanted not in taken:
        return wanted
    base = wanted or (f"{ssrc:08X}" if ssrc is not None else "stream")
    name = base
    while name in taken:
        name = f"{base}-{next(_serial)}"
    return name


class StreamHandle:
    """One open stream. ``local_port`` is the port to put in the SDP offer (0 for TCP
    active, where the platform connects out)."""

    def __init__(
        self,
        stream_id: str,
        transport: MediaTransport,
        ssrc: int | None,
        local_port: int,
        pipeline: StreamPipeline,
        clock: Callable[[], float],
    ) -> None:
        self.stream_id = stream_id
        self.transport = transport
        self.ssrc = ssrc
        self.local_port = local_port
        self._pipeline = pipeline
        self._clock = clock
        self.closed = False

    @property
    def hub(self) -> StreamHub:
        return self._pipeline.hub

    @property
    def parameter_sets(self) -> ParameterSets | None:
        return self._pipeline.parameter_sets

    def stats(self) -> StreamStats:
        return self._pipeline.stats(self._clock())

    def timeline(self) -> tuple[TimelineEvent, ...]:
        return self._pipeline.timeline.events()

    def __repr__(self) -> str:
        return (
            f"StreamHandle({self.stream_id!r}, {self.transport.value}, ssrc={self.ssrc}, "
            f"port={self.local_port})"
        )
