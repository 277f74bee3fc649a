"""PTZCmd codec: every vector of the implementation notes §10.1 table, both directions."""

from __future__ import annotations

import pytest

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.ptz import (
    STOP,
    AuxSwitch,
    CruiseCommand,
    FocusIris,
    PresetCommand,
    PtzAction,
    PtzCommand,
    PtzMove,
    ScanCommand,
)

VECTORS: list[tuple[str, PtzAction, str]] = [
    ("stop", PtzMove(), "A50F0100000000B5"),
    ("right, pan 0x80", PtzMove(pan=1, pan_speed=0x80), "A50F010180000036"),
    ("left, pan 0x80", PtzMove(pan=-1, pan_speed=0x80), "A50F010280000037"),
    ("down, tilt 0x80", PtzMove(tilt=-1, tilt_speed=0x80), "A50F010400800039"),
    ("up, tilt 0x80", PtzMove(tilt=1, tilt_speed=0x80), "A50F01080080003D"),
    ("zoom in, speed 5", PtzMove(zoom=1, zoom_speed=5), "A50F011000005015"),
    ("zoom out, speed 5", PtzMove(zoom=-1, zoom_speed=5), "A50F012000005025"),
    ("up+right 0x40/0x40", PtzMove(pan=1, tilt=1, pan_speed=0x40, tilt_speed=0x40),
     "A50F01094040003E"),
    ("right+up+zoom-out", PtzMove(pan=1, tilt=1, zoom=-1, pan_speed=0x60, tilt_speed=0x60,
                                  zoom_speed=8), "A50F01296060801E"),
    ("FI stop", FocusIris(), "A50F0140000000F5"),
    ("focus far 0x40", FocusIris(focus=1, focus_speed=0x40), "A50F014140000036"),
    ("focus near 0x40", FocusIris(focus=-1, focus_speed=0x40), "A50F014240000037"),
    ("iris open 0x40", FocusIris(iris=1, iris_speed=0x40), "A50F014400400039"),
    ("iris close 0x40", FocusIris(iris=-1, iris_speed=0x40), "A50F01480040003D"),
    ("set preset 1", PresetCommand("set", 1), "A50F018100010037"),
    ("call preset 1", PresetCommand("call", 1), "A50F018200010038"),
    ("delete preset 1", PresetCommand("delete", 1), "A50F018300010039"),
    ("cruise 1 add preset 3", CruiseCommand("add", 1, 3), "A50F01840103003D"),
    ("cruise 1 delete all", CruiseCommand("delete", 1, 0), "A50F01850100003B"),
    ("cruise 1 speed 0x123", CruiseCommand("speed", 1, 0x123), "A50F01860123106F"),
    ("cruise 1 dwell 10 s", CruiseCommand("dwell", 1, 10), "A50F0187010A0047"),
    ("cruise 1 start", CruiseCommand("start", 1), "A50F01880100003E"),
    ("scan 1 start", ScanCommand("start", 1), "A50F01890100003F"),
    ("scan 1 left", ScanCommand("left", 1), "A50F018901010040"),
    ("scan 1 right", ScanCommand("right", 1), "A50F018901020041"),
    ("scan 1 speed 0x20", ScanCommand("speed", 1, 0x20), "A50F018A01200060"),
    ("wiper on", AuxSwitch(1, on=True), "A50F018C01000042"),
    ("wiper off", AuxSwitch(1, on=False), "A50F018D01000043"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "action", "hex_text"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_encodes_and_decodes(label: str, action: PtzAction, hex_text: str) -> None:
    assert action.to_command().serialize() == hex_text
    for text in (hex_text, hex_text.lower()):
        command = PtzCommand.parse(text)
        assert command.address == 1
        assert command.action() == action
        assert command.serialize() == hex_text


def test_dahua_capture_with_address_zero() -> None:
    up = PtzCommand.parse("A50F000800640020")
    assert up.address == 0
    assert up.action() == PtzMove(tilt=1, tilt_speed=0x64)
    assert PtzMove(tilt=1, tilt_speed=0x64).to_command(address=0).serialize() == "A50F000800640020"
    stop = PtzCommand.parse("A50F0000000000B4")
    assert stop.action() == STOP
    assert STOP.is_stop


def test_twelve_bit_address_uses_the_low_nibble_of_byte_7() -> None:
    command = PtzMove(pan=1, pan_speed=1, zoom_speed=3).to_command(address=0xABC)
    raw = command.to_bytes()
    assert raw[2] == 0xBC
    assert raw[6] == 0x3A
    assert PtzCommand.parse(command.serialize()) == command


@pytest.mark.parametrize(
    "text",
    [
        "A50F0100000000B6",  # checksum
        "A40F0100000000B4",  # header
        "A50E0100000000B4",  # byte 2 nibble check
        "A50F0130000000E5",  # zoom in and out
        "A50F010C000000C1",  # up and down
        "A50F0103000000B8",  # left and right
        "A50F014C000000",  # too short
        "A50F014C00000101F",  # too long
        "A50F01ZZ000000B5",  # not hex
        "A5 0F 01 00 0000",  # spaces that bytes.fromhex would skip
        "A50F014C00000101".replace("0", "０"),  # non-ASCII digits
    ],
)
def test_decoder_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        PtzCommand.parse(text)


def test_decoder_rejects_conflicting_fi_bits() -> None:
    for code in (0x43, 0x4C):
        raw = bytes([0xA5, 0x0F, 0x01, code, 0, 0, 0])
        with pytest.raises(ParseError):
            PtzCommand.parse((raw + bytes([sum(raw) % 256])).hex())


def test_unknown_instruction_decodes_without_a_meaning() -> None:
    raw = bytes([0xA5, 0x0F, 0x01, 0x8B, 1, 2, 0])
    command = PtzCommand.parse((raw + bytes([sum(raw) % 256])).hex())
    assert command.action() is None


@pytest.mark.parametrize(
    "build",
    [
        lambda: PtzMove(pan=2).to_command(),
        lambda: PtzMove(pan_speed=256).to_command(),
        lambda: PtzMove(zoom_speed=16).to_command(),
        lambda: PresetCommand("set", 0).to_command(),
        lambda: PresetCommand("jump", 1).to_command(),
        lambda: CruiseCommand("speed", 1, 0x1000).to_command(),
        lambda: CruiseCommand("fly", 1).to_command(),
        lambda: ScanCommand("up", 1).to_command(),
        lambda: FocusIris(iris=5).to_command(),
        lambda: PtzCommand(0, address=0x1000),
    ],
)
def test_builders_reject_bad_arguments(build: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each builder has its own message
        build()  # type: ignore[operator]
