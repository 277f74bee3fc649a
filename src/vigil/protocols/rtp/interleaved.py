"""RTP over a byte stream: RFC 4571 framing and RTSP interleaved framing (RFC 2326 §10.12).

* RFC 4571 §2: ``LENGTH(16, big-endian) RTP-or-RTCP-packet`` — GB/T 28181 TCP media.
* RTSP interleaved: ``'$' channel(8) LENGTH(16) packet`` — also seen on GB/T 28181 TCP links.

``FramingMode.AUTO`` decides by the first frame and keeps that mode. A frame is plausible
when its packet starts with RTP version 2 and is at least 12 bytes (8 for RTCP). After an
implausible header, or an RTP packet whose SSRC differs from the previous one, the
splitter resynchronises: it scans for the next plausible header
(a regular expression does the scanning in C) and accepts it only when the frame after it is
plausible too. Vendor quirk: Hikvision EHOME prefixes the stream with a 256-byte private
header (ZLMediaKit ``RtpSplitter``); resynchronisation skips it like any other garbage.

Frames are memoryview slices of the pushed chunk (or of leftover + chunk): no copy per
packet. The held leftover is never more than one frame plus the next header.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from vigil.protocols.errors import ParseError

MAX_CHUNK_BYTES = 4 * 1024 * 1024
_MIN_PACKET = 8  # an RTCP header; RTP needs 12
_MAX_PENDING = 4 + 65535 + 5  # the longest frame plus the next header
_VERSION_2 = re.compile(rb"[\x80-\xbf]")


class FramingMode(enum.Enum):
    AUTO = "auto"
    RFC4571 = "rfc4571"
    RTSP = "rtsp"


_HEADER = {FramingMode.RFC4571: 2, FramingMode.RTSP: 4}


@dataclass(frozen=True, slots=True)
class InterleavedFrame:
    """One packet from the stream; ``channel`` is the RTSP channel (0 for RFC 4571)."""

    channel: int
    data: memoryview


@dataclass(slots=True)
class FramingStats:
    frames: int = 0
    resyncs: int = 0
    discarded_bytes: int = 0


class InterleavedSplitter:
    """Stream transformer: ``push(chunk) -> list[InterleavedFrame]``."""

    def __init__(self, mode: FramingMode = FramingMode.AUTO) -> None:
        self.mode = mode
        self.stats = FramingStats()
        self._leftover = b""
        self._strict = False  # after garbage: a frame counts only if the next one is plausible
        self._ssrc = b""  # SSRC of the last RTP packet: a change while in sync means garbage

    def push(self, chunk: bytes | bytearray | memoryview) -> list[InterleavedFrame]:
        if len(chunk) > MAX_CHUNK_BYTES:
            raise ParseError(f"chunk of {len(chunk)} bytes exceeds {MAX_CHUNK_BYTES}")
        if self._leftover:
            data = self._leftover + bytes(chunk)
        else:
            data = chunk if isinstance(chunk, bytes) else bytes(chunk)
        return self._split(data, final=False)

    def flush(self) -> list[InterleavedFrame]:
        """Deliver a complete last frame still awaiting confirmation; drop the rest."""
        data, self._leftover = self._leftover, b""
        frames = self._split(data, final=True)
        self.stats.discarded_bytes += len(self._leftover)
        self._leftover = b""
        return frames

    def _frame_at(self, data: bytes, pos: int, mode: FramingMode) -> int | None:
        """Packet length of a plausible frame header at ``pos`` in ``mode``, or None.

        -1 means "cannot tell yet" (too few bytes).
        """
        hdr = _HEADER[mode]
        if len(data) - pos < hdr + 1:
            return -1
        if mode is FramingMode.RTSP:
            if data[pos] != 0x24:
                return None
            length = (data[pos + 2] << 8) | data[pos + 3]
        else:
            length = (data[pos] << 8) | data[pos + 1]
        if length < _MIN_PACKET or data[pos + hdr] >> 6 != 2:
            return None
        return length

    def _detect(self, data: bytes, pos: int) -> tuple[FramingMode, int | None]:
        if self.mode is not FramingMode.AUTO:
            return self.mode, self._frame_at(data, pos, self.mode)
        if len(data) - pos < 5:
            return FramingMode.AUTO, -1
        rtsp = self._frame_at(data, pos, FramingMode.RTSP)
        if rtsp is not None:
            return FramingMode.RTSP, rtsp
        return FramingMode.RFC4571, self._frame_at(data, pos, FramingMode.RFC4571)

    def _split(self, data: bytes, *, final: bool) -> list[InterleavedFrame]:
        view = memoryview(data)
        out: list[InterleavedFrame] = []
        pos = 0
        n = len(data)
        while pos < n:
            confirmed = False
            if self._strict:
                found, verified = self._candidate(data, pos, final=final)
                self.stats.discarded_bytes += found - pos
                pos = found
                if not verified:
                    break
                self._strict = False
                confirmed = True  # its SSRC becomes the reference
            mode, length = self._detect(data, pos)
            if length == -1:
                break
            start = pos + _HEADER[mode]
            ssrc = b""
            sender = b""
            rtp = length is not None and length >= 12 and n >= start + 12
            if rtp and not 200 <= data[start + 1] <= 204:
                ssrc = data[start + 8 : start + 12]
            elif rtp and mode is FramingMode.RFC4571:
                # RTCP carries the sender's SSRC at bytes 4-8 (RFC 3550 §6.4-6.6); a device's
                # reports name its RTP SSRC, so a mismatch marks a header-like run of garbage.
                # (RTSP `$` framing tells RTCP apart by channel instead.)
                sender = data[start + 4 : start + 8]
            known = ssrc or sender
            mismatch = bool(known and self._ssrc and known != self._ssrc and not confirmed)
            if length is None or mismatch:
                self.stats.resyncs += 1
                self._strict = True
                pos += 1
                continue
            end = start + length
            if end > n:
                break
            if self.mode is FramingMode.AUTO:
                self.mode = mode
            if ssrc:
                self._ssrc = ssrc
            channel = data[pos + 1] if mode is FramingMode.RTSP else 0
            out.append(InterleavedFrame(channel, view[start:end]))
            pos = end
        self.stats.frames += len(out)
        self._leftover = data[pos:]
        return out

    def _candidate(self, data: bytes, pos: int, *, final: bool) -> tuple[int, bool]:
        """The first header at or after ``pos`` whose frame is followed by a plausible header.

        Returns ``(position, True)`` for it; otherwise ``(position, False)`` for the first
        header that more bytes could still confirm (or the tail worth keeping).
        """
        n = len(data)
        modes = (
            (FramingMode.RTSP, FramingMode.RFC4571)
            if self.mode is FramingMode.AUTO
            else (self.mode,)
        )
        pending: int | None = None
        for match in _VERSION_2.finditer(data, pos + min(_HEADER[m] for m in modes)):
            for mode in modes:
                start = match.start() - _HEADER[mode]
                if start < pos:
                    continue
                length = self._frame_at(data, start, mode)
                if length is None:
                    continue
                end = start + _HEADER[mode] + length
                if end < n:
                    following = self._frame_at(data, end, mode)
                    if following is None:
                        continue
                    if following >= 0 or final:
                        return start, True
                elif end == n and final:
                    return start, True
                elif end > n and final:
                    continue
                if pending is None and n - start <= _MAX_PENDING:
                    pending = start
        if pending is not None:
            return pending, False
        return max(pos, n - 4), False
