"""Rules for single field values, shared by the edit functions and the ledger import.

Each check returns the cleaned value or raises ``ValueError`` with a plain reason; the caller
attaches the field (an API field name, or a spreadsheet row and column) to the reason. Values
may arrive untyped from JSON, so every check also refuses values of the wrong type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.device_id import DeviceId, parse_device_id
from vigil.registry.errors import FieldProblem, ValidationError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# Image collection points by GB/T 28181 type code (§D.1 Table D.2; the 2022 edition adds
# 120-125 for collection points grouped under a device). Anything else is a device, server
# or platform and cannot be a ledger point.
COLLECTION_POINT_TYPES: dict[int, str] = {
    120: "collection point (2022 type 120)",
    121: "collection point (2022 type 121)",
    122: "collection point (2022 type 122)",
    123: "collection point (2022 type 123)",
    124: "collection point (2022 type 124)",
    125: "collection point (2022 type 125)",
    131: "camera",
    132: "IPC",
    138: "mobile transmission device",
}

NETWORKS = ("police_video", "social_video", "internet", "wireless")  # REQUIREMENTS R1
POINT_CLASSES = (1, 2, 3)
PTZ_TYPES = range(1, 8)  # GB/T 28181-2022 catalog PTZType: 1 dome … 7 multi-sensor split
MAX_RETENTION_DAYS = 36_500  # a century: anything above is a typing slip, not a policy
MAX_RESOLUTION_PIXELS = 16_384  # per side
HD_MIN_WIDTH_PX = 1280  # REQUIREMENTS R1: HD is at least 1280×720
HD_MIN_HEIGHT_PX = 720

# Format names written in ledgers instead of pixel sizes.
NAMED_RESOLUTIONS = {
    "CIF": (352, 288),
    "4CIF": (704, 576),
    "D1": (720, 576),
    "720P": (1280, 720),
    "960P": (1280, 960),
    "1080P": (1920, 1080),
    "2K": (2560, 1440),
    "4K": (3840, 2160),
}


def clean_text(value: object, max_chars: int, *, required: bool = False) -> str:
    """Text stripped of surrounding space, at most ``max_chars`` long."""
    if not isinstance(value, str):
        raise ValueError("must be text")
    text = value.strip()
    if required and not text:
        raise ValueError("must not be empty")
    if len(text) > max_chars:
        raise ValueError(f"has {len(text)} characters; at most {max_chars} are allowed")
    return text


def clean_int(value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number from {low} to {high}")
    if not low <= value <= high:
        raise ValueError(f"must be from {low} to {high}, not {value}")
    return value


def clean_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def clean_coordinate(value: object, limit_deg: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number of degrees from -{limit_deg:g} to {limit_deg:g}")
    number = float(value)
    if math.isnan(number) or not -limit_deg <= number <= limit_deg:
        raise ValueError(f"must be from -{limit_deg:g} to {limit_deg:g} degrees, not {value}")
    return number


def clean_device_id(value: object) -> DeviceId:
    """Any 20-digit rule-A device ID."""
    if not isinstance(value, str):
        raise ValueError("must be a 20-digit GB/T 28181 ID")
    try:
        return parse_device_id(value.strip())
    except ParseError as exc:
        raise ValueError(str(exc)) from None


def clean_point_id(value: object) -> DeviceId:
    """A 20-digit ID whose type code (digits 11-13) is a collection point."""
    parsed = clean_device_id(value)
    if parsed.type_code not in COLLECTION_POINT_TYPES:
        raise ValueError(
            f"{parsed.raw} is of type {parsed.type_code:03d} ({parsed.type_name}), not a "
            "collection point; expected type 131 camera, 132 IPC, 138 mobile or 120-125"
        )
    return parsed


def clean_network(value: object) -> str:
    if value not in NETWORKS:
        raise ValueError(f"must be one of {', '.join(NETWORKS)}, not {value!r}")
    assert isinstance(value, str)
    return value


def clean_resolution(value: object) -> str:
    """``WxH`` in pixels (``1920x1080``; ``*``, ``×`` and format names like D1 accepted)."""
    if not isinstance(value, str):
        raise ValueError("must be text such as 1920x1080")
    text = value.strip()
    if not text:
        return ""
    named = NAMED_RESOLUTIONS.get(text.upper())
    if named is not None:
        return f"{named[0]}x{named[1]}"
    for separator in ("x", "X", "*", "×"):
        if separator in text:
            width_text, _, height_text = text.partition(separator)
            width_text, height_text = width_text.strip(), height_text.strip()
            if width_text.isdigit() and height_text.isdigit() and width_text.isascii():
                width, height = int(width_text), int(height_text)
                if 0 < width <= MAX_RESOLUTION_PIXELS and 0 < height <= MAX_RESOLUTION_PIXELS:
                    return f"{width}x{height}"
            break
    raise ValueError(f"must be width x height in pixels such as 1920x1080, not {text!r}")


def is_hd_resolution(resolution: str) -> bool:
    """Whether a cleaned ``WxH`` resolution meets the HD threshold (empty: no)."""
    if not resolution:
        return False
    width, _, height = resolution.partition("x")
    return int(width) >= HD_MIN_WIDTH_PX and int(height) >= HD_MIN_HEIGHT_PX


def clean_retention_override(value: object, point_class: int, class_minimum_days: int) -> int:
    """A per-point storage period: at least 1 day, and never below the class minimum.

    Classes 1 and 2 have a mandated minimum (REQUIREMENTS R1: 30 and 15 days); class 3 only
    needs a positive period.
    """
    days = clean_int(value, 1, MAX_RETENTION_DAYS)
    if point_class in (1, 2) and days < class_minimum_days:
        raise ValueError(
            f"{days} days is below the class {point_class} minimum of {class_minimum_days} days"
        )
    return days


def clean_civil_code(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a 2, 4, 6 or 8 digit code")
    code = value.strip()
    if code and (not code.isascii() or not code.isdigit() or len(code) not in (2, 4, 6, 8)):
        raise ValueError(f"must be 2, 4, 6 or 8 digits, not {code!r}")
    return code


F = TypeVar("F", bound="DataclassInstance")


def apply_changes(current: F, changes: Mapping[str, Any]) -> F:
    """``current`` (a fields dataclass) with ``changes`` applied; unknown names are refused."""
    names = {field.name for field in fields(current)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ValidationError(
            [FieldProblem(name, "is not a field that can be changed") for name in unknown]
        )
    return replace(current, **changes)
