"""Playback and download of a simulated channel's recordings (GB/T 28181-2016 §9.8, §9.9,
Appendix B; reference §11.5-11.7).

* ``INVITE`` with ``s=Playback`` or ``s=Download`` and ``t=<start> <end>`` (Unix seconds):
  200 with a send-only answer echoing ``t=`` and the offered ``y=``; after the ACK the
  recorded parts of the window are streamed as PS/RTP over UDP (the looping test clip, its
  timestamps running from the window's start: 90 kHz from the start's time of day, gaps
  skipped). A window without any recording is refused 404. TCP offers are refused 488.
* Pace: Playback at real time × ``Scale``; Download at ``a=downloadspeed`` × real time.
* ``INFO`` with a MANSRTSP body (Appendix B): ``PAUSE`` stops sending, ``PLAY`` with
  ``Range: npt=now-`` resumes, ``Scale`` changes the pace, ``Range: npt=N-`` seeks to N s
  after the window's start; answered 200 with ``RTSP/1.0 200 OK``. ``TEARDOWN`` stops.
* At the end of the window: ``MESSAGE`` ``MediaStatus`` ``NotifyType`` 121 inside the
  INVITE dialog (same Call-ID: platforms match it by Call-ID), then wait for the BYE.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.manscdp import (
    MANSCDP_CONTENT_TYPE,
    ManscdpMessage,
    MediaStatusNotify,
    RecordInfoQuery,
)
from vigil.protocols.gb28181.mansrtsp import (
    MANSRTSP_CONTENT_TYPE,
    MansrtspRequest,
    MansrtspResponse,
)
from vigil.protocols.ps.muxer import PsMuxer
from vigil.protocols.rtp.packetizer import RtpPacketizer
from vigil.protocols.samples import Codec, Sample
from vigil.protocols.sdp import SessionDescription, build_media_answer, ssrc_to_int
from vigil.protocols.sip.address import NameAddr, SipUri
from vigil.protocols.sip.dialog import Dialog
from vigil.protocols.sip.message import SipRequest
from vigil.protocols.sip.transaction import ServerTransaction
from vigil.sim.config import USER_AGENT
from vigil.sim.sim_media import FPS, encode_clip
from vigil.sim.sim_recordings import (
    RecordSpan,
    channel_history,
    clipped,
    record_info_parts,
    send_serially,
)

if TYPE_CHECKING:
    from vigil.sim.sim_device import SimDevice

PTS_MASK = (1 << 33) - 1  # PS PTS/SCR are 33 bits (ISO/IEC 13818-1 §2.4.3.7)
SECONDS_PER_DAY = 86_400
HISTORY_SESSIONS = ("playback", "download")


class PlaybackSender:
    """Streams the recorded parts of a window as PS/RTP to ``target`` until the end (then
    ``on_end``) or :meth:`stop`."""

    def __init__(
        self,
        target: tuple[str, int],
        ssrc: int,
        *,
        width: int,
        height: int,
        label: str,
        window: tuple[int, int],
        spans: list[RecordSpan],
        speed: float,
        on_end: Callable[[], None],
    ) -> None:
        self.target = target
        self.ssrc = ssrc
        self.size = (width, height)
        self.label = label
        self.window = window
        self.spans = spans
        self.speed = speed
        self.scale = 1.0
        self.on_end = on_end
        self.frames_sent = 0
        self.position_s = float(spans[0].start_s)
        self._resume = asyncio.Event()
        self._resume.set()
        self._seek_s: float | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def seek(self, offset_s: float) -> None:
        self._seek_s = self.window[0] + offset_s

    def _locate(self, position_s: float) -> tuple[int, float]:
        """The span holding ``position_s`` (or the next one) and the position in it."""
        for index, span in enumerate(self.spans):
            if position_s < span.end_s:
                return index, max(position_s, float(span.start_s))
        return len(self.spans), position_s

    async def _run(self) -> None:
        clip = await asyncio.to_thread(encode_clip, *self.size, self.label)
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        muxer = PsMuxer(Codec.H264)
        packetizer = RtpPacketizer(self.ssrc)
        loop = asyncio.get_running_loop()
        base_s = self.window[0] - self.window[0] % SECONDS_PER_DAY
        span_index, frame = 0, 0
        due = loop.time()
        try:
            while True:
                if not self._resume.is_set():
                    await self._resume.wait()
                    due = loop.time()
                if self._seek_s is not None:
                    span_index, self.position_s = self._locate(self._seek_s)
                    self._seek_s, frame = None, 0
                if span_index < len(self.spans) and self.position_s >= self.spans[span_index].end_s:
                    span_index, self.position_s = self._locate(self.position_s)
                    frame = 0  # a new file starts with a keyframe
                if span_index >= len(self.spans):
                    break
                data, key = clip[frame % len(clip)]
                ts = round((self.position_s - base_s) * 90_000) & PTS_MASK
                pack = muxer.mux(Sample(Codec.H264, ts, ts, key, data))
                for packet in packetizer.packetize(pack, ts & 0xFFFFFFFF):
                    with contextlib.suppress(OSError):  # full buffer or unreachable: lost
                        sock.sendto(packet, self.target)
                frame += 1
                self.frames_sent += 1
                self.position_s += 1 / FPS
                due += 1 / (FPS * self.speed * self.scale)
                await asyncio.sleep(max(due - loop.time(), 0.0))
        finally:
            sock.close()
        self._task = None
        self.on_end()


class SimPlaybacks:
    """The playback/download calls of one simulated device, by Call-ID."""

    def __init__(self, device: SimDevice) -> None:
        self._device = device
        self.calls: dict[str, tuple[Dialog, PlaybackSender]] = {}
        self.media_status_sent = 0
        self.info_received: list[MansrtspRequest] = []

    def handle(self, request: SipRequest, txn: ServerTransaction) -> bool:
        """Take the requests of playback calls; False leaves a request to the caller."""
        if request.method == "INVITE":
            return self._invite(request, txn)
        if request.method == "INFO":
            self._info(request, txn)
            return True
        if request.method == "BYE" and request.call_id in self.calls:
            self.calls.pop(request.call_id)[1].stop()
            self._respond(txn, 200)
            return True
        return False

    def answer(self, message: ManscdpMessage) -> bool:
        """Answer a RecordInfo query (split over several MESSAGEs); False for others."""
        if not isinstance(message, RecordInfoQuery):
            return False
        device = self._device
        config = device.config
        names = {channel.channel_id: channel.name for channel in device.plan.channels}
        history = []
        if message.device_id in names:
            history = channel_history(
                message.device_id,
                now_s=time.time(),
                days=config.record_days,
                item_s=config.record_item_s,
            )
        name = names.get(message.device_id, device.plan.name)
        parts = record_info_parts(message, name, history, config.record_items_per_message)
        send_serially(
            [part.serialize(config.charset) for part in parts], device.requests.send_message
        )
        return True

    def on_ack(self, request: SipRequest) -> None:
        call = self.calls.get(request.call_id)
        if call is not None and not self._device.config.media_mute:
            call[1].start()

    def stop(self) -> None:
        for _, sender in self.calls.values():
            sender.stop()
        self.calls.clear()

    def _respond(
        self, txn: ServerTransaction, status: int, body: bytes = b"", content_type: str = ""
    ) -> None:
        port = self._device.port
        if port is not None:
            response = txn.create_response(
                status, body=body, content_type=content_type or None, headers=[]
            )
            port.respond(txn, response)

    def _invite(self, request: SipRequest, txn: ServerTransaction) -> bool:
        try:
            offer = SessionDescription.parse(request.body)
        except ParseError:
            return False  # the live path answers unreadable offers
        if offer.session_name.strip().lower() not in HISTORY_SESSIONS:
            return False
        device = self._device
        config = device.config
        channel_id = _user_of(request.uri)
        if channel_id is None or not device.owns_channel(channel_id):
            self._respond(txn, 404)
            return True
        video = offer.video()
        host = offer.connection_address(video)
        start_s, end_s = offer.start_end
        if video is None or video.is_tcp or host is None or offer.ssrc is None:
            self._respond(txn, 488)
            return True
        history = channel_history(
            channel_id, now_s=time.time(), days=config.record_days, item_s=config.record_item_s
        )
        spans = clipped(history, start_s, end_s) if end_s > start_s else []
        if not spans:
            self._respond(txn, 404)
            return True
        assert device.port is not None
        local_host, local_port = device.port.local
        answer = build_media_answer(
            origin_id=channel_id,
            ip=local_host,
            port=15060,
            ssrc=offer.ssrc,
            session=offer.session_name.strip(),
            times=(start_s, end_s),
        )
        response = txn.create_response(
            200,
            body=answer.serialize(),
            content_type="application/sdp",
            headers=[
                ("Contact", NameAddr(f"sip:{channel_id}@{local_host}:{local_port}").serialize()),
                ("User-Agent", USER_AGENT),
            ],
        )
        device.port.respond(txn, response)
        try:
            dialog = Dialog.from_uas(request, response)
        except ParseError:
            return True
        download = offer.session_name.strip().lower() == "download"
        speed = float(video.download_speed or 1) if download else 1.0
        call_id = request.call_id
        sender = PlaybackSender(
            (host, video.port),
            ssrc_to_int(offer.ssrc),
            width=config.video_width,
            height=config.video_height,
            label=channel_id,
            window=(start_s, end_s),
            spans=spans,
            speed=min(max(speed, 1.0), 32.0),
            on_end=lambda: self._end_of_file(call_id, channel_id),
        )
        old = self.calls.pop(call_id, None)
        if old is not None:
            old[1].stop()
        self.calls[call_id] = (dialog, sender)
        return True

    def _info(self, request: SipRequest, txn: ServerTransaction) -> None:
        call = self.calls.get(request.call_id)
        if call is None:
            self._respond(txn, 481)
            return
        try:
            command = MansrtspRequest.parse(request.body)
        except ParseError as exc:
            self._respond(txn, exc.status_hint)
            return
        self.info_received.append(command)
        sender = call[1]
        if command.method == "PAUSE":
            sender.pause()
        elif command.method == "TEARDOWN":
            sender.stop()
        else:
            if command.scale is not None:
                sender.scale = min(max(abs(command.scale), 0.25), 32.0)
            if command.range is not None and command.range.start_s is not None:
                sender.seek(command.range.start_s)
            sender.resume()
        body = MansrtspResponse(200, "OK", command.cseq).serialize()
        self._respond(txn, 200, body, MANSRTSP_CONTENT_TYPE)

    def _end_of_file(self, call_id: str, channel_id: str) -> None:
        """MediaStatus 121 inside the call's dialog (§9.8.3 / A.2.5 d)."""
        call = self.calls.get(call_id)
        port = self._device.port
        if call is None or port is None:
            return
        dialog = call[0]
        sn = self._device.rng.randint(1, 1_000_000)
        body = MediaStatusNotify(sn, channel_id).serialize(self._device.config.charset)
        request = dialog.create_request(
            "MESSAGE",
            via=self._device.via(),
            body=body,
            content_type=MANSCDP_CONTENT_TYPE,
            headers=[("User-Agent", USER_AGENT)],
        )
        port.send_request(request, lambda _: None)
        self.media_status_sent += 1


def _user_of(uri: str) -> str | None:
    try:
        return SipUri.parse(uri).user
    except ParseError:
        return None
