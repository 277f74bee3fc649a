"""What a simulated device answers and sends on its own (GB/T 28181-2016 A.2, §9.11).

* Catalog queries: the channels split over several MESSAGEs of ``catalog_items_min..max``
  items, each sent after the previous one's 200 (Appendix N: serially); DeviceInfo,
  DeviceStatus and DeviceControl answered with their Response MESSAGEs.
* Catalog SUBSCRIBE (§9.11.3): 200 with Expires and a dialog; Expires 0 ends it.
* NOTIFY (§9.11.4) on request, inside the subscription dialog when there is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.manscdp import (
    MANSCDP_CONTENT_TYPE,
    CatalogItem,
    CatalogNotify,
    CatalogQuery,
    CatalogResponse,
    DeviceControl,
    DeviceInfoQuery,
    DeviceInfoResponse,
    DeviceStatusQuery,
    DeviceStatusResponse,
    ManscdpMessage,
    ResultResponse,
    parse_manscdp,
)
from vigil.protocols.samples import Codec
from vigil.protocols.sdp import SessionDescription, build_media_answer, ssrc_to_int
from vigil.protocols.sip.address import NameAddr, SipUri
from vigil.protocols.sip.builders import build_request
from vigil.protocols.sip.dialog import Dialog
from vigil.protocols.sip.message import SipRequest, SipResponse
from vigil.protocols.sip.transaction import ServerTransaction
from vigil.sim.config import USER_AGENT
from vigil.sim.device_plan import ChannelPlan
from vigil.sim.rtp_link import role_for_offer
from vigil.sim.sim_media import VideoSender
from vigil.sim.sim_playback import SimPlaybacks
from vigil.sim.sim_ptz import SimPtz

if TYPE_CHECKING:
    from vigil.sim.sim_device import SimDevice


class DeviceRequests:
    def __init__(self, device: SimDevice) -> None:
        self._device = device
        self.calls: dict[str, VideoSender] = {}  # Call-ID of a Play → its video
        self._dialogs: dict[str, Dialog] = {}
        self.byes = 0
        self.playbacks = SimPlaybacks(device)  # recordings: RecordInfo, Playback, Download
        self.ptz = SimPtz(device.plan, device.loop.time)  # PTZ heads of the dome channels

    def respond(
        self, txn: ServerTransaction, status: int, headers: Sequence[tuple[str, str]] = ()
    ) -> SipResponse:
        assert self._device.port is not None
        response = txn.create_response(status, headers=list(headers))
        self._device.port.respond(txn, response)
        return response

    def handle(self, request: SipRequest, txn: ServerTransaction) -> None:
        if self.playbacks.handle(request, txn):
            return
        if request.method == "MESSAGE":
            self._message(request, txn)
        elif request.method == "SUBSCRIBE":
            self._subscribe(request, txn)
        elif request.method == "INVITE":
            self._invite(request, txn)
        elif request.method == "BYE":
            self._bye(request, txn)
        else:
            self.respond(txn, 200 if request.method == "OPTIONS" else 405)

    # ---- live video (§9.2) -----------------------------------------------------------

    def _invite(self, request: SipRequest, txn: ServerTransaction) -> None:
        """Answer a Play INVITE with send-only PS/RTP over UDP or TCP (RFC 4571 framing, the
        opposite ``a=setup`` of the offer's, RFC 4145 §4) from the sending socket's real
        address; stream after the ACK."""
        device = self._device
        channel_id = _user_of(request.uri)
        if channel_id is None or not device.owns_channel(channel_id):
            self.respond(txn, 404)
            return
        try:
            offer = SessionDescription.parse(request.body)
        except ParseError:
            self.respond(txn, 400)
            return
        video = offer.video()
        host = offer.connection_address(video)
        if (
            offer.session_name.lower() != "play"
            or video is None
            or host is None
            or offer.ssrc is None
        ):
            self.respond(txn, 488)
            return
        assert device.port is not None
        local_host = device.port.local[0]
        config = device.config
        role = role_for_offer(video.is_tcp, video.setup)
        sender = VideoSender(
            (host, video.port),
            ssrc_to_int(offer.ssrc),
            width=config.video_width,
            height=config.video_height,
            label=channel_id,
            role=role,
            video_codec=Codec.H265 if config.video_codec == "h265" else Codec.H264,
            ptz=self.ptz.head(channel_id),
            frame_numbers=config.frame_numbers,
        )
        try:
            media_host, media_port = sender.bind(local_host)
        except OSError:
            self.respond(txn, 488)
            return
        answer = build_media_answer(
            origin_id=channel_id, ip=media_host, port=media_port, ssrc=offer.ssrc, transport=role
        )
        response = txn.create_response(
            200,
            body=answer.serialize(),
            content_type="application/sdp",
            headers=[
                (
                    "Contact",
                    NameAddr(f"sip:{channel_id}@{local_host}:{device.port.local[1]}").serialize(),
                ),
                ("User-Agent", USER_AGENT),
            ],
        )
        device.port.respond(txn, response)
        with contextlib.suppress(ParseError):
            self._dialogs[request.call_id] = Dialog.from_uas(request, response)
        old = self.calls.pop(request.call_id, None)
        if old is not None:
            old.stop()
        self.calls[request.call_id] = sender

    def on_ack(self, request: SipRequest) -> None:
        self.playbacks.on_ack(request)
        sender = self.calls.get(request.call_id)
        if sender is not None and not self._device.config.media_mute:
            sender.start()

    def _bye(self, request: SipRequest, txn: ServerTransaction) -> None:
        sender = self.calls.pop(request.call_id, None)
        self._dialogs.pop(request.call_id, None)
        if sender is not None:
            sender.stop()
            self.byes += 1
        self.respond(txn, 200 if sender is not None else 481)

    def stop_media(self) -> None:
        self.playbacks.stop()
        for sender in self.calls.values():
            sender.stop()
        self.calls.clear()
        self._dialogs.clear()

    def hang_up(self) -> asyncio.Future[list[int]]:
        """End every Play from the device's side with BYE (as a camera that reboots or
        hits its stream limit does); the future gets the platform's final statuses."""
        future: asyncio.Future[list[int]] = self._device.loop.create_future()
        calls = list(self.calls)
        statuses: list[int] = []
        port = self._device.port
        if not calls or port is None:
            future.set_result([])
            return future
        for call_id in calls:
            self.calls.pop(call_id).stop()
            dialog = self._dialogs.pop(call_id, None)
            if dialog is None:
                statuses.append(0)
                continue
            request = dialog.create_request(
                "BYE", via=self._device.via(), headers=[("User-Agent", USER_AGENT)]
            )

            def answered(response: SipResponse | None) -> None:
                statuses.append(408 if response is None else response.status_code)
                if len(statuses) == len(calls) and not future.done():
                    future.set_result(statuses)

            port.send_request(request, answered)
        if len(statuses) == len(calls) and not future.done():
            future.set_result(statuses)
        return future

    def _message(self, request: SipRequest, txn: ServerTransaction) -> None:
        try:
            message = parse_manscdp(request.body)
        except ParseError:
            self.respond(txn, 400)
            return
        self.respond(txn, 200)
        self._answer(message)

    def _answer(self, message: ManscdpMessage) -> None:
        if self.playbacks.answer(message):
            return
        config = self._device.config
        if isinstance(message, CatalogQuery):
            self._send_catalog(message.sn)
        elif isinstance(message, DeviceInfoQuery):
            info = DeviceInfoResponse(
                sn=message.sn,
                device_id=self._device.device_id,
                result="OK",
                device_name=self._device.plan.name,
                manufacturer=config.manufacturer,
                model=self._device.plan.model,
                firmware="V1.0.0 build 20240517",
                channel=len(self._device.plan.channels),
            )
            self.send_message(info.serialize(config.charset))
        elif isinstance(message, DeviceStatusQuery):
            status = DeviceStatusResponse(
                sn=message.sn,
                device_id=self._device.device_id,
                result="OK",
                online="ONLINE",
                status="OK",
                encode="ON",
                record="OFF",
                device_time=datetime.now().replace(microsecond=0),
            )
            self.send_message(status.serialize(config.charset))
        elif isinstance(message, DeviceControl):
            outcome = "OK" if message.ptz_cmd is None else self.ptz.control(message)
            result = ResultResponse("DeviceControl", message.sn, self._device.device_id, outcome)
            self.send_message(result.serialize(config.charset))

    def send_message(
        self, body: bytes, done: Callable[[SipResponse | None], None] | None = None
    ) -> None:
        """A MANSCDP MESSAGE to the platform (outside any dialog)."""
        if self._device.port is None:
            return
        config = self._device.config
        request = build_request(
            "MESSAGE",
            self._device.uri(config.platform_id),
            via=self._device.via(),
            from_addr=NameAddr(self._device.uri(self._device.device_id)).with_tag(
                self._device.port.endpoint.new_tag()
            ),
            to_addr=NameAddr(self._device.uri(config.platform_id)),
            call_id=self._device.port.endpoint.new_call_id(),
            cseq=1,
            content_type=MANSCDP_CONTENT_TYPE,
            body=body,
            headers=[("User-Agent", USER_AGENT)],
        )
        self._device.port.send_request(request, done or (lambda _: None))

    def _send_catalog(self, sn: int) -> None:
        """Parts of ``catalog_items_min..max`` items, each sent after the previous 200."""
        items = [
            self._device.plan.catalog_item(c, self._device.config.manufacturer)
            for c in self._device.plan.channels
        ]
        parts: list[list[CatalogItem]] = []
        while items or not parts:
            size = self._device.rng.randint(
                self._device.config.catalog_items_min, self._device.config.catalog_items_max
            )
            parts.append(items[:size])
            items = items[size:]
        total = sum(len(part) for part in parts)

        def send(index: int) -> None:
            response = CatalogResponse(sn, self._device.device_id, total, tuple(parts[index]))

            def next_part(answer: SipResponse | None) -> None:
                if answer is not None and answer.is_success and index + 1 < len(parts):
                    send(index + 1)

            self.send_message(response.serialize(self._device.config.charset), next_part)

        send(0)

    def _subscribe(self, request: SipRequest, txn: ServerTransaction) -> None:
        package = (request.headers.get("Event") or "").split(";", 1)[0].strip().lower()
        if package != "catalog":
            self.respond(txn, 489)
            return
        expires = request.expires if request.expires is not None else 3600
        response = self.respond(
            txn,
            200,
            headers=[("Contact", self._device.contact().serialize()), ("Expires", str(expires))],
        )
        if expires == 0:
            self._device.subscription = None
            return
        current = self._device.subscription
        if current is not None and current.matches(request):
            current.receive_request(request)
            return
        try:
            self._device.subscription = Dialog.from_uas(request, response)
        except ParseError:
            self._device.subscription = None

    def notify_catalog(self, event: str, channels: Sequence[ChannelPlan]) -> asyncio.Future[int]:
        """Change the plan and NOTIFY the platform (§9.11.4): ``ADD``, ``DEL``, ``UPDATE``,
        ``ON``, ``OFF``, ``VLOST``, ``DEFECT``. Inside the subscription dialog when there
        is one, else outside (as some devices do). The future gets the final status."""
        future: asyncio.Future[int] = self._device.loop.create_future()
        event = event.upper()
        self._apply_to_plan(event, channels)
        items = []
        for channel in channels:
            if event in ("ADD", "UPDATE"):
                full = self._device.plan.catalog_item(channel, self._device.config.manufacturer)
                items.append(dataclasses.replace(full, event=event))
            else:
                items.append(CatalogItem(device_id=channel.channel_id, event=event))
        sn = self._device.rng.randint(1, 1_000_000)
        body = CatalogNotify(sn, self._device.device_id, len(items), tuple(items)).serialize(
            self._device.config.charset
        )
        headers = [
            ("Event", "Catalog"),
            ("Subscription-State", "active"),
            ("User-Agent", USER_AGENT),
        ]
        assert self._device.port is not None
        if self._device.subscription is not None:
            request = self._device.subscription.create_request(
                "NOTIFY",
                via=self._device.via(),
                contact=self._device.contact(),
                body=body,
                content_type=MANSCDP_CONTENT_TYPE,
                headers=headers,
            )
        else:
            request = build_request(
                "NOTIFY",
                self._device.uri(self._device.config.platform_id),
                via=self._device.via(),
                from_addr=NameAddr(self._device.uri(self._device.device_id)).with_tag(
                    self._device.port.endpoint.new_tag()
                ),
                to_addr=NameAddr(self._device.uri(self._device.config.platform_id)),
                call_id=self._device.port.endpoint.new_call_id(),
                cseq=1,
                contact=self._device.contact(),
                content_type=MANSCDP_CONTENT_TYPE,
                body=body,
                headers=headers,
            )

        def answered(response: SipResponse | None) -> None:
            if not future.done():
                future.set_result(408 if response is None else response.status_code)

        self._device.port.send_request(request, answered)
        return future

    def _apply_to_plan(self, event: str, channels: Sequence[ChannelPlan]) -> None:
        by_id = {channel.channel_id: channel for channel in self._device.plan.channels}
        for channel in channels:
            if event == "ADD" and channel.channel_id not in by_id:
                self._device.plan.channels.append(channel)
            elif event == "DEL":
                self._device.plan.channels = [
                    c for c in self._device.plan.channels if c.channel_id != channel.channel_id
                ]
            elif channel.channel_id in by_id:
                current = by_id[channel.channel_id]
                if event == "UPDATE":
                    current.name = channel.name
                elif event in ("ON", "OFF", "VLOST", "DEFECT"):
                    current.online = event == "ON"


def _user_of(uri: str) -> str | None:
    try:
        return SipUri.parse(uri).user
    except ParseError:
        return None
