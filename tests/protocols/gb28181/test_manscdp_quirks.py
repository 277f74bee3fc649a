"""Vendor quirks the MANSCDP parser tolerates (implementation notes §15) and XML attacks it
refuses."""

from __future__ import annotations

from datetime import datetime

import pytest

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.manscdp import (
    CatalogResponse,
    DeviceInfoResponse,
    DeviceStatusResponse,
    Keepalive,
    RecordInfoQuery,
    parse_manscdp,
)
from vigil.protocols.gb28181.manscdp.xml_reader import MAX_BODY_BYTES, parse_datetime

HEAD = "<Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>34020000001110000001</DeviceID>"


def catalog(items: str, *, list_open: str = '<DeviceList Num="1">', sum_num: str = "1") -> bytes:
    close = "</DeviceList>" if list_open else ""
    text = f"{HEAD}<SumNum>{sum_num}</SumNum>{list_open}{items}{close}</Response>"
    return text.encode("utf-8")


def one_item(body: bytes) -> CatalogResponse:
    message = parse_manscdp(body)
    assert isinstance(message, CatalogResponse)
    return message


def test_bare_ampersand_in_names_is_escaped() -> None:
    body = catalog("<Item><DeviceID>1</DeviceID><Name>A & B &amp; C &#65; &lt;</Name></Item>")
    assert one_item(body).items[0].name == "A & B & C A <"


def test_xml_declaration_with_a_space() -> None:
    body = b'<? xml version="1.0" encoding="GB2312"?>\n' + catalog(
        "<Item><DeviceID>1</DeviceID></Item>"
    )
    assert one_item(body).items[0].device_id == "1"


def test_whitespace_in_values_and_empty_numbers() -> None:
    body = catalog(
        "<Item><DeviceID> 1 </DeviceID><Parental>0 </Parental><Port></Port>"
        "<Longitude>abc</Longitude><Status> ON </Status></Item>"
    )
    item = one_item(body).items[0]
    assert item.device_id == "1"
    assert item.parental is False
    assert item.port is None
    assert item.longitude is None
    assert item.online is True


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("ON", "ON"), ("On", "ON"), ("ONLINE", "ON"), ("OK", "ON"), ("online", "ON"),
     ("OFF", "OFF"), ("Off", "OFF"), ("OFFLINE", "OFF"), ("VLOST", "VLOST")],
)  # fmt: skip
def test_status_spellings(raw: str, normalized: str) -> None:
    body = catalog(f"<Item><DeviceID>1</DeviceID><Status>{raw}</Status></Item>")
    assert one_item(body).items[0].status == normalized


def test_parental_65535_means_has_children() -> None:
    body = catalog("<Item><DeviceID>1</DeviceID><Parental>65535</Parental></Item>")
    assert one_item(body).items[0].parental is True


@pytest.mark.parametrize(
    "list_open", ['<DeviceList num="2">', "<DeviceList Num=2>", "<devicelist>"]
)
def test_device_list_attribute_spellings(list_open: str) -> None:
    items = "<Item><DeviceID>1</DeviceID></Item><Item><DeviceID>2</DeviceID></Item>"
    close_fixed = catalog(items, list_open=list_open, sum_num="2").replace(
        b"</DeviceList>", b"</DeviceList>" if "devicelist" not in list_open else b"</devicelist>"
    )
    assert [i.device_id for i in one_item(close_fixed).items] == ["1", "2"]


def test_items_directly_under_the_root() -> None:
    body = catalog("<Item><DeviceID>1</DeviceID></Item>", list_open="")
    assert [i.device_id for i in one_item(body).items] == ["1"]


def test_info_fields_at_top_level_or_inside_info() -> None:
    top = catalog("<Item><DeviceID>1</DeviceID><PTZType>2</PTZType><RoomType>1</RoomType></Item>")
    inside = catalog("<Item><DeviceID>1</DeviceID><Info><PTZType>2</PTZType></Info></Item>")
    both = catalog(
        "<Item><DeviceID>1</DeviceID><PTZType>4</PTZType><Info><PTZType>2</PTZType></Info></Item>"
    )
    assert one_item(top).items[0].ptz_type == 2
    assert one_item(top).items[0].room_type == 1
    assert one_item(inside).items[0].ptz_type == 2
    assert one_item(both).items[0].ptz_type == 2


def test_extra_vendor_elements_are_ignored() -> None:
    body = catalog(
        "<Item><DeviceID>1</DeviceID><StreamNum>2</StreamNum><DeviceType>IPC</DeviceType>"
        "<Unknown><Deep>x</Deep></Unknown></Item>"
    )
    assert one_item(body).items[0].device_id == "1"
    info = parse_manscdp(
        b"<Response><CmdType>DeviceInfo</CmdType><SN>1</SN><DeviceID>X</DeviceID>"
        b"<Result>OK</Result><MaxCamera>8</MaxCamera><LoginName>admin</LoginName>"
        b"<Password>p</Password><Channel>8</Channel></Response>"
    )
    assert isinstance(info, DeviceInfoResponse)
    assert info.channel == 8


def test_address_containing_a_less_than_sign_is_repaired() -> None:
    body = catalog(
        "<Item>\n<DeviceID>1</DeviceID>\n<Address>Road <3> gate</Address>\n"
        "<Info><PTZType>1</PTZType></Info>\n</Item>"
    )
    item = one_item(body).items[0]
    assert item.address == "Road <3> gate"
    assert item.ptz_type == 1


def test_case_insensitive_elements_and_alarmstatus() -> None:
    body = (
        b"<Response><CmdType>DeviceStatus</CmdType><SN>3</SN><DeviceID>X</DeviceID>"
        b'<Online>online</Online><AlarmStatus num="1"><Item><DeviceID>A</DeviceID>'
        b"<DutyStatus>alarm</DutyStatus></Item></AlarmStatus></Response>"
    )
    status = parse_manscdp(body)
    assert isinstance(status, DeviceStatusResponse)
    assert status.is_online
    assert status.alarm_status[0].duty_status == "ALARM"


def test_keepalive_root_and_cmdtype_in_other_case() -> None:
    body = b"<notify><cmdtype>keepalive</cmdtype><sn>9</sn><deviceid>X</deviceid></notify>"
    assert parse_manscdp(body) == Keepalive(sn=9, device_id="X")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T08:00:00", datetime(2024, 5, 1, 8, 0, 0)),
        ("2024-05-01T08:00:00.123", datetime(2024, 5, 1, 8, 0, 0, 123000)),
        ("2024-05-01T08:00:00+08:00", datetime(2024, 5, 1, 8, 0, 0)),
        ("2024-5-1T8:0:0", datetime(2024, 5, 1, 8, 0, 0)),
        ("2024-05-01 08:00:00", datetime(2024, 5, 1, 8, 0, 0)),
        ("2024-13-01T08:00:00", None),
        ("yesterday", None),
    ],
)
def test_date_formats(text: str, expected: datetime | None) -> None:
    assert parse_datetime(text) == expected


def test_record_query_with_unpadded_dates() -> None:
    body = (
        b"<Query><CmdType>RecordInfo</CmdType><SN>1</SN><DeviceID>X</DeviceID>"
        b"<StartTime>2024-5-1T8:0:0</StartTime><EndTime>2024-05-01T09:00:00.000</EndTime>"
        b"</Query>"
    )
    query = parse_manscdp(body)
    assert isinstance(query, RecordInfoQuery)
    assert query.start_time == datetime(2024, 5, 1, 8)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<Query><CmdType>Catalog</CmdType><SN>1</SN></Query>",
        b"<Query><SN>1</SN><DeviceID>X</DeviceID></Query>",
        b"<Query><CmdType>Catalog</CmdType><SN>x</SN><DeviceID>X</DeviceID></Query>",
        b"<Query><CmdType>Catalog</CmdType><SN>-1</SN><DeviceID>X</DeviceID></Query>",
        b"<Other><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>X</DeviceID></Other>",
        b"<Query><CmdType>RecordInfo</CmdType><SN>1</SN><DeviceID>X</DeviceID></Query>",
        b"<Query><CmdType>Catalog</CmdType>",
        b"\xff\xfe\x00<",
    ],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_manscdp(body)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>&lol4;</DeviceID></Notify>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>&xxe;</DeviceID></Notify>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Notify SYSTEM "http://example.invalid/x.dtd">
<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>X</DeviceID></Notify>"""

PARAMETER_ENTITY = b"""<!DOCTYPE x [<!ENTITY % p SYSTEM "http://example.invalid/p">%p;]>
<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>X</DeviceID></Notify>"""


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity"],
)
def test_xml_attacks_are_refused(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_manscdp(body)


def test_undefined_entity_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        parse_manscdp(
            b"<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>&x;</DeviceID></Notify>"
        )


def test_size_and_item_bounds() -> None:
    huge = b"<Notify>" + b" " * MAX_BODY_BYTES + b"</Notify>"
    with pytest.raises(ParseError) as info:
        parse_manscdp(huge)
    assert info.value.status_hint == 513
    many = catalog("<Item><DeviceID>1</DeviceID></Item>" * 10_001)
    with pytest.raises(ParseError):
        parse_manscdp(many)
    elements = HEAD.encode() + b"<a/>" * 100_001 + b"</Response>"
    with pytest.raises(ParseError):
        parse_manscdp(elements)
