"""Offer and answer of a live play over each transport (GB/T 28181-2016 Appendix F, RFC 4145
``a=setup``, RFC 4571): what the platform offers, what the simulated device answers, and
where the platform connects for TCP active."""

from __future__ import annotations

import pytest

from vigil.media.stream_handle import MediaTransport
from vigil.play_session import SDP_TRANSPORT, describe_answer, tcp_active_target
from vigil.protocols.sdp import (
    LIVE_PAYLOADS,
    SessionDescription,
    build_media_answer,
    build_media_offer,
)
from vigil.sim.rtp_link import role_for_offer

PLATFORM = "34020000002000000001"
CAMERA = "34020000001320000001"


def _offer(transport: MediaTransport, port: int) -> SessionDescription:
    offer = build_media_offer(
        origin_id=PLATFORM, ip="192.168.1.10", port=port, ssrc="0200000002",
        transport=SDP_TRANSPORT[transport], payloads=LIVE_PAYLOADS,
    )  # fmt: skip
    return SessionDescription.parse(offer.serialize())


def test_tcp_passive_offer_and_the_answer_of_a_connecting_device() -> None:
    offer = _offer(MediaTransport.TCP_PASSIVE, 30002)
    text = offer.serialize().decode()
    assert "m=video 30002 TCP/RTP/AVP 96 97 98\r\n" in text
    assert "a=setup:passive\r\n" in text
    assert "a=connection:new\r\n" in text
    video = offer.video()
    assert video is not None
    role = role_for_offer(video.is_tcp, video.setup)
    assert role == "tcp-active"  # the device connects
    answer = build_media_answer(
        origin_id=CAMERA, ip="192.168.1.64", port=40123, ssrc="0200000002", transport=role
    )
    parsed = SessionDescription.parse(answer.serialize())
    assert parsed.video() is not None
    assert parsed.video().setup == "active"  # type: ignore[union-attr]
    assert describe_answer(parsed) == (
        "media address 192.168.1.64:40123 TCP/RTP/AVP a=setup:active sendonly, SSRC 0200000002"
    )


def test_tcp_active_offer_and_where_the_platform_connects() -> None:
    offer = _offer(MediaTransport.TCP_ACTIVE, 9)
    video = offer.video()
    assert video is not None
    assert video.setup == "active"
    assert video.proto == "TCP/RTP/AVP"
    role = role_for_offer(video.is_tcp, video.setup)
    assert role == "tcp-passive"  # the device listens
    answer = build_media_answer(
        origin_id=CAMERA, ip="192.168.1.64", port=40124, ssrc="0200000002", transport=role
    )
    assert tcp_active_target(answer, "192.168.1.64") == ("192.168.1.64", 40124)


def test_udp_offer_is_answered_over_udp() -> None:
    offer = _offer(MediaTransport.UDP, 30000)
    assert "m=video 30000 RTP/AVP 96 97 98\r\n" in offer.serialize().decode()
    video = offer.video()
    assert video is not None
    assert role_for_offer(video.is_tcp, video.setup) == "udp"


def test_tcp_offer_without_setup_is_taken_as_the_platform_listening() -> None:
    assert role_for_offer(True, None) == "tcp-active"
    assert role_for_offer(True, "actpass") == "tcp-active"


@pytest.mark.parametrize(
    ("answer_ip", "signalling_host", "expected"),
    [
        ("10.0.0.5", "10.0.0.5", "10.0.0.5"),  # same LAN
        ("0.0.0.0", "10.0.0.5", "10.0.0.5"),  # noqa: S104 - an unspecified c=
        ("192.168.1.64", "58.240.1.10", "58.240.1.10"),  # behind NAT (WVP #1543)
        ("61.155.1.9", "58.240.1.10", "61.155.1.9"),  # a public media address is kept
    ],
)
def test_tcp_active_target_host(answer_ip: str, signalling_host: str, expected: str) -> None:
    answer = build_media_answer(
        origin_id=CAMERA, ip=answer_ip, port=15060, ssrc="0200000002", transport="tcp-passive"
    )
    assert tcp_active_target(answer, signalling_host) == (expected, 15060)


def test_tcp_active_target_needs_a_port() -> None:
    answer = build_media_answer(
        origin_id=CAMERA, ip="10.0.0.5", port=0, ssrc="0200000002", transport="tcp-passive"
    )
    with pytest.raises(ValueError, match="no port"):
        tcp_active_target(answer, "10.0.0.5")
