"""Keepalive, DeviceInfo, DeviceStatus and the generic ``Result`` response
(GB/T 28181-2016 §9.6 / A.2.5 a; §9.5.2-9.5.3 / A.2.4 a, c / A.2.6 a, d, e).

Tolerated quirks: ``Alarmstatus`` in any case with ``Num`` or ``num``; vendor extras in
DeviceInfo (``DeviceType``, ``MaxCamera``, ``LoginName``, ``Password``…) are ignored;
``Online`` spelled in mixed case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from vigil.protocols.gb28181.charset import DEFAULT_CHARSET
from vigil.protocols.gb28181.manscdp.xml_reader import (
    MAX_ITEMS,
    Node,
    required_int,
    required_text,
)
from vigil.protocols.gb28181.manscdp.xml_writer import (
    XmlNode,
    group,
    leaf,
    optional_group,
    render_message,
)


def _upper(value: str | None) -> str | None:
    return value.upper() if value is not None else None


@dataclass(frozen=True, slots=True)
class Keepalive:
    """``<Notify><CmdType>Keepalive</CmdType>`` with ``Status`` and faulty sub-devices."""

    ROOT: ClassVar[str] = "Notify"
    CMD_TYPE: ClassVar[str] = "Keepalive"

    sn: int
    device_id: str
    status: str = "OK"
    faulty_devices: tuple[str, ...] = ()

    @classmethod
    def from_node(cls, node: Node) -> Keepalive:
        info = node.child("Info")
        faulty: tuple[str, ...] = ()
        if info is not None:
            faulty = tuple(n.value for n in info.children("DeviceID") if n.value is not None)
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            status=_upper(node.text("Status")) or "OK",
            faulty_devices=faulty,
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        info = optional_group("Info", [leaf("DeviceID", d) for d in self.faulty_devices])
        body = [leaf("Status", self.status), info]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)


@dataclass(frozen=True, slots=True)
class DeviceInfoQuery:
    ROOT: ClassVar[str] = "Query"
    CMD_TYPE: ClassVar[str] = "DeviceInfo"

    sn: int
    device_id: str

    @classmethod
    def from_node(cls, node: Node) -> DeviceInfoQuery:
        return cls(sn=required_int(node, "SN"), device_id=required_text(node, "DeviceID"))

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, [], charset)


@dataclass(frozen=True, slots=True)
class DeviceInfoResponse:
    ROOT: ClassVar[str] = "Response"
    CMD_TYPE: ClassVar[str] = "DeviceInfo"

    sn: int
    device_id: str
    result: str | None = "OK"
    device_name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    channel: int | None = None

    @classmethod
    def from_node(cls, node: Node) -> DeviceInfoResponse:
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            result=_upper(node.text("Result")),
            device_name=node.text("DeviceName"),
            manufacturer=node.text("Manufacturer"),
            model=node.text("Model"),
            firmware=node.text("Firmware"),
            channel=node.int("Channel"),
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        body = [
            leaf("DeviceName", self.device_name),
            leaf("Result", self.result),
            leaf("Manufacturer", self.manufacturer),
            leaf("Model", self.model),
            leaf("Firmware", self.firmware),
            leaf("Channel", self.channel),
        ]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)


@dataclass(frozen=True, slots=True)
class DeviceStatusQuery:
    ROOT: ClassVar[str] = "Query"
    CMD_TYPE: ClassVar[str] = "DeviceStatus"

    sn: int
    device_id: str

    @classmethod
    def from_node(cls, node: Node) -> DeviceStatusQuery:
        return cls(sn=required_int(node, "SN"), device_id=required_text(node, "DeviceID"))

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, [], charset)


@dataclass(frozen=True, slots=True)
class AlarmDutyStatus:
    """An ``Alarmstatus/Item``: alarm input and ``ONDUTY`` / ``OFFDUTY`` / ``ALARM``."""

    device_id: str
    duty_status: str | None


@dataclass(frozen=True, slots=True)
class DeviceStatusResponse:
    ROOT: ClassVar[str] = "Response"
    CMD_TYPE: ClassVar[str] = "DeviceStatus"

    sn: int
    device_id: str
    result: str | None = "OK"
    online: str | None = "ONLINE"
    status: str | None = "OK"
    reason: str | None = None
    encode: str | None = None
    record: str | None = None
    device_time: datetime | None = None
    alarm_status: tuple[AlarmDutyStatus, ...] = ()

    @property
    def is_online(self) -> bool:
        return (self.online or "").upper() in ("ONLINE", "ON", "OK")

    @classmethod
    def from_node(cls, node: Node) -> DeviceStatusResponse:
        alarms: list[AlarmDutyStatus] = []
        holder = node.child("Alarmstatus")
        if holder is not None:
            for item in holder.children("Item", limit=MAX_ITEMS):
                device = item.text("DeviceID")
                if device is not None:
                    alarms.append(AlarmDutyStatus(device, _upper(item.text("DutyStatus"))))
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            result=_upper(node.text("Result")),
            online=_upper(node.text("Online")),
            status=_upper(node.text("Status")),
            reason=node.text("Reason"),
            encode=_upper(node.text("Encode")),
            record=_upper(node.text("Record")),
            device_time=node.datetime("DeviceTime"),
            alarm_status=tuple(alarms),
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        alarm_nodes: XmlNode | None = None
        if self.alarm_status:
            alarm_nodes = group(
                "Alarmstatus",
                [
                    group(
                        "Item", [leaf("DeviceID", a.device_id), leaf("DutyStatus", a.duty_status)]
                    )
                    for a in self.alarm_status
                ],
                [("Num", str(len(self.alarm_status)))],
            )
        body = [
            leaf("Result", self.result),
            leaf("Online", self.online),
            leaf("Status", self.status),
            leaf("Reason", self.reason),
            leaf("Encode", self.encode),
            leaf("Record", self.record),
            leaf("DeviceTime", self.device_time),
            alarm_nodes,
        ]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)


@dataclass(frozen=True, slots=True)
class ResultResponse:
    """``<Response>`` carrying only ``Result`` (OK/ERROR): DeviceControl, DeviceConfig,
    Alarm and Broadcast answers (A.2.6 a, b, f)."""

    ROOT: ClassVar[str] = "Response"

    cmd_type: str
    sn: int
    device_id: str
    result: str = "OK"

    @property
    def ok(self) -> bool:
        return self.result == "OK"

    @classmethod
    def from_node(cls, node: Node, cmd_type: str) -> ResultResponse:
        return cls(
            cmd_type=cmd_type,
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            result=_upper(node.text("Result")) or "OK",
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        body = [leaf("Result", self.result)]
        return render_message(self.ROOT, self.cmd_type, self.sn, self.device_id, body, charset)
