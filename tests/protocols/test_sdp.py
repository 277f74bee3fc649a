"""SDP with the GB/T 28181 lines: the §11.5 INVITE bodies byte for byte, SSRC rules (§11.4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.protocols.errors import ParseError
from vigil.protocols.sdp import (
    LIVE_PAYLOADS,
    SessionDescription,
    build_media_answer,
    build_media_offer,
    make_ssrc,
    normalize_ssrc,
    ssrc_from_int,
    ssrc_to_int,
)
from vigil.protocols.sip.message import SipRequest

PLATFORM = "34020000002000000001"
CHANNEL = "34020000001310000001"


def crlf(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


LIVE_UDP = crlf(
    "v=0",
    "o=34020000002000000001 0 0 IN IP4 192.168.1.10",
    "s=Play",
    "c=IN IP4 192.168.1.10",
    "t=0 0",
    "m=video 30000 RTP/AVP 96 97 98",
    "a=recvonly",
    "a=rtpmap:96 PS/90000",
    "a=rtpmap:97 MPEG4/90000",
    "a=rtpmap:98 H264/90000",
    "y=0200000001",
)
DEVICE_ANSWER = crlf(
    "v=0",
    "o=34020000001310000001 0 0 IN IP4 192.168.1.64",
    "s=Play",
    "c=IN IP4 192.168.1.64",
    "t=0 0",
    "m=video 15060 RTP/AVP 96",
    "a=sendonly",
    "a=rtpmap:96 PS/90000",
    "y=0200000001",
    "f=",
)
LIVE_TCP_PASSIVE = crlf(
    "v=0",
    "o=34020000002000000001 0 0 IN IP4 192.168.1.10",
    "s=Play",
    "c=IN IP4 192.168.1.10",
    "t=0 0",
    "m=video 30002 TCP/RTP/AVP 96",
    "a=recvonly",
    "a=rtpmap:96 PS/90000",
    "a=setup:passive",
    "a=connection:new",
    "y=0200000002",
)
PLAYBACK = crlf(
    "v=0",
    "o=34020000002000000001 0 0 IN IP4 192.168.1.10",
    "s=Playback",
    "u=34020000001310000001:0",
    "c=IN IP4 192.168.1.10",
    "t=1714521600 1714525200",
    "m=video 30004 RTP/AVP 96",
    "a=recvonly",
    "a=rtpmap:96 PS/90000",
    "y=1200000001",
)
DOWNLOAD = crlf(
    "v=0",
    "o=34020000002000000001 0 0 IN IP4 192.168.1.10",
    "s=Download",
    "u=34020000001310000001:0",
    "c=IN IP4 192.168.1.10",
    "t=1714521600 1714525200",
    "m=video 30006 RTP/AVP 96",
    "a=recvonly",
    "a=rtpmap:96 PS/90000",
    "a=downloadspeed:4",
    "y=1200000002",
)


def test_vector_lengths() -> None:
    assert [len(b) for b in (LIVE_UDP, DEVICE_ANSWER, LIVE_TCP_PASSIVE, PLAYBACK, DOWNLOAD)] == [
        220, 169, 204, 213, 232,
    ]  # fmt: skip


def test_invite_vector_body_is_the_live_offer() -> None:
    data = (Path(__file__).parent / "sip" / "data" / "invite_play_udp.sip").read_bytes()
    assert SipRequest.parse(data).body == LIVE_UDP


@pytest.mark.parametrize("body", [LIVE_UDP, DEVICE_ANSWER, LIVE_TCP_PASSIVE, PLAYBACK, DOWNLOAD])
def test_parse_and_serialize_round_trip(body: bytes) -> None:
    assert SessionDescription.parse(body).serialize() == body


def test_builders_reproduce_the_offers() -> None:
    common = {"origin_id": PLATFORM, "ip": "192.168.1.10"}
    live = build_media_offer(**common, port=30000, ssrc="0200000001", payloads=LIVE_PAYLOADS)
    assert live.serialize() == LIVE_UDP
    tcp = build_media_offer(**common, port=30002, ssrc="0200000002", transport="tcp-passive")
    assert tcp.serialize() == LIVE_TCP_PASSIVE
    window = {"channel_id": CHANNEL, "start": 1714521600, "end": 1714525200}
    playback = build_media_offer(**common, port=30004, ssrc="1200000001", session="Playback",
                                 **window)  # type: ignore[arg-type]  # fmt: skip
    assert playback.serialize() == PLAYBACK
    download = build_media_offer(**common, port=30006, ssrc="1200000002", session="Download",
                                 download_speed=4, **window)  # type: ignore[arg-type]  # fmt: skip
    assert download.serialize() == DOWNLOAD
    answer = build_media_answer(origin_id=CHANNEL, ip="192.168.1.64", port=15060,
                                ssrc="0200000001")  # fmt: skip
    assert answer.serialize() == DEVICE_ANSWER


def test_tcp_active_and_stream_selection() -> None:
    offer = build_media_offer(origin_id=PLATFORM, ip="10.0.0.1", port=1, ssrc="0200000003",
                              transport="tcp-active", stream_number=1)  # fmt: skip
    video = offer.video()
    assert video is not None
    assert video.setup == "active"
    assert video.is_tcp
    assert video.stream_number == 1
    assert video.attribute("connection") == "new"
    with pytest.raises(ValueError, match="channel ID"):
        build_media_offer(origin_id=PLATFORM, ip="x", port=1, ssrc="1", session="Playback")


def test_parsed_fields() -> None:
    offer = SessionDescription.parse(LIVE_UDP)
    assert offer.origin is not None
    assert offer.origin.username == PLATFORM
    assert offer.connection_address() == "192.168.1.10"
    video = offer.video()
    assert video is not None
    assert (video.port, video.proto, video.formats) == (30000, "RTP/AVP", ["96", "97", "98"])
    assert video.direction == "recvonly"
    assert {pt: m.encoding for pt, m in video.rtpmaps.items()} == {
        96: "PS", 97: "MPEG4", 98: "H264",
    }  # fmt: skip
    assert video.rtpmaps[96].clock_rate == 90000
    assert offer.ssrc == "0200000001"
    assert offer.start_end == (0, 0)
    playback = SessionDescription.parse(DOWNLOAD)
    assert playback.uri == f"{CHANNEL}:0"
    assert playback.start_end == (1714521600, 1714525200)
    assert playback.video().download_speed == 4  # type: ignore[union-attr]
    answer = SessionDescription.parse(DEVICE_ANSWER)
    assert answer.media_format == ""
    assert answer.video().direction == "sendonly"


def test_vendor_answers() -> None:
    hikvision = crlf(
        "v=0", "o=x 0 0 IN IP4 1.2.3.4", "s=Play", "c=IN IP4 1.2.3.4", "t=0 0",
        "m=video 15060 RTP/AVP 96", "a=sendonly", "a=rtpmap:96 PS/90000",
        "a=username:34020000001320000001", "a=password:12345678", "a=filesize:0",
        "y=630886", "f=",
    )  # fmt: skip
    sdp = SessionDescription.parse(hikvision)
    assert sdp.ssrc == "0000630886"
    assert sdp.video().file_size == 0  # type: ignore[union-attr]
    dahua = LIVE_UDP.replace(
        b"y=0200000001", b"a=streamprofile:1\r\ny=0200000001\r\nf=v/0/0/0/0/0a/0/0/0"
    )
    parsed = SessionDescription.parse(dahua)
    assert parsed.video().stream_number == 1  # type: ignore[union-attr]
    assert parsed.media_format == "v/0/0/0/0/0a/0/0/0"
    mercury = LIVE_UDP.replace(b"a=recvonly", b"a=recvonly\r\na=streamMode:SUB")
    assert SessionDescription.parse(mercury).video().stream_number == 1  # type: ignore[union-attr]
    bare_lf = SessionDescription.parse(PLAYBACK.replace(b"\r\n", b"\n") + b"\n\n")
    assert bare_lf.serialize() == PLAYBACK


def test_ssrc_helpers() -> None:
    assert make_ssrc(PLATFORM, 1, history=False) == "0200000001"
    assert make_ssrc(PLATFORM, 1, history=True) == "1200000001"
    assert make_ssrc("13010000002000000001", 42, history=False) == "0100000042"
    assert make_ssrc("3402000000", 9999, history=True) == "1200009999"
    assert ssrc_to_int("0200000001") == 200000001 == 0x0BEBC201
    assert ssrc_to_int("1200000001") == 0x47868C01
    assert ssrc_from_int(0x0BEBC201) == "0200000001"
    assert normalize_ssrc("630886") == "0000630886"
    for bad in ("", "12345678901", "abc", "９"):
        with pytest.raises(ParseError):
            normalize_ssrc(bad)
    with pytest.raises(ParseError):
        ssrc_to_int("9999999999")
    with pytest.raises(ValueError, match="sequence"):
        make_ssrc(PLATFORM, 10000, history=False)


@pytest.mark.parametrize(
    "body",
    [
        b"v=0\r\nnonsense\r\n",
        b"v=x\r\n",
        b"v=0\r\no=too few\r\n",
        b"v=0\r\nc=IN IP4\r\n",
        b"v=0\r\nt=0\r\n",
        b"v=0\r\nm=video\r\n",
        b"v=0\r\nm=video 99999 RTP/AVP 96\r\n",
        b"v=0\r\nm=video 1/x RTP/AVP 96\r\n",
        b"v=0\r\ny=12345678901\r\n",
        b"v=0\r\n" + b"a=x\r\n" * 300,
        b"v=0\r\n" + b"m=video 1 RTP/AVP 96\r\n" * 20,
        b"a" * 20_000,
    ],
)
def test_malformed_sdp(body: bytes) -> None:
    with pytest.raises(ParseError):
        SessionDescription.parse(body)


def test_bad_rtpmap_is_a_parse_error_on_access() -> None:
    sdp = SessionDescription.parse(b"v=0\r\nm=video 1 RTP/AVP 96\r\na=rtpmap:96 PS\r\n")
    with pytest.raises(ParseError):
        _ = sdp.media[0].rtpmaps


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SDP_VECTORS = [LIVE_UDP, DEVICE_ANSWER, LIVE_TCP_PASSIVE, PLAYBACK, DOWNLOAD]


@st.composite
def mutated_sdp(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SDP_VECTORS)))
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["delete", "insert", "replace"]))
        if action == "delete":
            del data[position : position + draw(st.integers(1, 20))]
        elif action == "insert":
            data[position:position] = draw(
                st.one_of(st.binary(max_size=8), st.sampled_from([b"\r\n", b"=", b"/", b" ", b":"]))
            )
        elif data:
            data[min(position, len(data) - 1)] = draw(st.integers(0, 255))
    return bytes(data)


def exercise_sdp(body: bytes | str) -> None:
    try:
        sdp = SessionDescription.parse(body)
        for media in sdp.media:
            _ = (media.rtpmaps, media.direction, media.setup, media.stream_number,
                 media.download_speed, media.file_size)  # fmt: skip
        reparsed = SessionDescription.parse(sdp.serialize())
    except ParseError:
        return
    assert reparsed.serialize() == sdp.serialize()


@FUZZ
@given(st.one_of(st.binary(max_size=1024), st.text(max_size=512), mutated_sdp()))
def test_sdp_fuzz(body: bytes | str) -> None:
    exercise_sdp(body)
