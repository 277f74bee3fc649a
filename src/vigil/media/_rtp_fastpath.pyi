"""Types of the compiled receive path (_rtp_fastpath.c)."""

from typing import Any

MAX_FRAME_PARTS: int

# An item is (pipeline, frame bytes, end_of_frame) or (datagram bytes, (host, port)).
Item = tuple[Any, bytes, bool] | tuple[bytes, tuple[str, int]]

class Lane:
    @property
    def armed(self) -> bool: ...
    @property
    def stalled(self) -> bool: ...
    def arm(
        self,
        ssrc: int,
        host: str,
        port: int,
        next_seq: int,
        timestamp: int,
        parts: list[bytes | memoryview],
        last_transit: int,
        jitter_q4: int,
    ) -> bool: ...
    def collect(self) -> tuple[int, int, float, int, int]: ...
    def disarm(self) -> tuple[int, int, list[bytes]]: ...

def drain(
    fd: int, streams: dict[int, Any] | None, single: Any, max_datagrams: int, now_s: float
) -> tuple[int, int, list[Item], list[Any], int]: ...
def route(
    datagrams: list[tuple[bytes, tuple[str, int]]],
    streams: dict[int, Any] | None,
    single: Any,
    now_s: float,
) -> tuple[int, list[Item], list[Any]]: ...
