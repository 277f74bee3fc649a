"""MANSCDP character sets: decode by declaration without mojibake, encode as declared."""

from __future__ import annotations

import pytest

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.charset import declared_encoding, decode_body, encode_body
from vigil.protocols.gb28181.manscdp import CatalogItem, CatalogResponse, parse_manscdp

NAME = "萳溪路口 摄像机"  # 萳 is outside GB2312


def body_text(encoding: str | None) -> str:
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>\r\n' if encoding else ""
    return (
        f"{declaration}<Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>X</DeviceID>"
        f'<SumNum>1</SumNum><DeviceList Num="1"><Item><DeviceID>1</DeviceID>'
        f"<Name>{NAME}</Name></Item></DeviceList></Response>"
    )


def name_of(body: bytes, override: str | None = None) -> str | None:
    message = parse_manscdp(body, charset_override=override)
    assert isinstance(message, CatalogResponse)
    return message.items[0].name


def test_gb2312_declared_gb18030_encoded_keeps_rare_characters() -> None:
    body = body_text("GB2312").encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")
    assert name_of(body) == NAME


@pytest.mark.parametrize("declared", ["GB2312", "gbk", "GB18030"])
def test_utf8_body_declared_gb_decodes_intact(declared: str) -> None:
    assert name_of(body_text(declared).encode("utf-8")) == NAME


def test_utf8_declared_but_gb_encoded_falls_back() -> None:
    assert name_of(body_text("UTF-8").encode("gb18030")) == NAME


@pytest.mark.parametrize("codec", ["utf-8", "gb18030"])
def test_undeclared_bodies(codec: str) -> None:
    assert name_of(body_text(None).encode(codec)) == NAME


def test_utf8_bom() -> None:
    assert name_of(b"\xef\xbb\xbf" + body_text("GB2312").encode("utf-8")) == NAME


def test_per_device_override_wins_over_the_declaration() -> None:
    body = body_text("UTF-8").encode("gb18030")
    assert name_of(body, override="GBK") == NAME
    assert decode_body("名".encode("gb18030"), charset_override="gb2312") == "名"


def test_pure_ascii_and_short_gb_text() -> None:
    assert decode_body(b"<a>x</a>") == "<a>x</a>"
    single = '<?xml version="1.0" encoding="GB2312"?><a>陈</a>'.encode("gb18030")
    assert decode_body(single).endswith("<a>陈</a>")


def test_undecodable_body() -> None:
    with pytest.raises(ParseError):
        decode_body(b"\x81\x20\xff\xff")


def test_declaration_detection() -> None:
    assert declared_encoding(b'<?xml version="1.0" encoding="GB2312"?>') == "gb2312"
    assert declared_encoding(b"<? xml version='1.0' encoding='utf-8' ?>") == "utf-8"
    assert declared_encoding(b"<Notify/>") is None


def test_encoding_outgoing_bodies() -> None:
    response = CatalogResponse(1, "X", 1, (CatalogItem(device_id="1", name=NAME),))
    gb = response.serialize()
    assert gb.startswith(b'<?xml version="1.0" encoding="GB2312"?>')
    assert NAME.encode("gb18030") in gb
    utf8 = response.serialize("UTF-8")
    assert NAME.encode("utf-8") in utf8
    assert name_of(gb) == NAME
    assert name_of(utf8) == NAME
    assert len(gb) != len(utf8)  # lengths are counted on bytes
    assert encode_body("萳", "GBK") == "萳".encode("gb18030")
    with pytest.raises(ValueError, match="charset"):
        encode_body("x", "latin-1")
