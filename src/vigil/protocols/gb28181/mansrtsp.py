"""MANSRTSP: playback control carried in SIP INFO (GB/T 28181-2016 §9.8.2, Appendix B, J.14).

The body is RTSP/1.0-shaped (RFC 2326 §6): a request line ``METHOD RTSP/1.0``, headers
``CSeq`` (its own counter, not the SIP CSeq), ``Scale``, ``Range: npt=…`` and ``PauseTime``.
What devices and platforms send:

* pause   ``PAUSE RTSP/1.0`` + ``PauseTime: now``
* resume  ``PLAY RTSP/1.0`` + ``Range: npt=now-``
* speed   ``PLAY RTSP/1.0`` + ``Scale: 2.0`` (0.25…4 in the 2016 text; negative = reverse)
* seek    ``PLAY RTSP/1.0`` + ``Range: npt=600-`` (seconds from the start of the window)
* stop    ``TEARDOWN RTSP/1.0`` (a BYE does the same)

The standard's Appendix J writes the version ``MANSRTSP/1.0``; WVP and Hikvision NVRs use
``RTSP/1.0``. Both are accepted; ``RTSP/1.0`` is written by default. Devices answer the
INFO's 200 with ``RTSP/1.0 200 OK`` + ``CSeq`` (+ ``RTP-Info`` from Hikvision):
:class:`MansrtspResponse`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from vigil.protocols.errors import ParseError

MANSRTSP_CONTENT_TYPE = "Application/MANSRTSP"
MAX_MANSRTSP_BYTES = 2048
MAX_MANSRTSP_LINES = 32
MAX_SCALE = 64.0
MAX_NPT_S = 10**9  # about 31 years: more than any recording window
VERSIONS = ("RTSP/1.0", "MANSRTSP/1.0")

Method = Literal["PLAY", "PAUSE", "TEARDOWN"]
METHODS: tuple[Method, ...] = ("PLAY", "PAUSE", "TEARDOWN")
_METHOD_BY_NAME: dict[str, Method] = {method: method for method in METHODS}


def _lines(data: bytes) -> list[str]:
    if len(data) > MAX_MANSRTSP_BYTES:
        raise ParseError("MANSRTSP body too large")
    try:
        text = bytes(data).decode("ascii")
    except UnicodeDecodeError:
        raise ParseError("MANSRTSP body is not ASCII") from None
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise ParseError("empty MANSRTSP body")
    if len(lines) > MAX_MANSRTSP_LINES:
        raise ParseError("too many MANSRTSP lines")
    return lines


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or not all(c.isalnum() or c == "-" for c in name):
            raise ParseError(f"bad MANSRTSP header {line[:40]!r}")
        headers.setdefault(name, value.strip())
    return headers


def _cseq(headers: dict[str, str]) -> int:
    text = headers.get("cseq")
    if text is None or not text.isdigit() or len(text) > 9:
        raise ParseError("MANSRTSP CSeq missing or not a number")
    return int(text)


def _number(text: str, what: str) -> float:
    text = text.strip()
    if not text or len(text) > 20 or not all(c.isdigit() or c in "+-." for c in text):
        raise ParseError(f"bad {what} {text[:20]!r}")
    try:
        value = float(text)
    except ValueError:
        raise ParseError(f"bad {what} {text[:20]!r}") from None
    if not math.isfinite(value):
        raise ParseError(f"bad {what} {text[:20]!r}")
    return value


def _format_number(value: float) -> str:
    """``2.0`` → ``2.0``, ``600.0`` → ``600``, ``0.25`` → ``0.25`` (shortest exact form)."""
    if value == int(value):
        return str(int(value))
    return repr(value)


@dataclass(frozen=True, slots=True)
class NptRange:
    """``Range: npt=<start>-[<end>]`` (RFC 2326 §3.6); ``start_s`` None means ``now``."""

    start_s: float | None
    end_s: float | None = None

    @classmethod
    def parse(cls, value: str) -> NptRange:
        kind, eq, spec = value.partition("=")
        if not eq or kind.strip().lower() != "npt":
            raise ParseError(f"unsupported Range {value[:40]!r}")
        start_text, dash, end_text = spec.strip().partition("-")
        if not dash:
            raise ParseError(f"bad npt range {value[:40]!r}")
        start = None if start_text.strip().lower() == "now" else _number(start_text, "npt")
        end = _number(end_text, "npt") if end_text.strip() else None
        for bound in (start, end):
            if bound is not None and not 0 <= bound <= MAX_NPT_S:
                raise ParseError(f"npt out of range {value[:40]!r}")
        if start is not None and end is not None and end < start:
            raise ParseError(f"npt end before start {value[:40]!r}")
        return cls(start, end)

    def serialize(self) -> str:
        start = "now" if self.start_s is None else _format_number(self.start_s)
        end = "" if self.end_s is None else _format_number(self.end_s)
        return f"npt={start}-{end}"


@dataclass(frozen=True, slots=True)
class MansrtspRequest:
    """One playback-control command. Build with :meth:`pause`, :meth:`resume`,
    :meth:`speed`, :meth:`seek`, :meth:`teardown`."""

    method: Method
    cseq: int
    scale: float | None = None
    range: NptRange | None = None
    pause_time: str | None = None
    version: str = "RTSP/1.0"

    @classmethod
    def pause(cls, cseq: int) -> MansrtspRequest:
        return cls("PAUSE", cseq, pause_time="now")

    @classmethod
    def resume(cls, cseq: int) -> MansrtspRequest:
        return cls("PLAY", cseq, range=NptRange(None))

    @classmethod
    def speed(cls, cseq: int, scale: float) -> MansrtspRequest:
        if not math.isfinite(scale) or scale == 0 or abs(scale) > MAX_SCALE:
            raise ValueError(f"scale {scale} is not a usable playback speed")
        return cls("PLAY", cseq, scale=scale)

    @classmethod
    def seek(cls, cseq: int, offset_s: float) -> MansrtspRequest:
        if not 0 <= offset_s <= MAX_NPT_S:
            raise ValueError(f"seek offset {offset_s} s out of range")
        return cls("PLAY", cseq, range=NptRange(offset_s))

    @classmethod
    def teardown(cls, cseq: int) -> MansrtspRequest:
        return cls("TEARDOWN", cseq)

    @classmethod
    def parse(cls, data: bytes) -> MansrtspRequest:
        lines = _lines(data)
        parts = lines[0].split()
        if len(parts) != 2 or parts[1].upper() not in VERSIONS:
            raise ParseError(f"bad MANSRTSP request line {lines[0][:40]!r}")
        method = _METHOD_BY_NAME.get(parts[0].upper())
        if method is None:
            raise ParseError(f"unsupported MANSRTSP method {parts[0][:20]!r}", status_hint=501)
        headers = _headers(lines[1:])
        scale = None
        if "scale" in headers:
            scale = _number(headers["scale"], "Scale")
            if scale == 0 or abs(scale) > MAX_SCALE:
                raise ParseError(f"Scale {scale} out of range")
        npt = NptRange.parse(headers["range"]) if "range" in headers else None
        pause_time = headers.get("pausetime")
        if pause_time is not None and len(pause_time) > 40:
            raise ParseError("PauseTime too long")
        version = "MANSRTSP/1.0" if parts[1].upper() == "MANSRTSP/1.0" else "RTSP/1.0"
        return cls(method, _cseq(headers), scale, npt, pause_time, version)

    def serialize(self) -> bytes:
        lines = [f"{self.method} {self.version}", f"CSeq: {self.cseq}"]
        if self.pause_time is not None:
            lines.append(f"PauseTime: {self.pause_time}")
        if self.scale is not None:
            scale = self.scale
            lines.append(f"Scale: {scale:.1f}" if scale == int(scale) else f"Scale: {scale!r}")
        if self.range is not None:
            lines.append(f"Range: {self.range.serialize()}")
        return ("\r\n".join(lines) + "\r\n").encode("ascii")


@dataclass(frozen=True, slots=True)
class MansrtspResponse:
    """A device's answer in the INFO's 200 body: ``RTSP/1.0 200 OK`` + ``CSeq``
    (+ ``RTP-Info: seq=…;rtptime=…`` from Hikvision)."""

    status: int
    reason: str
    cseq: int
    rtp_info: str | None = None

    @classmethod
    def parse(cls, data: bytes) -> MansrtspResponse:
        lines = _lines(data)
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.strip().partition(" ")
        if version.upper() not in VERSIONS or len(code) != 3 or not code.isdigit():
            raise ParseError(f"bad MANSRTSP status line {lines[0][:40]!r}")
        headers = _headers(lines[1:])
        rtp_info = headers.get("rtp-info")
        if rtp_info is not None and len(rtp_info) > 200:
            raise ParseError("RTP-Info too long")
        return cls(int(code), reason.strip()[:60], _cseq(headers), rtp_info)

    def serialize(self) -> bytes:
        lines = [f"RTSP/1.0 {self.status} {self.reason}", f"CSeq: {self.cseq}"]
        if self.rtp_info is not None:
            lines.append(f"RTP-Info: {self.rtp_info}")
        return ("\r\n".join(lines) + "\r\n").encode("ascii")
