"""Character sets of MANSCDP bodies (GB/T 28181-2016 §A.1 declares GB2312; see also §15 of the
implementation notes).

Decoding, never producing mojibake:

* GB2312 / GBK / GB18030 declared → decoded as **GB18030**, the superset: names with rare
  characters such as 萳 are not in GB2312 and devices encode them as GBK/GB18030 anyway.
* Vendor quirk: a body declared GB2312 that is really UTF-8. Valid UTF-8 whose non-ASCII
  characters are all 3- or 4-byte sequences is taken as UTF-8 (GB18030 text essentially
  never forms such sequences, while UTF-8 Chinese always does).
* UTF-8 declared → UTF-8, falling back to GB18030 when the bytes are not UTF-8.
* Nothing (or something unknown) declared → strict UTF-8, then GB18030.
* A per-device override replaces the declaration.

Encoding: the declaration names the chosen charset (GB2312 by default, what devices expect)
while the bytes are GB18030, so any character survives; Content-Length is computed on bytes.
"""

from __future__ import annotations

import re

from vigil.protocols.errors import ParseError

GB_FAMILY = frozenset({"gb2312", "gbk", "gb18030", "cp936", "euc-cn", "x-gbk", "hz-gb-2312"})
UTF8_NAMES = frozenset({"utf-8", "utf8"})
DEFAULT_CHARSET = "GB2312"

_DECLARATION = re.compile(
    rb"^\s*(?:\xef\xbb\xbf)?\s*<\?\s*xml\b[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.:-]{1,40})[\"']"
)


def declared_encoding(body: bytes) -> str | None:
    """The ``encoding`` of the XML declaration (``<? xml`` tolerated), lower case."""
    match = _DECLARATION.match(body[:512])
    return match.group(1).decode("ascii").lower() if match else None


def _codec_for(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.lower()
    if name in GB_FAMILY:
        return "gb18030"
    if name in UTF8_NAMES:
        return "utf-8"
    return None


def _looks_like_utf8(body: bytes) -> bool:
    """Valid UTF-8 with at least one multi-byte character, none of them 2-byte ones."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    non_ascii = [ch for ch in text if ord(ch) > 0x7F]
    return bool(non_ascii) and all(ord(ch) >= 0x800 for ch in non_ascii)


def decode_body(body: bytes, *, charset_override: str | None = None) -> str:
    """Decode a MANSCDP body by declaration (or override) with the fall-backs above."""
    if body.startswith(b"\xef\xbb\xbf"):
        return _decode_strict(body[3:], "utf-8")
    declared = _codec_for(charset_override) or _codec_for(declared_encoding(body))
    if declared == "gb18030" and _looks_like_utf8(body):
        return body.decode("utf-8")
    order = [declared] if declared else []
    for codec in ("utf-8", "gb18030"):
        if codec not in order:
            order.append(codec)
    for codec in order:
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    raise ParseError("body is neither UTF-8 nor GB18030")


def _decode_strict(body: bytes, codec: str) -> str:
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        try:
            return body.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ParseError("body is neither UTF-8 nor GB18030") from exc


def encode_body(text: str, charset: str = DEFAULT_CHARSET) -> bytes:
    """Encode outgoing XML text for a device declared to use ``charset``."""
    codec = _codec_for(charset)
    if codec is None:
        raise ValueError(f"unsupported MANSCDP charset {charset!r}")
    return text.encode(codec)


def xml_declaration(charset: str = DEFAULT_CHARSET) -> str:
    if _codec_for(charset) is None:
        raise ValueError(f"unsupported MANSCDP charset {charset!r}")
    return f'<?xml version="1.0" encoding="{charset}"?>'
