"""The 8-byte PTZ command of ``<PTZCmd>`` (GB/T 28181-2016 Appendix A.3, tables A.4-A.12).

    byte 1  0xA5
    byte 2  version (high nibble, 0) | (0xA + 0x5 + version) % 16  → 0x0F
    byte 3  address, low 8 bits (devices address by <DeviceID>; WVP sends 1, Dahua captures 0)
    byte 4  instruction
    byte 5  data 1          byte 6  data 2
    byte 7  data 3 (high nibble) | address high 4 bits
    byte 8  checksum = (byte 1 + … + byte 7) mod 256

Written as 16 upper-case hex digits; lower case is accepted. Instruction families:
PTZ ``00xxxxxx`` (zoom out/in, tilt up/down, pan left/right; byte 5 pan speed, byte 6 tilt
speed, data 3 zoom speed), FI ``0100xxxx`` (iris close/open, focus near/far; byte 5 focus
speed, byte 6 iris speed), presets 0x81-0x83, cruise 0x84-0x88, scan 0x89-0x8A, auxiliary
switch 0x8C/0x8D (switch number in **byte 5**, 1 = wiper; WVP's decoder reads byte 6, which
disagrees with its own encoder and with the standard).
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.protocols.errors import ParseError

HEADER = 0xA5
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
VERSION = 0

PRESET_ACTIONS = {0x81: "set", 0x82: "call", 0x83: "delete"}
CRUISE_ACTIONS = {0x84: "add", 0x85: "delete", 0x86: "speed", 0x87: "dwell", 0x88: "start"}
SCAN_MODES = {0: "start", 1: "left", 2: "right"}


def _byte(name: str, value: int, maximum: int = 0xFF) -> None:
    if not 0 <= value <= maximum:
        raise ValueError(f"{name} {value} outside 0..{maximum}")


@dataclass(frozen=True, slots=True)
class PtzCommand:
    """The raw command: instruction, data bytes and address."""

    instruction: int
    data1: int = 0
    data2: int = 0
    data3: int = 0
    address: int = 1

    def __post_init__(self) -> None:
        _byte("instruction", self.instruction)
        _byte("data1", self.data1)
        _byte("data2", self.data2)
        _byte("data3", self.data3, 0xF)
        _byte("address", self.address, 0xFFF)

    def to_bytes(self) -> bytes:
        head = bytes(
            [
                HEADER,
                (VERSION << 4) | ((0xA + 0x5 + VERSION) % 16),
                self.address & 0xFF,
                self.instruction,
                self.data1,
                self.data2,
                (self.data3 << 4) | (self.address >> 8),
            ]
        )
        return head + bytes([sum(head) % 256])

    def serialize(self) -> str:
        """The 16 upper-case hex digits carried in ``<PTZCmd>``."""
        return self.to_bytes().hex().upper()

    @classmethod
    def parse(cls, text: str) -> PtzCommand:
        """Parse 16 hex digits; checks header, byte 2, checksum and contradictory bits."""
        text = text.strip()
        if len(text) != 16 or any(ch not in _HEX_DIGITS for ch in text):
            raise ParseError(f"PTZCmd {text[:20]!r} is not 16 hex digits")
        raw = bytes.fromhex(text)
        if raw[0] != HEADER:
            raise ParseError(f"PTZCmd header {raw[0]:#04x} is not 0xA5")
        version = raw[1] >> 4
        if raw[1] & 0x0F != (0xA + 0x5 + version) % 16:
            raise ParseError(f"PTZCmd byte 2 {raw[1]:#04x} fails its nibble check")
        if sum(raw[:7]) % 256 != raw[7]:
            raise ParseError(f"PTZCmd {text} has a bad checksum")
        instruction = raw[3]
        if instruction < 0x40 and (
            instruction & 0x30 == 0x30 or instruction & 0x0C == 0x0C or instruction & 0x03 == 0x03
        ):
            raise ParseError(f"PTZ instruction {instruction:#04x} has contradictory bits")
        if instruction & 0xF0 == 0x40 and (
            instruction & 0x0C == 0x0C or instruction & 0x03 == 0x03
        ):
            raise ParseError(f"FI instruction {instruction:#04x} has contradictory bits")
        return cls(
            instruction=instruction,
            data1=raw[4],
            data2=raw[5],
            data3=raw[6] >> 4,
            address=raw[2] | ((raw[6] & 0x0F) << 8),
        )

    def action(self) -> PtzAction | None:
        """The typed meaning, or ``None`` for an instruction outside the standard's tables."""
        code = self.instruction
        if code < 0x40:
            return PtzMove(
                pan=(1 if code & 0x01 else -1 if code & 0x02 else 0),
                tilt=(1 if code & 0x08 else -1 if code & 0x04 else 0),
                zoom=(1 if code & 0x10 else -1 if code & 0x20 else 0),
                pan_speed=self.data1,
                tilt_speed=self.data2,
                zoom_speed=self.data3,
            )
        if code & 0xF0 == 0x40:
            return FocusIris(
                focus=(1 if code & 0x01 else -1 if code & 0x02 else 0),
                iris=(1 if code & 0x04 else -1 if code & 0x08 else 0),
                focus_speed=self.data1,
                iris_speed=self.data2,
            )
        if code in PRESET_ACTIONS:
            return PresetCommand(PRESET_ACTIONS[code], self.data2)
        twelve_bit = self.data2 | (self.data3 << 8)
        if code in CRUISE_ACTIONS:
            kind = CRUISE_ACTIONS[code]
            value = twelve_bit if kind in ("speed", "dwell") else self.data2
            return CruiseCommand(kind, self.data1, value)
        if code == 0x89 and self.data2 in SCAN_MODES:
            return ScanCommand(SCAN_MODES[self.data2], self.data1)
        if code == 0x8A:
            return ScanCommand("speed", self.data1, twelve_bit)
        if code in (0x8C, 0x8D):
            return AuxSwitch(self.data1, on=code == 0x8C)
        return None


@dataclass(frozen=True, slots=True)
class PtzMove:
    """Pan +1 right / -1 left, tilt +1 up / -1 down, zoom +1 in (tele) / -1 out (wide).
    All zero is the stop command, which also ends cruise and scan."""

    pan: int = 0
    tilt: int = 0
    zoom: int = 0
    pan_speed: int = 0
    tilt_speed: int = 0
    zoom_speed: int = 0

    @property
    def is_stop(self) -> bool:
        return self.pan == 0 and self.tilt == 0 and self.zoom == 0

    def to_command(self, address: int = 1) -> PtzCommand:
        for name in ("pan", "tilt", "zoom"):
            if getattr(self, name) not in (-1, 0, 1):
                raise ValueError(f"{name} must be -1, 0 or 1")
        code = {1: 0x01, -1: 0x02, 0: 0}[self.pan]
        code |= {1: 0x08, -1: 0x04, 0: 0}[self.tilt]
        code |= {1: 0x10, -1: 0x20, 0: 0}[self.zoom]
        return PtzCommand(code, self.pan_speed, self.tilt_speed, self.zoom_speed, address)


@dataclass(frozen=True, slots=True)
class FocusIris:
    """Focus +1 far / -1 near, iris +1 open / -1 close; all zero stops FI."""

    focus: int = 0
    iris: int = 0
    focus_speed: int = 0
    iris_speed: int = 0

    def to_command(self, address: int = 1) -> PtzCommand:
        for name in ("focus", "iris"):
            if getattr(self, name) not in (-1, 0, 1):
                raise ValueError(f"{name} must be -1, 0 or 1")
        code = 0x40 | {1: 0x01, -1: 0x02, 0: 0}[self.focus] | {1: 0x04, -1: 0x08, 0: 0}[self.iris]
        return PtzCommand(code, self.focus_speed, self.iris_speed, 0, address)


@dataclass(frozen=True, slots=True)
class PresetCommand:
    """``set`` / ``call`` / ``delete`` preset 1-255."""

    action: str
    preset: int

    def to_command(self, address: int = 1) -> PtzCommand:
        codes = {name: code for code, name in PRESET_ACTIONS.items()}
        if self.action not in codes:
            raise ValueError(f"unknown preset action {self.action!r}")
        if not 1 <= self.preset <= 255:
            raise ValueError("preset numbers are 1-255")
        return PtzCommand(codes[self.action], 0, self.preset, 0, address)


@dataclass(frozen=True, slots=True)
class CruiseCommand:
    """Cruise (tour) ``group``: ``add``/``delete`` a preset (``value``; delete 0 = the whole
    cruise), set ``speed`` or ``dwell`` seconds (12-bit ``value``), ``start``."""

    action: str
    group: int
    value: int = 0

    def to_command(self, address: int = 1) -> PtzCommand:
        codes = {name: code for code, name in CRUISE_ACTIONS.items()}
        if self.action not in codes:
            raise ValueError(f"unknown cruise action {self.action!r}")
        if self.action in ("speed", "dwell"):
            _byte("value", self.value, 0xFFF)
            return PtzCommand(
                codes[self.action], self.group, self.value & 0xFF, self.value >> 8, address
            )
        value = self.value if self.action in ("add", "delete") else 0
        return PtzCommand(codes[self.action], self.group, value, 0, address)


@dataclass(frozen=True, slots=True)
class ScanCommand:
    """Auto-scan ``group``: ``start``, set ``left`` / ``right`` boundary, or ``speed``."""

    action: str
    group: int
    speed: int = 0

    def to_command(self, address: int = 1) -> PtzCommand:
        if self.action == "speed":
            _byte("speed", self.speed, 0xFFF)
            return PtzCommand(0x8A, self.group, self.speed & 0xFF, self.speed >> 8, address)
        modes = {name: mode for mode, name in SCAN_MODES.items()}
        if self.action not in modes:
            raise ValueError(f"unknown scan action {self.action!r}")
        return PtzCommand(0x89, self.group, modes[self.action], 0, address)


@dataclass(frozen=True, slots=True)
class AuxSwitch:
    """Auxiliary switch ``number`` on/off; switch 1 is the wiper."""

    number: int
    on: bool

    def to_command(self, address: int = 1) -> PtzCommand:
        return PtzCommand(0x8C if self.on else 0x8D, self.number, 0, 0, address)


PtzAction = PtzMove | FocusIris | PresetCommand | CruiseCommand | ScanCommand | AuxSwitch

STOP = PtzMove()
