"""DeviceControl (GB/T 28181-2016 §9.3, A.2.3 a): PTZ, reboot, recording, arming, alarm
reset, forced I-frame, drag zoom and home position.

``PTZCmd`` gets no Response (J.6); the others are answered with a ``Result`` response.
The forced I-frame element is spelled ``IFameCmd`` in the 2016 schema and ``IFrameCmd`` by
some devices: both are read, the 2016 spelling is written (as WVP does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vigil.protocols.gb28181.charset import DEFAULT_CHARSET
from vigil.protocols.gb28181.manscdp.xml_reader import Node, required_int, required_text
from vigil.protocols.gb28181.manscdp.xml_writer import XmlNode, leaf, optional_group, render_message
from vigil.protocols.gb28181.ptz import PtzCommand


@dataclass(frozen=True, slots=True)
class DragZoom:
    """``DragZoomIn`` / ``DragZoomOut``: the window and the dragged rectangle, in pixels."""

    zoom_in: bool
    length: int | None
    width: int | None
    mid_point_x: int | None
    mid_point_y: int | None
    length_x: int | None
    length_y: int | None

    @classmethod
    def from_node(cls, node: Node, zoom_in: bool) -> DragZoom:
        return cls(
            zoom_in=zoom_in,
            length=node.int("Length"),
            width=node.int("Width"),
            mid_point_x=node.int("MidPointX"),
            mid_point_y=node.int("MidPointY"),
            length_x=node.int("LengthX"),
            length_y=node.int("LengthY"),
        )

    def to_node(self) -> XmlNode | None:
        return optional_group(
            "DragZoomIn" if self.zoom_in else "DragZoomOut",
            [
                leaf("Length", self.length),
                leaf("Width", self.width),
                leaf("MidPointX", self.mid_point_x),
                leaf("MidPointY", self.mid_point_y),
                leaf("LengthX", self.length_x),
                leaf("LengthY", self.length_y),
            ],
        )


@dataclass(frozen=True, slots=True)
class HomePosition:
    enabled: bool
    reset_time_s: int | None = None
    preset_index: int | None = None

    def to_node(self) -> XmlNode | None:
        return optional_group(
            "HomePosition",
            [
                leaf("Enabled", int(self.enabled)),
                leaf("ResetTime", self.reset_time_s),
                leaf("PresetIndex", self.preset_index),
            ],
        )


@dataclass(frozen=True, slots=True)
class DeviceControl:
    ROOT: ClassVar[str] = "Control"
    CMD_TYPE: ClassVar[str] = "DeviceControl"

    sn: int
    device_id: str
    ptz_cmd: str | None = None
    tele_boot: str | None = None
    record_cmd: str | None = None
    guard_cmd: str | None = None
    alarm_cmd: str | None = None
    iframe_cmd: str | None = None
    drag_zoom: DragZoom | None = None
    home_position: HomePosition | None = None
    control_priority: int | None = None
    alarm_method: int | None = None
    alarm_type: int | None = None

    @property
    def ptz(self) -> PtzCommand | None:
        """The decoded ``PTZCmd`` (``ParseError`` when it is malformed)."""
        return PtzCommand.parse(self.ptz_cmd) if self.ptz_cmd is not None else None

    @classmethod
    def from_node(cls, node: Node) -> DeviceControl:
        info = node.child("Info")
        drag: DragZoom | None = None
        for name, zoom_in in (("DragZoomIn", True), ("DragZoomOut", False)):
            drag_node = node.child(name)
            if drag_node is not None:
                drag = DragZoom.from_node(drag_node, zoom_in)
        home: HomePosition | None = None
        home_node = node.child("HomePosition")
        if home_node is not None:
            home = HomePosition(
                enabled=(home_node.int("Enabled") or 0) != 0,
                reset_time_s=home_node.int("ResetTime"),
                preset_index=home_node.int("PresetIndex"),
            )
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            ptz_cmd=node.text("PTZCmd"),
            tele_boot=node.text("TeleBoot"),
            record_cmd=node.text("RecordCmd"),
            guard_cmd=node.text("GuardCmd"),
            alarm_cmd=node.text("AlarmCmd"),
            iframe_cmd=node.text("IFameCmd") or node.text("IFrameCmd"),
            drag_zoom=drag,
            home_position=home,
            control_priority=info.int("ControlPriority") if info is not None else None,
            alarm_method=info.int("AlarmMethod") if info is not None else None,
            alarm_type=info.int("AlarmType") if info is not None else None,
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        body = [
            leaf("PTZCmd", self.ptz_cmd),
            leaf("TeleBoot", self.tele_boot),
            leaf("RecordCmd", self.record_cmd),
            leaf("GuardCmd", self.guard_cmd),
            leaf("AlarmCmd", self.alarm_cmd),
            leaf("IFameCmd", self.iframe_cmd),
            self.drag_zoom.to_node() if self.drag_zoom else None,
            self.home_position.to_node() if self.home_position else None,
            optional_group(
                "Info",
                [
                    leaf("ControlPriority", self.control_priority),
                    leaf("AlarmMethod", self.alarm_method),
                    leaf("AlarmType", self.alarm_type),
                ],
            ),
        ]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)
