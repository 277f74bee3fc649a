"""Record (video file) search (GB/T 28181-2016 §9.7, A.2.4 d query, A.2.6 h response).

Answers come in several messages with the same SN, like catalogs (Appendix N); ``SumNum`` 0
without a list means nothing was found. Dahua NVRs need ``<Type>all</Type>`` in the query,
so the builder always sends a Type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.charset import DEFAULT_CHARSET
from vigil.protocols.gb28181.manscdp.xml_reader import (
    MAX_ITEMS,
    Node,
    parse_int,
    required_int,
    required_text,
)
from vigil.protocols.gb28181.manscdp.xml_writer import XmlNode, group, leaf, render_message

RECORD_TYPES = ("time", "alarm", "manual", "all")


def _required_datetime(node: Node, name: str) -> datetime:
    value = node.datetime(name)
    if value is None:
        raise ParseError(f"<{name}> missing or not a date-time")
    return value


@dataclass(frozen=True, slots=True)
class RecordInfoQuery:
    ROOT: ClassVar[str] = "Query"
    CMD_TYPE: ClassVar[str] = "RecordInfo"

    sn: int
    device_id: str
    start_time: datetime
    end_time: datetime
    file_path: str | None = None
    address: str | None = None
    secrecy: int | None = 0
    type: str | None = "all"
    recorder_id: str | None = None
    indistinct_query: int | None = None

    @classmethod
    def from_node(cls, node: Node) -> RecordInfoQuery:
        record_type = node.text("Type")
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            start_time=_required_datetime(node, "StartTime"),
            end_time=_required_datetime(node, "EndTime"),
            file_path=node.text("FilePath"),
            address=node.text("Address"),
            secrecy=node.int("Secrecy"),
            type=record_type.lower() if record_type else None,
            recorder_id=node.text("RecorderID"),
            indistinct_query=node.int("IndistinctQuery"),
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        body = [
            leaf("StartTime", self.start_time),
            leaf("EndTime", self.end_time),
            leaf("FilePath", self.file_path),
            leaf("Address", self.address),
            leaf("Secrecy", self.secrecy),
            leaf("Type", self.type),
            leaf("RecorderID", self.recorder_id),
            leaf("IndistinctQuery", self.indistinct_query),
        ]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)


@dataclass(frozen=True, slots=True)
class RecordItem:
    """A recorded file or time span (``RecordList/Item``)."""

    device_id: str
    start_time: datetime | None
    end_time: datetime | None
    name: str | None = None
    file_path: str | None = None
    address: str | None = None
    secrecy: int | None = None
    type: str | None = None
    recorder_id: str | None = None
    file_size: int | None = None

    @classmethod
    def from_node(cls, node: Node) -> RecordItem:
        return cls(
            device_id=required_text(node, "DeviceID"),
            start_time=node.datetime("StartTime"),
            end_time=node.datetime("EndTime"),
            name=node.text("Name"),
            file_path=node.text("FilePath"),
            address=node.text("Address"),
            secrecy=node.int("Secrecy"),
            type=node.text("Type"),
            recorder_id=node.text("RecorderID"),
            file_size=node.int("FileSize"),
        )

    def to_node(self) -> XmlNode:
        return group(
            "Item",
            [
                leaf("DeviceID", self.device_id),
                leaf("Name", self.name),
                leaf("FilePath", self.file_path),
                leaf("Address", self.address),
                leaf("StartTime", self.start_time),
                leaf("EndTime", self.end_time),
                leaf("Secrecy", self.secrecy),
                leaf("Type", self.type),
                leaf("RecorderID", self.recorder_id),
                leaf("FileSize", self.file_size),
            ],
        )


@dataclass(frozen=True, slots=True)
class RecordInfoResponse:
    ROOT: ClassVar[str] = "Response"
    CMD_TYPE: ClassVar[str] = "RecordInfo"

    sn: int
    device_id: str
    sum_num: int
    items: tuple[RecordItem, ...] = ()
    name: str | None = None

    @classmethod
    def from_node(cls, node: Node) -> RecordInfoResponse:
        holder = node.child("RecordList")
        item_nodes = (holder or node).children("Item", limit=MAX_ITEMS)
        items = tuple(RecordItem.from_node(item) for item in item_nodes)
        sum_num = parse_int(node.text("SumNum"))
        return cls(
            sn=required_int(node, "SN"),
            device_id=required_text(node, "DeviceID"),
            sum_num=sum_num if sum_num is not None and sum_num >= 0 else len(items),
            items=items,
            name=node.text("Name"),
        )

    def serialize(self, charset: str = DEFAULT_CHARSET) -> bytes:
        record_list = None
        if self.items or self.sum_num:
            record_list = group(
                "RecordList",
                [item.to_node() for item in self.items],
                [("Num", str(len(self.items)))],
            )
        body = [leaf("Name", self.name), leaf("SumNum", self.sum_num), record_list]
        return render_message(self.ROOT, self.CMD_TYPE, self.sn, self.device_id, body, charset)
