"""The RTP data plane: receivers, per-stream pipelines, hubs, live fMP4 and snapshots.

Entry points: :class:`vigil.media.server.MediaServer` (``run()``, ``open_stream``,
``close_stream``), :class:`vigil.media.hub.StreamHub` subscriptions,
:class:`vigil.media.live.LiveFmp4Session` and :class:`vigil.media.snapshot.Snapshotter`.
"""
