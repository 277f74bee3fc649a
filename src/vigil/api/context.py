"""What the API needs from the composition root, handed over as one object."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access.login import SourceThrottle
from vigil.api.metrics import HttpMetrics
from vigil.device_downloads import DeviceDownloads
from vigil.media.server import MediaServer
from vigil.media.snapshot import Snapshotter
from vigil.media.transcoder import TranscoderPool
from vigil.playbacks import DevicePlaybacks
from vigil.recorder import Recorder
from vigil.recording.export_service import ExportService
from vigil.recording.segment_reader import SegmentReader
from vigil.settings import AuthSettings, RecordingSettings, RetentionSettings
from vigil.signaling.server import SignalingServer
from vigil.streams import LiveStreams


@dataclass
class ApiContext:
    engine: AsyncEngine
    auth: AuthSettings
    retention: RetentionSettings
    audit_key: bytes
    max_upload_bytes: int
    # None when the platform runs without SIP (tests of the ledger alone).
    signaling: SignalingServer | None = None
    # None when the platform runs without media (live video, snapshots unavailable).
    media: MediaServer | None = None
    streams: LiveStreams | None = None
    playbacks: DevicePlaybacks | None = None  # recordings kept on devices
    # Downloads of recordings kept on devices into MP4s; None: unavailable (503).
    device_downloads: DeviceDownloads | None = None
    # H.265 live view transcoded to H.264 for browsers; None: H.265 is sent as it is.
    transcoders: TranscoderPool | None = None
    exports: ExportService | None = None  # None: exports unavailable (503)
    recorder: Recorder | None = None  # None: continuous recording is off
    # Recorded playback and HLS read segment files through this; None: unavailable (503).
    segment_reader: SegmentReader | None = None
    # Coverage reports: local-day time zone and the segment length (the open segment).
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    snapshotter: Snapshotter = field(default_factory=Snapshotter)
    throttle: SourceThrottle = field(default_factory=SourceThrottle)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    metrics: HttpMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = HttpMetrics(self.registry)
