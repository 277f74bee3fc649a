"""GB/T 28181 signalling: the asyncio driver of the SIP control plane (DESIGN §2).

:class:`vigil.signaling.server.SignalingServer` is the entry point; everything else is its
parts: the socket transport, the in-memory device table (the hot path), the registrar, the
catalog fetcher and subscriber, the write-behind of presence, the event stream and the
per-device signalling log.
"""
