"""Errors of the media data plane (RTP receivers, hubs, live sessions, snapshots).

    MediaError
    ├── ServerNotRunningError   a stream was opened while MediaServer.run() is not active
    ├── StreamExistsError       the SSRC is already registered on the shared port
    ├── StreamClosedError       the stream (or its hub) has been closed
    ├── PortsExhaustedError     no free port left in the configured range
    └── SnapshotError           no JPEG could be produced
        ├── NoKeyframeError     no keyframe arrived within the time bound
        └── SnapshotDecodeError the keyframe did not decode, or the picture is out of bounds

Problems of the *incoming* media (garbled RTP, PS errors, wrong SSRC or source, silence)
are never raised: they are counted in the stream's statistics and recorded on its timeline,
so one broken device cannot disturb another stream.
"""

from __future__ import annotations


class MediaError(Exception):
    """Base of the media layer's errors."""


class ServerNotRunningError(MediaError):
    """The media server's ``run()`` is not active, so it cannot own new sockets or tasks."""


class StreamExistsError(MediaError):
    """A stream with this SSRC is already registered on the shared RTP port."""


class StreamClosedError(MediaError):
    """The stream or its hub has been closed."""


class PortsExhaustedError(MediaError):
    """Every port of the dedicated range is in use (or cannot be bound)."""


class SnapshotError(MediaError):
    """No JPEG could be produced from the stream."""


class NoKeyframeError(SnapshotError):
    """No keyframe arrived within the snapshot time bound."""


class SnapshotDecodeError(SnapshotError):
    """The keyframe could not be decoded, or its picture exceeds the size bound."""
