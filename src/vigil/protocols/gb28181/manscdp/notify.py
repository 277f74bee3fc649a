"""Alarm, mobile position and media status messages (GB/T 28181-2016 §9.4 / A.2.5 b and
A.2.4 e; §9.11.5 / A.2.5 e and A.2.4 h; §9.8.3 / A.2.5 d ``MediaStatus`` NotifyType 121,
sent when a playback or download reaches the end of its file)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from vigil.protocols.gb28181.charset import DEFAULT_CHARSET
from vigil.protocols.gb28181.manscdp.xml_reader import Node, required_int, required_text
from vigil.protocols.gb28181.manscdp.xml_writer import leaf, optional_group, render_message

MEDIA_STATUS_END_OF_FILE = 121


@dataclass(frozen=True, slots=True)
class AlarmNotify:
    """A device alarm. ``alarm_method`` 1 telephone … 5 video, 6 device fault, 7 other;
    ``alarm_type`` depends on the method (A.2.5 b); ``event_type`` 1 enter / 2 leave."""

    ROOT: ClassVar[str] = "Notify"
    CMD_TYPE: ClassVar[str] = "Alarm"

    sn: int
    device_id: str
    alarm_priority: int | None = None
    alarm_method: int | None = None
    alarm_time: datetime | None = None
    alarm_description: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    alarm_type: int | None = None
    event_type: int | None = None

    @classmethod
    def from_node(cls, node: Node) -> AlarmNotify:
        info = node.child("Info")
        alarm_type = info.int("AlarmType") if info is not None else None
        event_type = None
        if info is not None:
            param = info.child("AlarmTypeParam")
            event_type = param.int("EventType") if param is not None else None
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            alarm_priority=node.int("AlarmPriority"),
            alarm_method=node.int("AlarmMethod"),
            alarm_time=node.datetime("AlarmTime"),
            alarm_description=node.text("AlarmDescription"),
            longitude=node.float("Longitude"),
            latitude=node.float("Latitude"),
            alarm_type=alarm_type if alarm_type is not None else node.int("AlarmType"),
            event_type=event_type,
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        param = optional_group("AlarmTypeParam", [leaf("EventType", self.event_type)])
        body = [
            leaf("AlarmPriority", self.alarm_priority),
            leaf("AlarmMethod", self.alarm_method),
            leaf("AlarmTime", self.alarm_time),
            leaf("AlarmDescription", self.alarm_description),
            leaf("Longitude", self.longitude),
            leaf("Latitude", self.latitude),
            optional_group("Info", [leaf("AlarmType", self.alarm_type), param]),
        ]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)


@dataclass(frozen=True, slots=True)
class AlarmQuery:
    """Alarm query, also the body of an alarm SUBSCRIBE (A.2.4 e)."""

    ROOT: ClassVar[str] = "Query"
    CMD_TYPE: ClassVar[str] = "Alarm"

    sn: int
    device_id: str
    start_alarm_priority: int | None = None
    end_alarm_priority: int | None = None
    alarm_method: str | None = None
    alarm_type: str | None = None
    start_alarm_time: datetime | None = None
    end_alarm_time: datetime | None = None

    @classmethod
    def from_node(cls, node: Node) -> AlarmQuery:
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            start_alarm_priority=node.int("StartAlarmPriority"),
            end_alarm_priority=node.int("EndAlarmPriority"),
            alarm_method=node.text("AlarmMethod"),
            alarm_type=node.text("AlarmType"),
            start_alarm_time=node.datetime("StartAlarmTime"),
            end_alarm_time=node.datetime("EndAlarmTime"),
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        body = [
            leaf("StartAlarmPriority", self.start_alarm_priority),
            leaf("EndAlarmPriority", self.end_alarm_priority),
            leaf("AlarmMethod", self.alarm_method),
            leaf("AlarmType", self.alarm_type),
            leaf("StartAlarmTime", self.start_alarm_time),
            leaf("EndAlarmTime", self.end_alarm_time),
        ]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)


@dataclass(frozen=True, slots=True)
class MobilePositionQuery:
    """Position query / subscription body; ``interval_s`` defaults to 5 on devices."""

    ROOT: ClassVar[str] = "Query"
    CMD_TYPE: ClassVar[str] = "MobilePosition"

    sn: int
    device_id: str
    interval_s: int | None = None

    @classmethod
    def from_node(cls, node: Node) -> MobilePositionQuery:
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            interval_s=node.int("Interval"),
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        body = [leaf("Interval", self.interval_s)]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)


@dataclass(frozen=True, slots=True)
class MobilePositionNotify:
    """WGS-84 position; speed km/h, direction degrees clockwise from north, altitude m."""

    ROOT: ClassVar[str] = "Notify"
    CMD_TYPE: ClassVar[str] = "MobilePosition"

    sn: int
    device_id: str
    time: datetime | None = None
    longitude: float | None = None
    latitude: float | None = None
    speed: float | None = None
    direction: float | None = None
    altitude: float | None = None

    @classmethod
    def from_node(cls, node: Node) -> MobilePositionNotify:
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            time=node.datetime("Time"),
            longitude=node.float("Longitude"),
            latitude=node.float("Latitude"),
            speed=node.float("Speed"),
            direction=node.float("Direction"),
            altitude=node.float("Altitude"),
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        body = [
            leaf("Time", self.time),
            leaf("Longitude", self.longitude),
            leaf("Latitude", self.latitude),
            leaf("Speed", self.speed),
            leaf("Direction", self.direction),
            leaf("Altitude", self.altitude),
        ]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)


@dataclass(frozen=True, slots=True)
class MediaStatusNotify:
    """``NotifyType`` 121: the playback/download reached the end (match it by Call-ID;
    Hikvision puts a non-device ID in From)."""

    ROOT: ClassVar[str] = "Notify"
    CMD_TYPE: ClassVar[str] = "MediaStatus"

    sn: int
    device_id: str
    notify_type: int = MEDIA_STATUS_END_OF_FILE

    @property
    def end_of_file(self) -> bool:
        return self.notify_type == MEDIA_STATUS_END_OF_FILE

    @classmethod
    def from_node(cls, node: Node) -> MediaStatusNotify:
        notify_type = node.int("NotifyType")
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            notify_type=notify_type if notify_type is not None else 0,
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        body = [leaf("NotifyType", self.notify_type)]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)
