"""GB/T 28181 device IDs: coding rule A (20 digits) and legacy rule B (18 digits).

GB/T 28181-2016 Appendix D (2022: Appendix E). Rule A layout::

    digits 1-8 centre code (GB/T 2260 region + grass-roots unit), 9-10 industry,
    11-13 type, 14 network flag, 15-20 serial

Rule B (18 digits: centre 8, industry 2, serial 6, type 2) is what some old platforms used;
it is accepted only in lenient mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.protocols.errors import ParseError

# GB/T 28181-2016 Table D.2 (type codes) — the ones a platform acts upon.
TYPE_NAMES: dict[int, str] = {
    111: "DVR", 112: "video server", 113: "encoder", 114: "decoder",
    115: "video switching matrix", 116: "audio switching matrix", 117: "alarm controller",
    118: "NVR", 130: "HVR", 131: "camera", 132: "IPC", 133: "display", 134: "alarm input",
    135: "alarm output", 136: "voice input", 137: "voice output",
    138: "mobile transmission device", 139: "other peripheral",
    200: "central signalling control server", 201: "web application server",
    202: "media distribution server", 203: "proxy server", 204: "security server",
    205: "alarm server", 206: "database server", 207: "GIS server", 208: "management server",
    209: "access gateway", 210: "media storage server",
    211: "signalling security routing gateway", 215: "business group",
    216: "virtual organisation",
}  # fmt: skip

MAIN_DEVICE_TYPES = range(111, 131)  # DVR, NVR, encoders…: devices that own channels
PERIPHERAL_TYPES = range(131, 200)  # cameras, IPCs, alarm inputs…: usually channels
PLATFORM_TYPE = 200


@dataclass(frozen=True, slots=True)
class DeviceId:
    """A decoded device ID. ``raw`` is the ID as given; fields are its parts."""

    raw: str
    centre_code: str  # 8 digits: province 2, city 2, county 2, grass-roots unit 2
    industry: str  # 2 digits, Table D.3
    type_code: int  # 3 digits (rule A) or 2 digits (rule B)
    network: int | None  # digit 14 (rule A only)
    serial: str
    legacy: bool = False  # rule B

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type_code, "unknown")

    @property
    def region_code(self) -> str:
        """The centre code in its significant form: trailing ``00`` levels removed."""
        return significant_region_code(self.centre_code)

    @property
    def is_platform(self) -> bool:
        return self.type_code == PLATFORM_TYPE

    @property
    def domain(self) -> str:
        """The SIP domain a device of this centre uses: the first 10 digits (§6.1.2)."""
        return self.raw[:10]


def significant_region_code(code: str) -> str:
    """Strip unused trailing ``00`` levels: ``340200`` → ``3402``, ``34020000`` → ``3402``.

    GB/T 2260 writes every division in 6 digits (a city is ``340200``) and GB/T 28181 centre
    codes use 8; the significant form makes region scoping a plain prefix match.
    """
    if not code.isdigit() or len(code) not in (2, 4, 6, 8):
        raise ParseError(f"region code {code!r} is not 2, 4, 6 or 8 digits")
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    if code == "00":
        raise ParseError("region code 00 does not name a province")
    return code


def parse_device_id(value: str, *, lenient: bool = False) -> DeviceId:
    """Decode a 20-digit rule-A ID; with ``lenient``, also an 18-digit rule-B ID."""
    if not value.isascii() or not value.isdigit():
        raise ParseError(f"device ID {value!r} must contain only digits")
    if len(value) == 20:
        return DeviceId(
            raw=value,
            centre_code=value[0:8],
            industry=value[8:10],
            type_code=int(value[10:13]),
            network=int(value[13]),
            serial=value[14:20],
        )
    if len(value) == 18 and lenient:
        return DeviceId(
            raw=value,
            centre_code=value[0:8],
            industry=value[8:10],
            type_code=int(value[16:18]),
            network=None,
            serial=value[10:16],
            legacy=True,
        )
    expected = "20 digits (or 18 in lenient mode)" if lenient else "20 digits"
    raise ParseError(f"device ID {value!r} has {len(value)} digits; expected {expected}")


def make_device_id(
    centre_code: str, type_code: int, serial: int, *, industry: str = "00", network: int = 0
) -> str:
    """Compose a rule-A ID; the centre code may be given in significant form (``3402``)."""
    centre = centre_code.ljust(8, "0")
    if len(centre) != 8 or not centre.isdigit():
        raise ValueError(f"bad centre code {centre_code!r}")
    if not (0 <= serial <= 999_999 and 100 <= type_code <= 999 and 0 <= network <= 9):
        raise ValueError("serial, type or network out of range")
    if len(industry) != 2 or not industry.isdigit():
        raise ValueError(f"bad industry code {industry!r}")
    return f"{centre}{industry}{type_code:03d}{network}{serial:06d}"


def catalog_node_kind(node_id: str) -> str:
    """What a catalog ``DeviceID`` names (§5.2 of the notes, Appendix O): ``region`` for a
    2/4/6/8-digit division code, else by type code: ``platform`` (200), ``business_group``
    (215), ``virtual_organisation`` (216), ``device`` (111-130), ``peripheral`` (131-199,
    e.g. NVR channels and IPCs), ``other``. Malformed IDs raise ``ParseError``."""
    if node_id.isascii() and node_id.isdigit() and len(node_id) in (2, 4, 6, 8):
        return "region"
    device = parse_device_id(node_id, lenient=True)
    if device.type_code == PLATFORM_TYPE:
        return "platform"
    if device.type_code == 215:
        return "business_group"
    if device.type_code == 216:
        return "virtual_organisation"
    if device.type_code in MAIN_DEVICE_TYPES:
        return "device"
    if device.type_code in PERIPHERAL_TYPES:
        return "peripheral"
    return "other"
