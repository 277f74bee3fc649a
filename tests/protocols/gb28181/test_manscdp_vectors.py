"""MANSCDP bodies of the reference exchanges: parse them, and build them byte for byte."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from vigil.protocols.gb28181.catalog_assembly import CatalogAssembler
from vigil.protocols.gb28181.manscdp import (
    AlarmDutyStatus,
    AlarmNotify,
    AlarmQuery,
    CatalogItem,
    CatalogNotify,
    CatalogQuery,
    CatalogResponse,
    DeviceControl,
    DeviceInfoQuery,
    DeviceInfoResponse,
    DeviceStatusQuery,
    DeviceStatusResponse,
    DragZoom,
    HomePosition,
    Keepalive,
    ManscdpMessage,
    MediaStatusNotify,
    MobilePositionNotify,
    MobilePositionQuery,
    RecordInfoQuery,
    RecordInfoResponse,
    RecordItem,
    ResultResponse,
    UnknownMessage,
    parse_manscdp,
)
from vigil.protocols.gb28181.ptz import PtzMove
from vigil.protocols.sip.message import SipRequest

DATA = Path(__file__).parent / "data"
SIP_DATA = Path(__file__).parent.parent / "sip" / "data"
NVR = "34020000001110000001"
CHANNEL = "34020000001310000001"


def sip_body(name: str) -> bytes:
    return SipRequest.parse((SIP_DATA / name).read_bytes()).body


def test_keepalive_vector() -> None:
    body = sip_body("keepalive_message.sip")
    message = parse_manscdp(body)
    assert message == Keepalive(sn=43, device_id="34020000001320000001", status="OK")
    assert message.serialize() == body
    assert len(body) == 169


def test_catalog_query_vector() -> None:
    body = sip_body("catalog_query_message.sip")
    query = CatalogQuery(sn=17430, device_id=NVR)
    assert parse_manscdp(body) == query
    assert query.serialize() == body
    assert len(body) == 147


def test_catalog_two_part_response_gives_three_channels_with_02_offline() -> None:
    part1 = (DATA / "catalog_response_part1.xml").read_bytes()
    part2 = (DATA / "catalog_response_part2.xml").read_bytes()
    assert (len(part1), len(part2)) == (1207, 708)
    first, second = parse_manscdp(part1), parse_manscdp(part2)
    assert isinstance(first, CatalogResponse)
    assert isinstance(second, CatalogResponse)
    assert (first.sn, first.sum_num, len(first.items)) == (17430, 3, 2)
    assert (second.sn, second.sum_num, len(second.items)) == (17430, 3, 1)
    assert first.serialize() == part1
    assert second.serialize() == part2

    assembler = CatalogAssembler()
    assembler.expect(NVR, 17430, 0.0)
    assert assembler.push_response(NVR, first, 1.0) == []
    [catalog] = assembler.push_response(NVR, second, 2.0)
    assert catalog.complete
    assert catalog.sum_num == 3
    by_id = {item.device_id: item for item in catalog.items}
    assert sorted(by_id) == [f"3402000000131000000{n}" for n in (1, 2, 3)]
    assert [by_id[i].online for i in sorted(by_id)] == [True, False, True]
    camera = by_id["34020000001310000001"]
    assert camera == CatalogItem(
        device_id="34020000001310000001",
        name="Camera 01",
        manufacturer="Hikvision",
        model="IP Camera",
        owner="Owner",
        civil_code="340200",
        address="Gate 1",
        parental=False,
        parent_id=NVR,
        safety_way=0,
        register_way=1,
        secrecy=0,
        status="ON",
        longitude=117.2272,
        latitude=31.8206,
        ptz_type=1,
    )
    assert camera.parent_ids == (NVR,)


def test_device_control_ptz_vector() -> None:
    body = sip_body("ptz_device_control_message.sip")
    control = parse_manscdp(body)
    assert isinstance(control, DeviceControl)
    assert control == DeviceControl(
        sn=11, device_id=CHANNEL, ptz_cmd="A50F01080080003D", control_priority=5
    )
    assert control.ptz is not None
    assert control.ptz.action() == PtzMove(tilt=1, tilt_speed=0x80)
    assert control.serialize() == body
    assert len(body) == 244


def test_record_info_query_vector() -> None:
    body = (DATA / "recordinfo_query.xml").read_bytes()
    assert len(body) == 271
    query = RecordInfoQuery(
        sn=18,
        device_id=CHANNEL,
        start_time=datetime(2024, 5, 1, 8, 0),
        end_time=datetime(2024, 5, 1, 9, 0),
    )
    assert parse_manscdp(body) == query
    assert query.serialize() == body


def test_media_status_end_of_file_length() -> None:
    notify = MediaStatusNotify(sn=1, device_id=CHANNEL)
    assert len(notify.serialize()) == 179
    parsed = parse_manscdp(notify.serialize())
    assert isinstance(parsed, MediaStatusNotify)
    assert parsed.end_of_file


SAMPLES: list[ManscdpMessage] = [
    Keepalive(sn=1, device_id=CHANNEL, status="ERROR", faulty_devices=("a", "b")),
    CatalogQuery(
        sn=2, device_id=NVR, start_time=datetime(2024, 1, 1), end_time=datetime(2024, 2, 1)
    ),
    CatalogNotify(
        sn=3,
        device_id=NVR,
        sum_num=1,
        items=(
            CatalogItem(
                device_id=CHANNEL,
                event="ADD",
                name="门口",
                status="ON",
                ptz_type=3,
                resolution="6/4",
                business_group_id="34020000002150000001",
            ),
        ),
    ),
    CatalogResponse(sn=4, device_id=NVR, sum_num=0),
    DeviceInfoQuery(sn=5, device_id=NVR),
    DeviceInfoResponse(
        sn=6,
        device_id=NVR,
        device_name="NVR",
        manufacturer="Hikvision",
        model="DS-7808",
        firmware="V4.0",
        channel=8,
    ),
    DeviceStatusQuery(sn=7, device_id=NVR),
    DeviceStatusResponse(
        sn=8,
        device_id=NVR,
        encode="ON",
        record="OFF",
        device_time=datetime(2024, 5, 1, 8, 0, 1),
        alarm_status=(AlarmDutyStatus("34020000001340000001", "ONDUTY"),),
    ),
    RecordInfoQuery(
        sn=9,
        device_id=CHANNEL,
        start_time=datetime(2024, 5, 1),
        end_time=datetime(2024, 5, 2),
        file_path="/x",
        indistinct_query=1,
    ),
    RecordInfoResponse(
        sn=10,
        device_id=CHANNEL,
        sum_num=1,
        name="Camera",
        items=(
            RecordItem(
                CHANNEL,
                datetime(2024, 5, 1, 8),
                datetime(2024, 5, 1, 9),
                name="r1",
                type="time",
                file_size=1024,
            ),
        ),
    ),
    AlarmNotify(
        sn=11,
        device_id="34020000001340000001",
        alarm_priority=1,
        alarm_method=5,
        alarm_time=datetime(2024, 5, 1, 8),
        alarm_description="motion",
        longitude=117.5,
        latitude=31.5,
        alarm_type=6,
        event_type=1,
    ),
    AlarmQuery(
        sn=12, device_id=NVR, start_alarm_priority=1, end_alarm_priority=4, alarm_method="0"
    ),
    MobilePositionQuery(sn=13, device_id=CHANNEL, interval_s=5),
    MobilePositionNotify(
        sn=14,
        device_id=CHANNEL,
        time=datetime(2024, 5, 1, 8),
        longitude=117.1,
        latitude=31.2,
        speed=30.5,
        direction=90.0,
        altitude=12.0,
    ),
    MediaStatusNotify(sn=15, device_id=CHANNEL),
    DeviceControl(sn=16, device_id=CHANNEL, tele_boot="Boot"),
    DeviceControl(sn=17, device_id=CHANNEL, guard_cmd="SetGuard"),
    DeviceControl(sn=18, device_id=CHANNEL, alarm_cmd="ResetAlarm", alarm_method=2, alarm_type=1),
    DeviceControl(sn=19, device_id=CHANNEL, record_cmd="Record", iframe_cmd="Send"),
    DeviceControl(
        sn=20,
        device_id=CHANNEL,
        drag_zoom=DragZoom(True, 1920, 1080, 100, 200, 50, 60),
        home_position=HomePosition(True, 30, 1),
    ),
    ResultResponse(cmd_type="DeviceControl", sn=21, device_id=CHANNEL, result="ERROR"),
    ResultResponse(cmd_type="Alarm", sn=22, device_id=CHANNEL),
    ResultResponse(cmd_type="DeviceConfig", sn=23, device_id=CHANNEL),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("charset", ["GB2312", "UTF-8", "GB18030"])
def test_every_message_type_round_trips(message: ManscdpMessage, charset: str) -> None:
    assert not isinstance(message, UnknownMessage)
    body = message.serialize(charset)
    assert body.startswith(f'<?xml version="1.0" encoding="{charset}"?>\r\n'.encode())
    assert parse_manscdp(body) == message


def test_unknown_command_is_returned_with_its_fields() -> None:
    body = (
        b'<?xml version="1.0"?><Query><CmdType>ConfigDownload</CmdType><SN>5</SN>'
        b"<DeviceID>X</DeviceID><ConfigType>BasicParam</ConfigType></Query>"
    )
    message = parse_manscdp(body)
    assert message == UnknownMessage(
        root="Query",
        cmd_type="ConfigDownload",
        sn=5,
        device_id="X",
        fields={
            "CmdType": "ConfigDownload",
            "SN": "5",
            "DeviceID": "X",
            "ConfigType": "BasicParam",
        },
    )


def test_ifame_and_iframe_spellings() -> None:
    for element in ("IFameCmd", "IFrameCmd"):
        body = (
            f"<Control><CmdType>DeviceControl</CmdType><SN>1</SN><DeviceID>X</DeviceID>"
            f"<{element}>Send</{element}></Control>"
        ).encode()
        control = parse_manscdp(body)
        assert isinstance(control, DeviceControl)
        assert control.iframe_cmd == "Send"
