"""``parse_manscdp``: body bytes to a typed MANSCDP message (GB/T 28181-2016 Appendix A.2).

The root element (``Control`` / ``Query`` / ``Notify`` / ``Response``) and ``CmdType`` pick
the type; both are matched case-insensitively. Commands without a typed model here
(ConfigDownload, PresetQuery, Broadcast, the 2022 additions…) come back as
:class:`UnknownMessage` with their top-level fields, so a platform can still answer or relay
them instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.manscdp.catalog import CatalogNotify, CatalogQuery, CatalogResponse
from vigil.protocols.gb28181.manscdp.control import DeviceControl
from vigil.protocols.gb28181.manscdp.device import (
    DeviceInfoQuery,
    DeviceInfoResponse,
    DeviceStatusQuery,
    DeviceStatusResponse,
    Keepalive,
    ResultResponse,
)
from vigil.protocols.gb28181.manscdp.notify import (
    AlarmNotify,
    AlarmQuery,
    MediaStatusNotify,
    MobilePositionNotify,
    MobilePositionQuery,
)
from vigil.protocols.gb28181.manscdp.record import RecordInfoQuery, RecordInfoResponse
from vigil.protocols.gb28181.manscdp.xml_reader import Node, parse_int, read_document

ROOTS = {"control": "Control", "query": "Query", "notify": "Notify", "response": "Response"}


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A well-formed MANSCDP body of a command this module does not model."""

    root: str
    cmd_type: str
    sn: int | None
    device_id: str | None
    fields: dict[str, str] = field(default_factory=dict)


ManscdpMessage = (
    Keepalive
    | CatalogQuery
    | CatalogResponse
    | CatalogNotify
    | DeviceInfoQuery
    | DeviceInfoResponse
    | DeviceStatusQuery
    | DeviceStatusResponse
    | RecordInfoQuery
    | RecordInfoResponse
    | AlarmNotify
    | AlarmQuery
    | MobilePositionQuery
    | MobilePositionNotify
    | MediaStatusNotify
    | DeviceControl
    | ResultResponse
    | UnknownMessage
)

_PARSERS: dict[tuple[str, str], Callable[[Node], ManscdpMessage]] = {
    ("Notify", "keepalive"): Keepalive.from_node,
    ("Query", "catalog"): CatalogQuery.from_node,
    ("Response", "catalog"): CatalogResponse.from_node,
    ("Notify", "catalog"): CatalogNotify.from_node,
    ("Query", "deviceinfo"): DeviceInfoQuery.from_node,
    ("Response", "deviceinfo"): DeviceInfoResponse.from_node,
    ("Query", "devicestatus"): DeviceStatusQuery.from_node,
    ("Response", "devicestatus"): DeviceStatusResponse.from_node,
    ("Query", "recordinfo"): RecordInfoQuery.from_node,
    ("Response", "recordinfo"): RecordInfoResponse.from_node,
    ("Notify", "alarm"): AlarmNotify.from_node,
    ("Query", "alarm"): AlarmQuery.from_node,
    ("Query", "mobileposition"): MobilePositionQuery.from_node,
    ("Notify", "mobileposition"): MobilePositionNotify.from_node,
    ("Notify", "mediastatus"): MediaStatusNotify.from_node,
    ("Control", "devicecontrol"): DeviceControl.from_node,
}

# Responses that carry only <Result>, with their canonical CmdType spelling.
_RESULT_RESPONSES = {
    "devicecontrol": "DeviceControl",
    "deviceconfig": "DeviceConfig",
    "alarm": "Alarm",
    "broadcast": "Broadcast",
}


def parse_manscdp(body: bytes, charset_override: str | None = None) -> ManscdpMessage:
    """Parse an untrusted MANSCDP body; raises only ``ParseError``."""
    root = read_document(body, charset_override=charset_override)
    root_name = ROOTS.get(root.name.lower())
    if root_name is None:
        raise ParseError(f"unknown MANSCDP root <{root.name[:40]}>")
    cmd_type = root.text("CmdType")
    if cmd_type is None:
        raise ParseError("MANSCDP body without <CmdType>")
    key = cmd_type.lower()
    parser = _PARSERS.get((root_name, key))
    if parser is not None:
        return parser(root)
    if root_name == "Response" and key in _RESULT_RESPONSES:
        return ResultResponse.from_node(root, _RESULT_RESPONSES[key])
    return UnknownMessage(
        root=root_name,
        cmd_type=cmd_type,
        sn=parse_int(root.text("SN")),
        device_id=root.text("DeviceID"),
        fields=root.leaves(),
    )
