"""Per-device log of the last SIP messages, for troubleshooting ("why is it offline?",
"what did the catalog say?").

Messages are kept as raw bytes and formatted only when asked. Each device keeps the last
``max_entries`` messages within ``max_bytes``; keepalives would flush everything else out,
so only the latest keepalive and its answer are kept, beside the ring. The number of devices
with a log and the bytes of all logs together are bounded (the least recently written
device is forgotten first), so a flood of invented IDs costs nothing lasting.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.charset import decode_body
from vigil.protocols.sip.message import find_header_end
from vigil.protocols.sip.transaction import Address

MAX_BODY_CHARS = 8192

# An entry is one bytes object: "<epoch seconds> <in|out> <host:port> <udp|tcp>\n" and the
# message. Tuples of floats and strings would cost more than the message itself.
_Entry = bytes


def _pack(direction: str, peer: Address, reliable: bool, data: bytes) -> _Entry:
    transport = b"tcp" if reliable else b"udp"
    head = b"%.3f %s %s:%d %s\n" % (
        time.time(),
        direction.encode(),
        peer[0].encode("ascii", "replace"),
        peer[1],
        transport,
    )
    return head + data


@dataclass(frozen=True, slots=True)
class SignallingRecord:
    """One logged SIP message; :attr:`text` is the readable form."""

    at: datetime
    direction: str  # "in" (from the device) or "out" (to the device)
    peer: str  # host:port
    transport: str  # udp | tcp
    first_line: str
    headers: tuple[tuple[str, str], ...]
    body: str

    @property
    def text(self) -> str:
        arrow = "<-" if self.direction == "in" else "->"
        stamp = self.at.astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        lines = [f"{stamp} {arrow} {self.peer} ({self.transport})", self.first_line]
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if self.body:
            lines.extend(["", self.body])
        return "\n".join(lines)


def _decode_body(body: bytes) -> str:
    if not body:
        return ""
    try:
        text = decode_body(body)
    except ParseError:
        text = body.decode("utf-8", "replace")
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + "…"


def format_entry(entry: _Entry) -> SignallingRecord:
    label, _, data = entry.partition(b"\n")
    wall, direction, peer, transport = label.decode("ascii", "replace").split(" ")
    bounds = find_header_end(data)
    head, body = (data[: bounds[0]], data[bounds[1] :]) if bounds else (data, b"")
    lines = head.decode("utf-8", "replace").replace("\r", "").split("\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return SignallingRecord(
        at=datetime.fromtimestamp(float(wall), UTC),
        direction=direction,
        peer=peer,
        transport=transport,
        first_line=lines[0] if lines else "",
        headers=tuple(headers),
        body=_decode_body(body),
    )


class _Ring:
    __slots__ = ("entries", "keepalive", "size_bytes")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []  # a list: a deque starts with a 64-slot block
        self.keepalive: tuple[_Entry, ...] = ()  # the latest keepalive and its answer
        self.size_bytes = 0


def _keepalive_bytes(ring: _Ring) -> int:
    return sum(map(len, ring.keepalive))


class SignallingLog:
    def __init__(
        self,
        max_entries: int = 50,
        *,
        max_devices: int = 100_000,
        max_bytes: int = 16_384,
        max_total_bytes: int = 256 << 20,
    ) -> None:
        self.max_entries = max_entries
        self.max_devices = max_devices
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        self.total_bytes = 0
        self._rings: OrderedDict[str, _Ring] = OrderedDict()

    def _ring(self, device_id: str) -> _Ring:
        ring = self._rings.get(device_id)
        if ring is None:
            ring = self._rings[device_id] = _Ring()
            if len(self._rings) > self.max_devices:
                self._forget_oldest()
        else:
            self._rings.move_to_end(device_id)
        return ring

    def _forget_oldest(self) -> None:
        _, ring = self._rings.popitem(last=False)
        self.total_bytes -= ring.size_bytes + _keepalive_bytes(ring)

    def _account(self, ring: _Ring, delta: int) -> None:
        ring.size_bytes += delta
        self.total_bytes += delta

    def record(
        self, device_id: str, direction: str, peer: Address, reliable: bool, data: bytes
    ) -> None:
        ring = self._ring(device_id)
        entries = ring.entries
        entry = _pack(direction, peer, reliable, data)
        entries.append(entry)
        self._account(ring, len(entry))
        while len(entries) > 1 and (
            len(entries) > self.max_entries or ring.size_bytes > self.max_bytes
        ):
            self._account(ring, -len(entries.pop(0)))
        while self.total_bytes > self.max_total_bytes and len(self._rings) > 1:
            self._forget_oldest()

    def record_keepalive(
        self, device_id: str, peer: Address, reliable: bool, request: bytes, answer: bytes | None
    ) -> None:
        """Keep only the latest keepalive and its answer."""
        ring = self._ring(device_id)
        self.total_bytes -= _keepalive_bytes(ring)
        pair = [_pack("in", peer, reliable, request)]
        if answer is not None:
            pair.append(_pack("out", peer, reliable, answer))
        ring.keepalive = tuple(pair)
        self.total_bytes += _keepalive_bytes(ring)

    def entries(self, device_id: str) -> list[SignallingRecord]:
        """The device's log, oldest first, with the latest keepalive exchange in place."""
        ring = self._rings.get(device_id)
        if ring is None:
            return []
        records = [format_entry(entry) for entry in [*ring.entries, *ring.keepalive]]
        records.sort(key=lambda record: record.at)
        return records[-self.max_entries :]

    def __len__(self) -> int:
        return len(self._rings)
