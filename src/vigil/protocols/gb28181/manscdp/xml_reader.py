"""Reading untrusted MANSCDP XML (GB/T 28181-2016 Appendix A) with defusedxml.

The body is bounded (size, element count), decoded by :mod:`..charset`, repaired for the
vendor quirks below, then parsed with DTDs, entities and external references forbidden.

Tolerated quirks (implementation notes §15):

* ``<? xml`` with a space, and any XML declaration: removed (the text is already decoded).
* Hikvision bare ``&`` in names: escaped unless it starts an entity or character reference.
* ``Num=1`` without quotes: quoted.
* Hikvision ``<Address>`` values containing ``<``: on a first failure, ``<``/``>`` inside
  one-line leaf elements (no closing tag inside) are escaped and the parse retried.
* Element and attribute names are matched case-insensitively (``num``, ``Alarmstatus``);
  values are stripped (``<Parental>0 </Parental>``); empty values read as absent.
* Four date-time forms: ``2024-05-01T08:00:00``, with ``.SSS``, with ``+08:00``, and
  unpadded ``2024-5-1T8:0:0``; they are read as naive local wall-clock times.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.charset import decode_body

MAX_BODY_BYTES = 1 << 20
MAX_ELEMENTS = 100_000
MAX_ITEMS = 10_000  # Appendix N: at most 10000 items per message

_DECLARATION = re.compile(r"^\s*<\?\s*xml.*?\?>", re.DOTALL)
_BARE_AMPERSAND = re.compile(r"&(?!(?:[A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,8}|#x[0-9A-Fa-f]{1,8});)")
_START_TAG = re.compile(r"<[A-Za-z_][^<>]*>")
_UNQUOTED_ATTRIBUTE = re.compile(r"(\s[A-Za-z_][\w.:-]*)\s*=\s*([^\s\"'<>/=]+)")
_LEAF_LINE = re.compile(r"^(\s*<([A-Za-z_][\w.-]*)>)(.*)(</\2>\s*)$", re.MULTILINE)
_DATETIME = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2}):(\d{1,2})"
    r"(?:\.(\d{1,9}))?(?:Z|[+-]\d{2}:?\d{2})?$"
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


class Node:
    """A case-insensitive, whitespace-tolerant view over one XML element."""

    __slots__ = ("_element", "name")

    def __init__(self, element: ET.Element) -> None:
        self._element = element
        self.name = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""

    def child(self, name: str) -> Node | None:
        wanted = name.lower()
        for element in self._element:
            if isinstance(element.tag, str) and _local(element.tag) == wanted:
                return Node(element)
        return None

    def children(self, name: str, *, limit: int = MAX_ITEMS) -> list[Node]:
        wanted = name.lower()
        found = [
            Node(element)
            for element in self._element
            if isinstance(element.tag, str) and _local(element.tag) == wanted
        ]
        if len(found) > limit:
            raise ParseError(f"more than {limit} <{name}> elements")
        return found

    @property
    def value(self) -> str | None:
        text = (self._element.text or "").strip()
        return text or None

    def text(self, name: str) -> str | None:
        node = self.child(name)
        return node.value if node is not None else None

    def int(self, name: str) -> int | None:
        return parse_int(self.text(name))

    def float(self, name: str) -> float | None:
        return parse_float(self.text(name))

    def datetime(self, name: str) -> datetime | None:
        return parse_datetime(self.text(name))

    def attribute(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self._element.attrib.items():
            if _local(key) == wanted:
                return value.strip() or None
        return None

    def leaves(self) -> dict[str, str]:
        """Child elements without children, by name (first occurrence wins)."""
        found: dict[str, str] = {}
        for element in self._element:
            if isinstance(element.tag, str) and len(element) == 0:
                name = element.tag.rsplit("}", 1)[-1]
                found.setdefault(name, (element.text or "").strip())
        return found


def parse_int(text: str | None) -> int | None:
    """Lenient integer: ``None`` for absent, empty or non-numeric values."""
    if text is None:
        return None
    text = text.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(text)


def parse_float(text: str | None) -> float | None:
    if text is None or len(text) > 40:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def parse_datetime(text: str | None) -> datetime | None:
    """One of the four date-time forms, as a naive local time; ``None`` if unreadable."""
    if text is None:
        return None
    match = _DATETIME.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError:
        return None


def required_int(node: Node, name: str) -> int:
    value = node.int(name)
    if value is None or value < 0:
        raise ParseError(f"<{name}> missing or not a non-negative integer")
    return value


def required_text(node: Node, name: str) -> str:
    value = node.text(name)
    if value is None:
        raise ParseError(f"<{name}> missing")
    return value


def _quote_attributes(match: re.Match[str]) -> str:
    return _UNQUOTED_ATTRIBUTE.sub(r'\1="\2"', match.group(0))


def _escape_leaf(match: re.Match[str]) -> str:
    inner = match.group(3)
    if "</" in inner:  # nested elements on one line, not a broken value
        return match.group(0)
    inner = inner.replace("<", "&lt;").replace(">", "&gt;")
    return match.group(1) + inner + match.group(4)


def repair(text: str) -> str:
    """Apply the always-safe quirk repairs (declaration, bare ``&``, unquoted attributes)."""
    text = _DECLARATION.sub("", text, count=1)
    text = _BARE_AMPERSAND.sub("&amp;", text)
    return _START_TAG.sub(_quote_attributes, text)


def _parse(text: str) -> ET.Element:
    try:
        element = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise ParseError(f"malformed XML: {exc}") from exc
    if not isinstance(element, ET.Element):
        raise ParseError("malformed XML")
    return element


def read_document(body: bytes, *, charset_override: str | None = None) -> Node:
    """Decode, repair and parse a MANSCDP body; the root element as a :class:`Node`."""
    if len(body) > MAX_BODY_BYTES:
        raise ParseError(f"MANSCDP body over {MAX_BODY_BYTES} bytes", status_hint=513)
    text = repair(decode_body(body, charset_override=charset_override))
    if "<!" in text and re.search(r"<!\s*(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise ParseError("DTDs and entity declarations are forbidden")
    try:
        root = _parse(text)
    except ParseError:
        retried = _LEAF_LINE.sub(_escape_leaf, text)
        if retried == text:
            raise
        root = _parse(retried)
    for count, _ in enumerate(root.iter(), 1):
        if count > MAX_ELEMENTS:
            raise ParseError(f"more than {MAX_ELEMENTS} XML elements")
    return Node(root)
