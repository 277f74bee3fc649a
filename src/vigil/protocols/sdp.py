"""SDP (RFC 4566) with the GB/T 28181 additions (2016 Appendix F): ``y=`` SSRC and ``f=``
media format, ``u=`` for playback, ``a=setup`` / ``a=connection`` for RTP over TCP
(RFC 4145 / 4571), ``a=downloadspeed``, ``a=filesize`` and stream-selection attributes.

``y=`` and ``f=`` are kept at session level and written last, where devices put them.
Tolerated quirks: ``y=`` shorter than 10 digits is left-padded with zeros (seen from SRS
captures and EZVIZ); ``f=`` empty or all zeros (Dahua); bare-LF line ends; blank lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vigil.protocols.errors import ParseError

MAX_SDP_BYTES = 16_384
MAX_SDP_LINES = 256
MAX_MEDIA = 16

PS_PAYLOAD = ((96, "PS/90000"),)
LIVE_PAYLOADS = ((96, "PS/90000"), (97, "MPEG4/90000"), (98, "H264/90000"))
STREAM_ATTRIBUTES = ("stream", "streamnumber", "streamprofile", "streammode")

MediaTransport = Literal["udp", "tcp-passive", "tcp-active"]


def normalize_ssrc(text: str) -> str:
    """A 10-digit ``y=`` value; shorter all-digit values are zero-padded (§11.4 quirk)."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        raise ParseError(f"SSRC {text[:20]!r} is not up to 10 decimal digits")
    return text.zfill(10)


def ssrc_to_int(ssrc: str) -> int:
    """The RTP SSRC field for a decimal ``y=`` value: ``0200000001`` → ``0x0BEBC201``."""
    value = int(normalize_ssrc(ssrc))
    if value > 0xFFFFFFFF:
        raise ParseError(f"SSRC {ssrc} does not fit 32 bits")
    return value


def ssrc_from_int(value: int) -> str:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError("SSRC out of 32-bit range")
    return f"{value:010d}"


def make_ssrc(domain_id: str, sequence: int, *, history: bool) -> str:
    """``y=`` per Appendix F note 4: ``0`` live / ``1`` history, digits 4-8 of the SIP domain
    ID, then a 4-digit stream number (``34020000002000000001``, 1, live → ``0200000001``)."""
    if len(domain_id) < 8 or not domain_id.isdigit():
        raise ValueError(f"domain ID {domain_id!r} needs at least 8 digits")
    if not 0 <= sequence <= 9999:
        raise ValueError("stream sequence is 0-9999")
    return f"{1 if history else 0}{domain_id[3:8]}{sequence:04d}"


@dataclass(slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> IN IP4 <address>`` (RFC 4566 §5.2)."""

    username: str
    address: str
    session_id: str = "0"
    session_version: str = "0"
    net_type: str = "IN"
    addr_type: str = "IP4"

    @classmethod
    def parse(cls, value: str) -> Origin:
        parts = value.split()
        if len(parts) != 6:
            raise ParseError(f"bad o= line {value[:80]!r}")
        username, session_id, version, net_type, addr_type, address = parts
        return cls(username, address, session_id, version, net_type, addr_type)

    def serialize(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.net_type} {self.addr_type} {self.address}"
        )


@dataclass(slots=True)
class Connection:
    """``c=IN IP4 <address>`` (RFC 4566 §5.7)."""

    address: str
    net_type: str = "IN"
    addr_type: str = "IP4"

    @classmethod
    def parse(cls, value: str) -> Connection:
        parts = value.split()
        if len(parts) != 3:
            raise ParseError(f"bad c= line {value[:80]!r}")
        return cls(parts[2], parts[0], parts[1])

    def serialize(self) -> str:
        return f"{self.net_type} {self.addr_type} {self.address}"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock>[/<params>]`` (RFC 4566 §6)."""

    payload_type: int
    encoding: str
    clock_rate: int
    parameters: str | None = None


def _attribute(line: str) -> tuple[str, str | None]:
    name, colon, value = line.partition(":")
    return (name.strip(), value.strip() if colon else None)


def _format_attribute(name: str, value: str | None) -> str:
    return f"a={name}" if value is None else f"a={name}:{value}"


@dataclass(slots=True)
class MediaDescription:
    """An ``m=`` section."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    connection: Connection | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    extra_lines: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse_m_line(cls, value: str) -> MediaDescription:
        parts = value.split()
        if len(parts) < 3:
            raise ParseError(f"bad m= line {value[:80]!r}")
        port_text, slash, count_text = parts[1].partition("/")
        if _int_or_none(port_text) is None or len(port_text) > 5 or int(port_text) > 65535:
            raise ParseError(f"bad m= port {parts[1][:20]!r}")
        count = None
        if slash:
            if _int_or_none(count_text) is None or len(count_text) > 5:
                raise ParseError(f"bad m= port count {parts[1][:20]!r}")
            count = int(count_text)
        return cls(parts[0], int(port_text), parts[2], parts[3:], count)

    def attribute(self, name: str) -> str | None:
        """The first value of ``a=name`` (case-insensitive name); ``None`` when absent."""
        lowered = name.lower()
        for key, value in self.attributes:
            if key.lower() == lowered:
                return value
        return None

    def has_attribute(self, name: str) -> bool:
        return any(key.lower() == name.lower() for key, _ in self.attributes)

    @property
    def rtpmaps(self) -> dict[int, RtpMap]:
        maps: dict[int, RtpMap] = {}
        for key, value in self.attributes:
            if key.lower() != "rtpmap" or value is None:
                continue
            pt_text, _, description = value.partition(" ")
            pieces = description.strip().split("/")
            payload = _int_or_none(pt_text)
            clock = _int_or_none(pieces[1]) if len(pieces) >= 2 else None
            if payload is None or payload > 127 or clock is None:
                raise ParseError(f"bad rtpmap {value[:60]!r}")
            params = pieces[2].strip() if len(pieces) > 2 else None
            maps[payload] = RtpMap(payload, pieces[0].strip(), clock, params)
        return maps

    @property
    def direction(self) -> str:
        for key, _ in self.attributes:
            if key.lower() in ("sendonly", "recvonly", "sendrecv", "inactive"):
                return key.lower()
        return "sendrecv"

    @property
    def is_tcp(self) -> bool:
        return self.proto.upper().startswith("TCP")

    @property
    def setup(self) -> str | None:
        value = self.attribute("setup")
        return value.lower() if value else None

    @property
    def download_speed(self) -> int | None:
        return _int_or_none(self.attribute("downloadspeed"))

    @property
    def file_size(self) -> int | None:
        return _int_or_none(self.attribute("filesize"))

    @property
    def stream_number(self) -> int | None:
        """Requested/offered sub-stream: ``a=stream``, 2022 ``a=streamnumber``, Dahua
        ``a=streamprofile``, Mercury/TP-Link ``a=streamMode:MAIN|SUB``."""
        for key, value in self.attributes:
            if key.lower() in STREAM_ATTRIBUTES and value is not None:
                if value.upper() in ("MAIN", "SUB"):
                    return 0 if value.upper() == "MAIN" else 1
                number = _int_or_none(value)
                if number is not None:
                    return number
        return None

    def lines(self) -> list[str]:
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        out = [f"m={' '.join([self.media, port, self.proto, *self.formats])}"]
        out.extend(f"{kind}={value}" for kind, value in self.extra_lines if kind == "i")
        if self.connection is not None:
            out.append(f"c={self.connection.serialize()}")
        out.extend(f"{kind}={value}" for kind, value in self.extra_lines if kind != "i")
        out.extend(_format_attribute(name, value) for name, value in self.attributes)
        return out


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _parse_time(value: str) -> tuple[int, int]:
    parts = value.split()
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and len(p) <= 20 for p in parts):
        raise ParseError(f"bad t= line {value[:60]!r}")
    return int(parts[0]), int(parts[1])


@dataclass(slots=True)
class SessionDescription:
    """A whole SDP body; ``ssrc`` is the ``y=`` value (10 digits), ``media_format`` ``f=``."""

    origin: Origin | None = None
    session_name: str = "Play"
    connection: Connection | None = None
    times: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)])
    media: list[MediaDescription] = field(default_factory=list)
    uri: str | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    ssrc: str | None = None
    media_format: str | None = None
    version: int = 0
    extra_lines: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        if isinstance(data, bytes | bytearray):
            if len(data) > MAX_SDP_BYTES:
                raise ParseError("SDP too large")
            text = bytes(data).decode("utf-8", "replace")
        else:
            text = data
            if len(text) > MAX_SDP_BYTES:
                raise ParseError("SDP too large")
        lines = [line.rstrip("\r") for line in text.split("\n")]
        lines = [line for line in lines if line.strip()]
        if len(lines) > MAX_SDP_LINES:
            raise ParseError("too many SDP lines")
        sdp = cls(times=[])
        current: MediaDescription | None = None
        for line in lines:
            kind, eq, value = line.partition("=")
            kind = kind.strip()
            if not eq or len(kind) != 1 or not (kind.isascii() and kind.isalpha()):
                raise ParseError(f"bad SDP line {line[:60]!r}")
            current = sdp._take(kind, value.strip(), current)
        if not sdp.times:
            sdp.times = [(0, 0)]
        return sdp

    def _take(
        self, kind: str, value: str, current: MediaDescription | None
    ) -> MediaDescription | None:
        if kind == "v":
            if not value.isascii() or not value.isdigit() or len(value) > 3:
                raise ParseError(f"bad v= line {value[:20]!r}")
            self.version = int(value)
        elif kind == "o":
            self.origin = Origin.parse(value)
        elif kind == "s":
            self.session_name = value
        elif kind == "u":
            self.uri = value
        elif kind == "t":
            self.times.append(_parse_time(value))
        elif kind == "y":
            self.ssrc = normalize_ssrc(value) if value else None
        elif kind == "f":
            self.media_format = value
        elif kind == "m":
            if len(self.media) >= MAX_MEDIA:
                raise ParseError("too many m= sections")
            current = MediaDescription.parse_m_line(value)
            self.media.append(current)
        elif kind == "c":
            connection = Connection.parse(value)
            if current is not None:
                current.connection = connection
            else:
                self.connection = connection
        elif kind == "a":
            (current.attributes if current is not None else self.attributes).append(
                _attribute(value)
            )
        elif current is not None:
            current.extra_lines.append((kind, value))
        else:
            self.extra_lines.append((kind, value))
        return current

    @property
    def start_end(self) -> tuple[int, int]:
        """``t=`` of a playback/download: Unix seconds (``0 0`` for live)."""
        return self.times[0] if self.times else (0, 0)

    def video(self) -> MediaDescription | None:
        return next((m for m in self.media if m.media.lower() == "video"), None)

    def connection_address(self, media: MediaDescription | None = None) -> str | None:
        """Where media goes: the section's ``c=`` or the session's."""
        if media is not None and media.connection is not None:
            return media.connection.address
        return self.connection.address if self.connection is not None else None

    def serialize(self) -> bytes:
        lines = [f"v={self.version}"]
        if self.origin is not None:
            lines.append(f"o={self.origin.serialize()}")
        lines.append(f"s={self.session_name}")
        if self.uri is not None:
            lines.append(f"u={self.uri}")
        lines.extend(f"{kind}={value}" for kind, value in self.extra_lines if kind in "iep")
        if self.connection is not None:
            lines.append(f"c={self.connection.serialize()}")
        lines.extend(f"{kind}={value}" for kind, value in self.extra_lines if kind == "b")
        lines.extend(f"t={start} {stop}" for start, stop in self.times)
        lines.extend(f"{kind}={value}" for kind, value in self.extra_lines if kind not in "iepb")
        lines.extend(_format_attribute(name, value) for name, value in self.attributes)
        for media in self.media:
            lines.extend(media.lines())
        if self.ssrc is not None:
            lines.append(f"y={self.ssrc}")
        if self.media_format is not None:
            lines.append(f"f={self.media_format}")
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def build_media_offer(
    *,
    origin_id: str,
    ip: str,
    port: int,
    ssrc: str,
    session: Literal["Play", "Playback", "Download"] = "Play",
    transport: MediaTransport = "udp",
    channel_id: str | None = None,
    start: int = 0,
    end: int = 0,
    download_speed: int | None = None,
    payloads: tuple[tuple[int, str], ...] = PS_PAYLOAD,
    stream_number: int | None = None,
    stream_attribute: str = "stream",
) -> SessionDescription:
    """The platform's INVITE offer (§9.2 / §9.8 / §9.9, Appendix F): receive-only video at
    ``ip:port``; for Playback/Download ``u=<channel>:0`` and ``t=<start> <end>`` in Unix
    seconds; TCP offers carry ``a=setup`` (passive: the media server listens) and
    ``a=connection:new``."""
    attributes: list[tuple[str, str | None]] = [("recvonly", None)]
    attributes += [("rtpmap", f"{pt} {name}") for pt, name in payloads]
    if transport != "udp":
        attributes.append(("setup", "passive" if transport == "tcp-passive" else "active"))
        attributes.append(("connection", "new"))
    if download_speed is not None:
        attributes.append(("downloadspeed", str(download_speed)))
    if stream_number is not None:
        attributes.append((stream_attribute, str(stream_number)))
    media = MediaDescription(
        media="video",
        port=port,
        proto="RTP/AVP" if transport == "udp" else "TCP/RTP/AVP",
        formats=[str(pt) for pt, _ in payloads],
        attributes=attributes,
    )
    history = session != "Play"
    if history and channel_id is None:
        raise ValueError(f"a {session} offer needs the channel ID for u=")
    return SessionDescription(
        origin=Origin(origin_id, ip),
        session_name=session,
        uri=f"{channel_id}:0" if history else None,
        connection=Connection(ip),
        times=[(start, end) if history else (0, 0)],
        media=[media],
        ssrc=normalize_ssrc(ssrc),
    )


def build_media_answer(
    *,
    origin_id: str,
    ip: str,
    port: int,
    ssrc: str,
    session: str = "Play",
    transport: MediaTransport = "udp",
    payload: tuple[int, str] = (96, "PS/90000"),
    times: tuple[int, int] = (0, 0),
    media_format: str | None = "",
) -> SessionDescription:
    """A device's 200 OK answer: send-only video from ``ip:port`` with the SSRC it will use
    (``f=`` empty by default, as Hikvision devices send it)."""
    attributes: list[tuple[str, str | None]] = [("sendonly", None)]
    attributes.append(("rtpmap", f"{payload[0]} {payload[1]}"))
    if transport != "udp":
        attributes.append(("setup", "active" if transport == "tcp-active" else "passive"))
        attributes.append(("connection", "new"))
    media = MediaDescription(
        media="video",
        port=port,
        proto="RTP/AVP" if transport == "udp" else "TCP/RTP/AVP",
        formats=[str(payload[0])],
        attributes=attributes,
    )
    return SessionDescription(
        origin=Origin(origin_id, ip),
        session_name=session,
        connection=Connection(ip),
        times=[times],
        media=[media],
        ssrc=normalize_ssrc(ssrc),
        media_format=media_format,
    )
