"""MANSCDP XML bodies (GB/T 28181-2016 Appendix A): typed messages, tolerant parsing of
untrusted input, and serialization in the devices' own layout."""

from vigil.protocols.gb28181.manscdp.catalog import (
    CatalogEvent,
    CatalogItem,
    CatalogNotify,
    CatalogQuery,
    CatalogResponse,
)
from vigil.protocols.gb28181.manscdp.control import DeviceControl, DragZoom, HomePosition
from vigil.protocols.gb28181.manscdp.device import (
    AlarmDutyStatus,
    DeviceInfoQuery,
    DeviceInfoResponse,
    DeviceStatusQuery,
    DeviceStatusResponse,
    Keepalive,
    ResultResponse,
)
from vigil.protocols.gb28181.manscdp.dispatch import ManscdpMessage, UnknownMessage, parse_manscdp
from vigil.protocols.gb28181.manscdp.notify import (
    AlarmNotify,
    AlarmQuery,
    MediaStatusNotify,
    MobilePositionNotify,
    MobilePositionQuery,
)
from vigil.protocols.gb28181.manscdp.record import RecordInfoQuery, RecordInfoResponse, RecordItem

MANSCDP_CONTENT_TYPE = "Application/MANSCDP+xml"

__all__ = [
    "MANSCDP_CONTENT_TYPE",
    "AlarmDutyStatus",
    "AlarmNotify",
    "AlarmQuery",
    "CatalogEvent",
    "CatalogItem",
    "CatalogNotify",
    "CatalogQuery",
    "CatalogResponse",
    "DeviceControl",
    "DeviceInfoQuery",
    "DeviceInfoResponse",
    "DeviceStatusQuery",
    "DeviceStatusResponse",
    "DragZoom",
    "HomePosition",
    "Keepalive",
    "ManscdpMessage",
    "MediaStatusNotify",
    "MobilePositionNotify",
    "MobilePositionQuery",
    "RecordInfoQuery",
    "RecordInfoResponse",
    "RecordItem",
    "ResultResponse",
    "UnknownMessage",
    "parse_manscdp",
]
