"""Catalog query, response and notification (GB/T 28181-2016 §9.5.1, A.2.4 b, A.2.6 c,
§9.11.3 and Appendix N/O/P; ``itemType`` of the Appendix A schema).

Tolerated quirks: ``DeviceList`` missing with ``Item``s directly under the root; ``num``
in lower case or unquoted; PTZType and the other ``Info`` fields at item top level (read
both, the top level wins only when ``Info`` lacks them); ``Parental`` 65535 (any non-zero is
a parent); ``Status`` ON/On/ONLINE/OK and OFF/Off/OFFLINE; empty or non-numeric optional
numbers read as absent; extra vendor elements (``StreamNum``…) ignored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from vigil.protocols.gb28181.charset import DEFAULT_CHARSET
from vigil.protocols.gb28181.manscdp.xml_reader import (
    MAX_ITEMS,
    Node,
    parse_int,
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


class CatalogEvent(enum.Enum):
    """Item ``Event`` in a catalog NOTIFY (§9.11.4 / Appendix P)."""

    ON = "ON"
    OFF = "OFF"
    VLOST = "VLOST"
    DEFECT = "DEFECT"
    ADD = "ADD"
    DEL = "DEL"
    UPDATE = "UPDATE"


_ONLINE = frozenset({"ON", "ONLINE", "OK"})
_OFFLINE = frozenset({"OFF", "OFFLINE"})


def normalize_status(value: str | None) -> str | None:
    """``ON``/``OFF`` for the many spellings devices use; other values upper-cased."""
    if value is None:
        return None
    upper = value.strip().upper()
    if upper in _ONLINE:
        return "ON"
    if upper in _OFFLINE:
        return "OFF"
    return upper or None


# (attribute, element) of the fields carried inside <Info> (and at top level by some devices).
_INFO_INT_FIELDS = (
    ("ptz_type", "PTZType"),
    ("position_type", "PositionType"),
    ("room_type", "RoomType"),
    ("use_type", "UseType"),
    ("supply_light_type", "SupplyLightType"),
    ("direction_type", "DirectionType"),
    ("svc_space_support_mode", "SVCSpaceSupportMode"),
    ("svc_time_support_mode", "SVCTimeSupportMode"),
)
_INFO_TEXT_FIELDS = (
    ("resolution", "Resolution"),
    ("business_group_id", "BusinessGroupID"),
    ("download_speed", "DownloadSpeed"),
    ("stream_number_list", "StreamNumberList"),
)


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One catalog node: a device or channel, or a region / group / organisation node."""

    device_id: str
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    owner: str | None = None
    civil_code: str | None = None
    block: str | None = None
    address: str | None = None
    parental: bool | None = None
    parent_id: str | None = None
    safety_way: int | None = None
    register_way: int | None = None
    cert_num: str | None = None
    certifiable: int | None = None
    err_code: int | None = None
    end_time: str | None = None
    secrecy: int | None = None
    ip_address: str | None = None
    port: int | None = None
    password: str | None = None
    status: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    ptz_type: int | None = None
    position_type: int | None = None
    room_type: int | None = None
    use_type: int | None = None
    supply_light_type: int | None = None
    direction_type: int | None = None
    resolution: str | None = None
    business_group_id: str | None = None
    download_speed: str | None = None
    svc_space_support_mode: int | None = None
    svc_time_support_mode: int | None = None
    stream_number_list: str | None = None
    event: str | None = None

    @property
    def online(self) -> bool | None:
        return None if self.status is None else self.status == "ON"

    @property
    def parent_ids(self) -> tuple[str, ...]:
        """``ParentID`` may list several IDs separated by ``/`` (device + organisation)."""
        if not self.parent_id:
            return ()
        return tuple(part.strip() for part in self.parent_id.split("/") if part.strip())

    @classmethod
    def from_node(cls, node: Node) -> CatalogItem:
        info = node.child("Info")
        extra: dict[str, int | str | None] = {}
        for attr, element in _INFO_INT_FIELDS:
            value = info.int(element) if info is not None else None
            extra[attr] = value if value is not None else node.int(element)
        for attr, element in _INFO_TEXT_FIELDS:
            text = info.text(element) if info is not None else None
            extra[attr] = text if text is not None else node.text(element)
        parental = parse_int(node.text("Parental"))
        event = node.text("Event")
        return cls(
            device_id=required_text(node, "DeviceID"),
            name=node.text("Name"),
            manufacturer=node.text("Manufacturer"),
            model=node.text("Model"),
            owner=node.text("Owner"),
            civil_code=node.text("CivilCode"),
            block=node.text("Block"),
            address=node.text("Address"),
            parental=None if parental is None else parental != 0,
            parent_id=node.text("ParentID"),
            safety_way=node.int("SafetyWay"),
            register_way=node.int("RegisterWay"),
            cert_num=node.text("CertNum"),
            certifiable=node.int("Certifiable"),
            err_code=node.int("ErrCode"),
            end_time=node.text("EndTime"),
            secrecy=node.int("Secrecy"),
            ip_address=node.text("IPAddress"),
            port=node.int("Port"),
            password=node.text("Password"),
            status=normalize_status(node.text("Status")),
            longitude=node.float("Longitude"),
            latitude=node.float("Latitude"),
            event=event.upper() if event else None,
            **extra,  # type: ignore[arg-type]
        )

    def to_node(self) -> XmlNode:
        info = optional_group(
            "Info",
            [leaf(element, getattr(self, attr)) for attr, element in _INFO_INT_FIELDS]
            + [leaf(element, getattr(self, attr)) for attr, element in _INFO_TEXT_FIELDS],
        )
        return group(
            "Item",
            [
                leaf("DeviceID", self.device_id),
                leaf("Event", self.event),
                leaf("Name", self.name),
                leaf("Manufacturer", self.manufacturer),
                leaf("Model", self.model),
                leaf("Owner", self.owner),
                leaf("CivilCode", self.civil_code),
                leaf("Block", self.block),
                leaf("Address", self.address),
                leaf("Parental", None if self.parental is None else int(self.parental)),
                leaf("ParentID", self.parent_id),
                leaf("SafetyWay", self.safety_way),
                leaf("RegisterWay", self.register_way),
                leaf("CertNum", self.cert_num),
                leaf("Certifiable", self.certifiable),
                leaf("ErrCode", self.err_code),
                leaf("EndTime", self.end_time),
                leaf("Secrecy", self.secrecy),
                leaf("IPAddress", self.ip_address),
                leaf("Port", self.port),
                leaf("Password", self.password),
                leaf("Status", self.status),
                leaf("Longitude", self.longitude),
                leaf("Latitude", self.latitude),
                info,
            ],
        )


def read_items(root: Node) -> tuple[int, tuple[Node, ...]]:
    """(declared Num or -1, item nodes) from ``<DeviceList>`` or, as a quirk, the root."""
    holder = root.child("DeviceList")
    if holder is None:
        items = root.children("Item", limit=MAX_ITEMS)
        return -1, tuple(items)
    num = parse_int(holder.attribute("Num"))
    return (num if num is not None else -1), tuple(holder.children("Item", limit=MAX_ITEMS))


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    """``<Query><CmdType>Catalog</CmdType>`` (A.2.4 b); the time window is rarely honoured."""

    ROOT: ClassVar[str] = "Query"
    CMD_TYPE: ClassVar[str] = "Catalog"

    sn: int
    device_id: str
    start_time: datetime | None = None
    end_time: datetime | None = None

    @classmethod
    def from_node(cls, node: Node) -> CatalogQuery:
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            start_time=node.datetime("StartTime"),
            end_time=node.datetime("EndTime"),
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        body = [leaf("StartTime", self.start_time), leaf("EndTime", self.end_time)]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)


@dataclass(frozen=True, slots=True)
class CatalogResponse:
    """One part of a catalog answer (A.2.6 c): ``SumNum`` across parts, items in this one."""

    ROOT: ClassVar[str] = "Response"
    CMD_TYPE: ClassVar[str] = "Catalog"

    sn: int
    device_id: str
    sum_num: int
    items: tuple[CatalogItem, ...] = ()

    @classmethod
    def from_node(cls, node: Node) -> CatalogResponse:
        _, item_nodes = read_items(node)
        items = tuple(CatalogItem.from_node(item) for item in item_nodes)
        sum_num = node.int("SumNum")
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            sum_num=sum_num if sum_num is not None and sum_num >= 0 else len(items),
            items=items,
        )

    def _body(self) -> list[XmlNode | None]:
        device_list = None
        if self.items or self.sum_num:
            device_list = group(
                "DeviceList",
                [item.to_node() for item in self.items],
                [("Num", str(len(self.items)))],
            )
        return [leaf("SumNum", self.sum_num), device_list]

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        return render_message(
            self.ROOT, self.CMD_TYPE, self.sn, self.device_id, self._body(), charset
        )


@dataclass(frozen=True, slots=True)
class CatalogNotify(CatalogResponse):
    """Catalog change notification in a NOTIFY (§9.11.4): items carry ``Event``."""

    ROOT: ClassVar[str] = "Notify"

    @classmethod
    def from_node(cls, node: Node) -> CatalogNotify:
        response = CatalogResponse.from_node(node)
        return cls(response.sn, response.device_id, response.sum_num, response.items)
