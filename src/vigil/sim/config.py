"""Settings of the device simulator and the parser of its command line (DESIGN §10:
``vigil sim --platform HOST:PORT --devices N --channels M --password P --region CODE``).

``--channels 1`` simulates IPCs (type 132, one channel); more simulates NVRs (type 118).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.device_id import significant_region_code
from vigil.settings import DEFAULT_PLATFORM_ID

Transport = Literal["udp", "tcp"]
VideoCodec = Literal["h264", "h265"]
USER_AGENT = "Vigil-Sim"


@dataclass(frozen=True, slots=True)
class SimConfig:
    platform_host: str = "127.0.0.1"
    platform_port: int = 5060
    platform_id: str = DEFAULT_PLATFORM_ID
    domain: str = "3402000000"
    devices: int = 1
    channels: int = 1  # 1: IPCs; more: NVRs with this many channels
    password: str = "12345678"  # noqa: S105 - the GB/T 28181 conventional default
    region: str = "3402"  # centre code (2-8 digits) of the simulated device IDs
    first_serial: int = 1  # serial (digits 15-20) of the first device
    transport: Transport = "udp"
    keepalive_s: float = 60.0
    keepalive_timeout_count: int = 3  # unanswered keepalives before re-registering
    register_expires_s: int = 3600
    retry_s: float = 60.0  # first back-off after a failed registration (§9.1: ≥ 60 s)
    retry_max_s: float = 600.0
    charset: str = "GB2312"  # MANSCDP bodies: GB2312 declared, GB18030 bytes; or UTF-8
    catalog_items_min: int = 1  # items per catalog MESSAGE, drawn per answer
    catalog_items_max: int = 5
    devices_per_port: int = 50  # UDP devices sharing one local socket (TCP: one each)
    bind_host: str = ""  # empty: the local address routed towards the platform
    register_rate_per_s: float = 500.0  # pacing of the first registrations (0: all at once)
    digest_qop: bool = True  # answer qop="auth" challenges with qop (else RFC 2069 form)
    t1_s: float = 0.5  # SIP timer T1 of the simulated devices
    seed: int = 1
    manufacturer: str = "Vigil"
    video_width: int = 640  # the H.264 test pattern streamed on INVITE
    video_height: int = 360
    media_mute: bool = False  # answer INVITE but send no RTP (a broken device)
    record_days: int = 7  # recording history of each channel (sim_recordings.py)
    record_item_s: int = 3600  # one RecordInfo item per this many seconds
    record_items_per_message: int = 10  # RecordInfo items per MESSAGE (SumNum spans them)
    video_codec: VideoCodec = "h264"  # h265: PS stream type 0x24 (GB/T 28181-2016 Appendix C)
    frame_numbers: bool = False  # an SEI with SSRC and frame number in every frame

    def __post_init__(self) -> None:
        if self.devices < 0 or self.channels < 1:
            raise ValueError("devices must be ≥ 0 and channels ≥ 1")
        if self.first_serial < 1 or self.first_serial + self.devices > 1_000_000:
            raise ValueError("device serials must stay within 1..999999")
        if (self.first_serial + self.devices) * self.channels > 1_000_000:
            raise ValueError("channel serials must stay within 1..999999")
        if not 1 <= self.catalog_items_min <= self.catalog_items_max:
            raise ValueError("catalog items per message: 1 ≤ min ≤ max")
        if not (16 <= self.video_width <= 1920 and 16 <= self.video_height <= 1088):
            raise ValueError("video size must be within 16x16..1920x1088")
        if self.video_width % 2 or self.video_height % 2:
            raise ValueError("video width and height must be even (4:2:0)")
        if self.record_days < 1 or self.record_item_s < 60 or self.record_items_per_message < 1:
            raise ValueError("recording history: days ≥ 1, item ≥ 60 s, items per message ≥ 1")
        if self.keepalive_s <= 0 or self.devices_per_port < 1:
            raise ValueError("keepalive and devices per port must be positive")
        try:
            significant_region_code(self.region)
        except ParseError as exc:
            raise ValueError(str(exc)) from None

    @property
    def platform(self) -> tuple[str, int]:
        return (self.platform_host, self.platform_port)

    @property
    def is_nvr(self) -> bool:
        return self.channels > 1


DEFAULTS = SimConfig()


def _host_port(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _items_range(text: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    try:
        values = (int(low), int(high if dash else low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or MIN-MAX, got {text!r}") from None
    return values


def _video_size(text: str) -> tuple[int, int]:
    width, x, height = text.lower().partition("x")
    if not x or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}")
    return int(width), int(height)


def build_arg_parser(prog: str = "vigil sim") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Simulated GB/T 28181 devices (IPCs and NVRs) for demos and load."
    )
    add = parser.add_argument
    add("--platform", type=_host_port, required=True, metavar="HOST:PORT", help="platform SIP")
    add("--devices", type=int, default=1, metavar="N", help="number of devices")
    add("--channels", type=int, default=1, metavar="M", help="channels per device (1: IPC)")
    add("--password", default=DEFAULTS.password, metavar="P", help="SIP digest password")
    add("--region", default=DEFAULTS.region, metavar="CODE", help="region code of the IDs")
    add("--transport", choices=("udp", "tcp"), default="udp")
    add("--keepalive-s", type=float, default=DEFAULTS.keepalive_s, metavar="S")
    add("--keepalive-timeout-count", type=int, default=DEFAULTS.keepalive_timeout_count)
    add("--platform-id", default=DEFAULT_PLATFORM_ID, metavar="ID")
    add("--domain", default=DEFAULTS.domain)
    add("--first-serial", type=int, default=1, metavar="N")
    add("--expires-s", type=int, default=DEFAULTS.register_expires_s, metavar="S")
    add("--retry-s", type=float, default=DEFAULTS.retry_s, metavar="S")
    add("--charset", choices=("GB2312", "GB18030", "UTF-8"), default=DEFAULTS.charset)
    add("--catalog-items", type=_items_range, default=(1, 5), metavar="MIN-MAX",
        help="catalog items per MESSAGE (Hikvision NVRs send 1)")  # fmt: skip
    add("--devices-per-port", type=int, default=DEFAULTS.devices_per_port, metavar="N")
    add("--bind", default="", metavar="HOST", help="local address (default: towards platform)")
    add("--register-rate", type=float, default=DEFAULTS.register_rate_per_s, metavar="PER_S")
    add("--no-qop", action="store_true", help="answer challenges without qop")
    add("--seed", type=int, default=1)
    add("--video-size", type=_video_size, default=(DEFAULTS.video_width, DEFAULTS.video_height),
        metavar="WxH", help="H.264 test pattern streamed on INVITE")  # fmt: skip
    add("--mute-media", action="store_true", help="answer INVITE but send no RTP")
    add("--video-codec", choices=("h264", "h265"), default=DEFAULTS.video_codec,
        help="codec of the test pattern")  # fmt: skip
    add("--frame-numbers", action="store_true",
        help="number every frame (SEI user data) so receivers can count lost frames")  # fmt: skip
    return parser


def parse_sim_args(argv: Sequence[str] | None = None) -> SimConfig:
    """Parse the ``vigil sim`` options; argparse exits with a message on bad input."""
    parser = build_arg_parser()
    args = parser.parse_args(argv)
    host, port = args.platform
    try:
        return SimConfig(
            platform_host=host,
            platform_port=port,
            platform_id=args.platform_id,
            domain=args.domain,
            devices=args.devices,
            channels=args.channels,
            password=args.password,
            region=args.region,
            first_serial=args.first_serial,
            transport=args.transport,
            keepalive_s=args.keepalive_s,
            keepalive_timeout_count=args.keepalive_timeout_count,
            register_expires_s=args.expires_s,
            retry_s=args.retry_s,
            charset=args.charset,
            catalog_items_min=args.catalog_items[0],
            catalog_items_max=args.catalog_items[1],
            devices_per_port=args.devices_per_port,
            bind_host=args.bind,
            register_rate_per_s=args.register_rate,
            digest_qop=not args.no_qop,
            seed=args.seed,
            video_width=args.video_size[0],
            video_height=args.video_size[1],
            media_mute=args.mute_media,
            video_codec=args.video_codec,
            frame_numbers=args.frame_numbers,
        )
    except ValueError as exc:
        parser.error(str(exc))
