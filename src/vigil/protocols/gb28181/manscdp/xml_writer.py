"""Writing MANSCDP XML the way GB/T 28181 devices and platforms do: the declaration, then one
element per line, CRLF line endings, nested elements opening on their own line::

    <?xml version="1.0" encoding="GB2312"?>
    <Query>
    <CmdType>Catalog</CmdType>
    ...
    </Query>
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from vigil.protocols.gb28181.charset import DEFAULT_CHARSET, encode_body, xml_declaration


@dataclass(frozen=True, slots=True)
class XmlNode:
    """An element with text, or with child elements."""

    name: str
    text: str | None = None
    children: tuple[XmlNode, ...] = ()
    attributes: tuple[tuple[str, str], ...] = field(default=())


def escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(text: str) -> str:
    return escape_text(text).replace('"', "&quot;")


def format_datetime(value: datetime) -> str:
    """``2024-05-01T08:00:00`` (local time, no zone, Appendix A ``dateTime``)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def format_number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def leaf(name: str, value: str | int | float | datetime | None) -> XmlNode | None:
    """An element for a present value; ``None`` (skipped) when the value is absent."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return XmlNode(name, format_datetime(value))
    if isinstance(value, bool):
        return XmlNode(name, "1" if value else "0")
    if isinstance(value, int | float):
        return XmlNode(name, format_number(value))
    return XmlNode(name, value)


def group(
    name: str, children: Iterable[XmlNode | None], attributes: Sequence[tuple[str, str]] = ()
) -> XmlNode:
    return XmlNode(
        name, children=tuple(c for c in children if c is not None), attributes=tuple(attributes)
    )


def optional_group(name: str, children: Iterable[XmlNode | None]) -> XmlNode | None:
    """A group only when at least one child is present."""
    present = tuple(c for c in children if c is not None)
    return XmlNode(name, children=present) if present else None


def _render(node: XmlNode, lines: list[str]) -> None:
    attributes = "".join(f' {key}="{escape_attribute(value)}"' for key, value in node.attributes)
    if node.children:
        lines.append(f"<{node.name}{attributes}>")
        for child in node.children:
            _render(child, lines)
        lines.append(f"</{node.name}>")
    else:
        lines.append(f"<{node.name}{attributes}>{escape_text(node.text or '')}</{node.name}>")


def render_document(root: XmlNode, charset: str = DEFAULT_CHARSET) -> bytes:
    """The whole body, encoded for ``charset`` (GB2312 declared, GB18030 bytes by default)."""
    lines = [xml_declaration(charset)]
    _render(root, lines)
    return encode_body("\r\n".join(lines) + "\r\n", charset)


def render_message(
    root: str,
    cmd_type: str,
    sn: int,
    device_id: str,
    body: Iterable[XmlNode | None],
    charset: str = DEFAULT_CHARSET,
) -> bytes:
    """``<Root><CmdType/><SN/><DeviceID/>…body…</Root>`` rendered and encoded."""
    head = [XmlNode("CmdType", cmd_type), XmlNode("SN", str(sn)), XmlNode("DeviceID", device_id)]
    return render_document(group(root, [*head, *body]), charset)
