"""The columns of a ledger (台账) file: headers in English and Chinese, and how cells read.

A header is recognised in either language (mixed in one file is fine). Export writes the
first Chinese header or the English key. Cells may come from CSV (always text) or XLSX
(text, numbers, booleans), so each reader accepts both and raises ``ValueError`` with a
plain reason when a value cannot be understood.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from vigil.registry.field_rules import NETWORKS, clean_resolution

Cell = str | int | float | bool | None
"""A cell as read from a file: XLSX keeps numbers and booleans, CSV gives only text."""

ExportValue = str | int | float | None

EXACT_FLOAT_INTEGER = 2**53  # integers above this cannot survive a spreadsheet's doubles

POINT_CLASS_WORDS = {"一类": 1, "二类": 2, "三类": 3, "一": 1, "二": 2, "三": 3}
POINT_CLASS_NAMES_ZH = {1: "一类", 2: "二类", 3: "三类"}

NETWORK_WORDS = {
    "公安视频专网": "police_video",
    "视频专网": "police_video",
    "公安专网": "police_video",
    "社会视频资源网": "social_video",
    "视频共享网": "social_video",
    "社会资源网": "social_video",
    "互联网": "internet",
    "无线": "wireless",
    "无线网络": "wireless",
    "无线专网": "wireless",
}
NETWORK_NAMES_ZH = {
    "police_video": "公安视频专网",
    "social_video": "社会视频资源网",
    "internet": "互联网",
    "wireless": "无线",
}

# GB/T 28181-2022 catalog PTZType names, as ledgers write them.
PTZ_TYPE_WORDS = {
    "球机": 1,
    "半球": 2,
    "固定枪机": 3,
    "遥控枪机": 4,
    "遥控半球": 5,
    "多目设备的全景/拼接通道": 6,
    "全景/拼接通道": 6,
    "多目设备的分割通道": 7,
    "分割通道": 7,
}

# A CSV cell starting with one of these runs as a formula in a spreadsheet; export prefixes
# such text with an apostrophe, and reading removes it again.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

TRUE_WORDS = {"是", "1", "yes", "y", "true", "t", "涉密"}
FALSE_WORDS = {"否", "0", "no", "n", "false", "f", "不涉密"}


def cell_text(cell: Cell) -> str:
    """The cell as text, for fields that are text whatever the spreadsheet made of them."""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, bool):
        return "1" if cell else "0"
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < EXACT_FLOAT_INTEGER:
        return str(int(cell))
    return "" if cell is None else str(cell)


def read_code(cell: Cell) -> str:
    """A digit code (ID, region, organisation). Numbers are refused once they lose digits."""
    if isinstance(cell, bool):
        raise ValueError("must be a code, not true/false")
    if isinstance(cell, float):
        if not cell.is_integer() or abs(cell) >= EXACT_FLOAT_INTEGER:
            raise ValueError(
                f"was stored as the number {cell!r} and has lost digits; "
                "format the column as text and type the code again"
            )
        return str(int(cell))
    return cell_text(cell)


def _read_text(max_chars: int) -> Callable[[Cell], str]:
    def read(cell: Cell) -> str:
        text = cell_text(cell)
        if text[:1] == "'" and text[1:2] and text[1:].startswith(FORMULA_PREFIXES):
            text = text[1:]
        if len(text) > max_chars:
            raise ValueError(f"has {len(text)} characters; at most {max_chars} are allowed")
        return text

    return read


def read_int(cell: Cell) -> int:
    if isinstance(cell, bool):
        raise ValueError("must be a whole number, not true/false")
    if isinstance(cell, int):
        return cell
    if isinstance(cell, float):
        if cell.is_integer():
            return int(cell)
        raise ValueError(f"must be a whole number, not {cell!r}")
    text = cell_text(cell)
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"must be a whole number, not {text!r}") from None
        if number.is_integer():
            return int(number)
        raise ValueError(f"must be a whole number, not {text!r}") from None


def read_float(cell: Cell) -> float:
    if isinstance(cell, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(cell, int | float):
        number = float(cell)
    else:
        text = cell_text(cell)
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"must be a number, not {text!r}") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def read_bool(cell: Cell) -> bool:
    if isinstance(cell, bool):
        return cell
    word = cell_text(cell).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"must be 是/否, 1/0 or yes/no, not {word!r}")


def read_point_class(cell: Cell) -> int:
    text = cell_text(cell)
    value = POINT_CLASS_WORDS.get(text)
    if value is None:
        value = POINT_CLASS_WORDS.get(text.removesuffix("点位"))
    if value is None and text in ("1", "2", "3"):
        value = int(text)
    if value is None:
        raise ValueError(f"must be 1, 2 or 3 (一类/二类/三类), not {text!r}")
    return value


def read_network(cell: Cell) -> str:
    text = cell_text(cell)
    value = NETWORK_WORDS.get(text) or (text.lower() if text.lower() in NETWORKS else None)
    if value is None:
        raise ValueError(
            f"must be one of {', '.join(NETWORKS)} or 公安视频专网/视频专网, "
            f"社会视频资源网/视频共享网, 互联网, 无线; not {text!r}"
        )
    return value


def read_ptz_type(cell: Cell) -> int:
    text = cell_text(cell)
    if text in PTZ_TYPE_WORDS:
        return PTZ_TYPE_WORDS[text]
    value = read_int(cell)
    if not 1 <= value <= 7:
        raise ValueError(f"must be 1 to 7 (GB/T 28181 PTZType) or a type name, not {value}")
    return value


def read_resolution(cell: Cell) -> str:
    return clean_resolution(cell_text(cell))


def _plain(value: object) -> ExportValue:
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def _yes_no(zh: bool) -> Callable[[object], ExportValue]:
    def write(value: object) -> ExportValue:
        if value is None:
            return None
        if zh:
            return "是" if value else "否"
        return "yes" if value else "no"

    return write


def _class_zh(value: object) -> ExportValue:
    return POINT_CLASS_NAMES_ZH.get(value, _plain(value)) if isinstance(value, int) else None


def _network_zh(value: object) -> ExportValue:
    return NETWORK_NAMES_ZH.get(str(value), _plain(value))


@dataclass(frozen=True, slots=True)
class LedgerColumn:
    key: str  # field name; also the English header
    zh: str  # Chinese header written on export
    aliases: tuple[str, ...]  # other headers accepted on import
    read: Callable[[Cell], object]
    required: bool = False
    write_zh: Callable[[object], ExportValue] = _plain
    write_en: Callable[[object], ExportValue] = _plain

    @property
    def label(self) -> str:
        return f"{self.key} ({self.zh})"


LEDGER_COLUMNS: tuple[LedgerColumn, ...] = (
    LedgerColumn("id", "国标编码", ("编码", "设备国标编码", "通道编码"), read_code, required=True),
    LedgerColumn("name", "名称", ("点位名称", "通道名称"), _read_text(200), required=True),
    LedgerColumn("region_code", "行政区划", ("行政区划代码", "区划代码"), read_code, required=True),
    LedgerColumn("org_code", "建设单位编码", ("单位编码",), read_code),
    LedgerColumn("org_name", "建设单位", ("单位名称", "建设单位名称"), _read_text(200)),
    LedgerColumn(
        "point_class", "点位类别", ("点位类型",), read_point_class, required=True,
        write_zh=_class_zh,
    ),
    LedgerColumn("network", "联网网络", ("所属网络",), read_network, write_zh=_network_zh),
    LedgerColumn("resolution", "分辨率", (), read_resolution),
    LedgerColumn("hd", "高清", ("是否高清",), read_bool, write_zh=_yes_no(True),
                 write_en=_yes_no(False)),
    # The per-point override only: blank means the class default, so an export re-imports
    # without pinning every point to today's default.
    LedgerColumn("retention_days", "存储天数", ("录像保存天数",), read_int),
    LedgerColumn("ptz_type", "摄像机类型", ("云台类型",), read_ptz_type),
    LedgerColumn("longitude", "经度", (), read_float),
    LedgerColumn("latitude", "纬度", (), read_float),
    LedgerColumn("address", "安装地址", ("地址", "安装位置"), _read_text(200)),
    LedgerColumn("civil_code", "行政区域代码", ("行政区域",), read_code),
    LedgerColumn("secrecy", "保密属性", ("是否涉密",), read_bool, write_zh=_yes_no(True),
                 write_en=_yes_no(False)),
    LedgerColumn("device_id", "设备编码", ("所属设备编码",), read_code),
    LedgerColumn("manufacturer", "厂商", ("设备厂商", "生产厂商"), _read_text(100)),
    LedgerColumn("model", "型号", ("设备型号",), _read_text(100)),
)  # fmt: skip

COLUMNS_BY_KEY = {column.key: column for column in LEDGER_COLUMNS}
REQUIRED_KEYS = tuple(column.key for column in LEDGER_COLUMNS if column.required)


def normalise_header(text: str) -> str:
    """Header text compared loosely: case, spaces, dashes and required-field stars ignored."""
    folded = text.strip().rstrip("*＊").strip().casefold()
    return folded.replace(" ", "_").replace("-", "_").replace("\u3000", "")


_HEADER_LOOKUP: dict[str, LedgerColumn] = {}
for _column in LEDGER_COLUMNS:
    for _header in (_column.key, _column.zh, *_column.aliases):
        _HEADER_LOOKUP[normalise_header(_header)] = _column


def column_for_header(text: str) -> LedgerColumn | None:
    """The ledger column a header names, in English or Chinese; None if unknown."""
    return _HEADER_LOOKUP.get(normalise_header(text))


def export_header(column: LedgerColumn, lang: str) -> str:
    return column.zh if lang == "zh" else column.key
