"""Typed settings, read once at start-up and handed down section by section.

Sources, highest priority first: constructor arguments, ``VIGIL_*`` environment variables
(nested sections with ``__``, e.g. ``VIGIL_DATABASE__URL``), an optional TOML config file
named by ``VIGIL_CONFIG`` (or ``--config``), then the defaults below. Devices and channels
are data in the database, never settings.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_PLATFORM_ID = "34020000002000000001"
PlayTransport = Literal["udp", "tcp_passive", "tcp_active"]


class DatabaseSettings(BaseModel):
    # Empty means "SQLite file under the data directory" (resolved in Settings.database_url).
    url: str = ""
    echo: bool = False
    pool_size: int = Field(default=10, ge=1, le=200)
    # Run Alembic migrations when the platform starts (the one-command demo relies on it).
    auto_upgrade: bool = True


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Largest accepted upload (ledger files); larger requests get 413.
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)


class SipSettings(BaseModel):
    host: str = "0.0.0.0"  # noqa: S104 - devices reach the platform from the network
    port: int = Field(default=5060, ge=0, le=65535)
    id: str = DEFAULT_PLATFORM_ID
    domain: str = "3402000000"
    realm: str = ""
    # The default device password; GB/T 28181 deployments conventionally start from it.
    password: str = "12345678"  # noqa: S105
    keepalive_interval_s: float = Field(default=60.0, gt=0)
    keepalive_timeout_count: int = Field(default=3, ge=1)
    register_expires_s: int = Field(default=3600, ge=60)
    # "pending": unknown devices are admitted and parked for approval; "refuse": 403.
    unknown_devices: Literal["pending", "refuse"] = "pending"
    # Host put in Via/Contact of requests to devices; empty: the local address the kernel
    # routes towards each device (right for one interface; set it behind NAT).
    advertised_host: str = ""
    # Digest nonces (RFC 2617 §3.2.1) are stateless, bound to the Call-ID, and stay valid this
    # long, so a device refreshing its registration with the last nonce needs no new 401.
    nonce_ttl_s: float = Field(default=7200.0, gt=0)
    # Offer qop="auth" in challenges; answers with and without qop are accepted either way.
    digest_qop: bool = True
    # Failed digest attempts per source IP: after this many within the window the source is
    # answered 403 without checking until the lockout ends (DESIGN §8).
    auth_max_failures: int = Field(default=10, ge=1)
    auth_failure_window_s: float = Field(default=60.0, gt=0)
    auth_lockout_s: float = Field(default=300.0, gt=0)
    # The final 200 OK to REGISTER carries Date (GB/T 28181-2016 §9.1, J.1) for time sync.
    send_date_header: bool = True
    # Bounds: devices held in memory, concurrent TCP connections, idle TCP connections.
    max_devices: int = Field(default=200_000, ge=1)
    max_tcp_connections: int = Field(default=20_000, ge=1)
    tcp_idle_timeout_s: float = Field(default=600.0, gt=0)
    # Transaction timer T1 (RFC 3261 §17.1.1.1); 64×T1 is the request timeout.
    t1_s: float = Field(default=0.5, gt=0)
    # Read the catalog after every new registration (off: only on demand and by NOTIFY).
    catalog_on_register: bool = True
    # Catalog (Appendix N): waits for the first part and between parts, parallel queries.
    catalog_first_part_timeout_s: float = Field(default=30.0, gt=0)
    catalog_idle_timeout_s: float = Field(default=10.0, gt=0)
    catalog_queries_in_flight: int = Field(default=64, ge=1)
    # Catalog subscription (§9.11.3): subscribe after each catalog, refreshed before expiry.
    catalog_subscribe: bool = True
    catalog_subscribe_expires_s: int = Field(default=3600, ge=30)
    # Ask DeviceInfo (manufacturer, model, firmware) after every new registration.
    query_device_info_on_register: bool = True
    # On-demand queries (DeviceInfo, DeviceStatus, MESSAGE round trips) give up after this.
    query_timeout_s: float = Field(default=10.0, gt=0)
    # Write-behind of presence to the database: every interval, or sooner at this many changes.
    flush_interval_s: float = Field(default=1.0, gt=0)
    flush_max_changes: int = Field(default=500, ge=1)
    # last_keepalive_at is persisted at most this often per device (memory has the truth).
    keepalive_persist_s: float = Field(default=300.0, ge=0)
    # Per-device troubleshooting log: the last N SIP messages (keepalives keep one pair).
    signalling_log_entries: int = Field(default=50, ge=1)
    signalling_log_devices: int = Field(default=100_000, ge=1)
    # Each event subscriber's queue; when full the oldest event is dropped.
    event_queue_size: int = Field(default=1000, ge=1)

    @field_validator("id")
    @classmethod
    def _twenty_digits(cls, value: str) -> str:
        if len(value) != 20 or not value.isdigit():
            raise ValueError("the platform ID must be 20 digits (GB/T 28181 §D.1)")
        return value


class MediaSettings(BaseModel):
    host: str = "0.0.0.0"  # noqa: S104
    # The single RTP port on which streams are demultiplexed by SSRC.
    rtp_port: int = Field(default=30000, ge=0, le=65535)
    # Address put in SDP offers; empty means the SIP socket's local address.
    advertised_ip: str = ""
    # Ports handed out one per stream: UDP for devices that ignore the SSRC (GB/T 28181
    # "multi-port" mode) and TCP-passive listeners. Inclusive bounds.
    port_range_min: int = Field(default=30100, ge=1, le=65535)
    port_range_max: int = Field(default=30999, ge=1, le=65535)
    # SO_RCVBUF of UDP sockets: bursts of hundreds of streams wait here while the event loop
    # is busy. Unprivileged, the kernel caps it at net.core.rmem_max.
    receive_buffer_bytes: int = Field(default=16 * 1024 * 1024, ge=65536)
    # The compiled per-packet UDP receive path (vigil/media/rtp_lane.py) when it is built;
    # off: every datagram takes the Python path (same results, more CPU).
    compiled_receive: bool = True
    # A busy UDP port is read every this often rather than at every readiness event: fewer,
    # larger batches (less CPU per datagram) for at most this much added latency. 0: off.
    receive_coalesce_s: float = Field(default=0.002, ge=0, le=0.05)
    # No RTP for this long: the stream is reported silent (the caller then sends BYE).
    no_data_timeout_s: float = Field(default=10.0, gt=0)
    tcp_connect_timeout_s: float = Field(default=10.0, gt=0)
    # RTP reordering: packets held at most, and how long a gap is waited for.
    reorder_window_packets: int = Field(default=128, ge=1, le=512)
    reorder_max_delay_s: float = Field(default=0.15, gt=0)
    # GOP cache of each stream (a new viewer starts at its keyframe).
    gop_cache_max_bytes: int = Field(default=16 * 1024 * 1024, ge=65536)
    gop_cache_max_samples: int = Field(default=500, ge=1)
    # Per-subscriber queue; a subscriber that falls this far behind skips to a keyframe.
    subscriber_queue_samples: int = Field(default=100, ge=2)
    subscriber_queue_bytes: int = Field(default=16 * 1024 * 1024, ge=65536)
    # Bounded diagnostics: timeline events per stream, unknown-SSRC senders remembered.
    timeline_max_events: int = Field(default=200, ge=10)
    strangers_max: int = Field(default=256, ge=1)
    snapshot_timeout_s: float = Field(default=5.0, gt=0)
    # JPEG snapshots wider than this are scaled down (0 keeps the source size).
    snapshot_max_width: int = Field(default=0, ge=0)
    # How live plays ask devices to send RTP (GB/T 28181-2016 Appendix F, RFC 4145/4571):
    # "udp" to the shared port; "tcp_passive": the device connects to us; "tcp_active": we
    # connect to the address in the device's answer. Per-device overrides by device ID.
    default_transport: PlayTransport = "udp"
    device_transports: dict[str, PlayTransport] = Field(default_factory=dict)
    # Live plays: the last viewer leaving starts this grace period before BYE (a viewer
    # switching layouts re-opens without a new INVITE); an INVITE unanswered this long fails.
    live_grace_s: float = Field(default=10.0, ge=0)
    invite_timeout_s: float = Field(default=32.0, gt=0)  # 64×T1 with the default T1
    # H.265 live view is transcoded to H.264 for browsers (Chromium's MSE has no H.265).
    transcode_h265: bool = True
    # Frames a transcoder may fall behind before it skips to the next keyframe.
    transcode_queue_samples: int = Field(default=50, ge=2)
    # Downloads of device recordings (INVITE s=Download) into MP4s: how many run at once
    # and the longest window one job may ask for.
    device_download_concurrency: int = Field(default=2, ge=1)
    device_download_max_s: int = Field(default=24 * 3600, ge=60)

    def transport_for(self, device_id: str) -> PlayTransport:
        """The transport live plays of a device use: its override or the default."""
        return self.device_transports.get(device_id, self.default_transport)

    @model_validator(mode="after")
    def _port_range_ordered(self) -> MediaSettings:
        if self.port_range_min > self.port_range_max:
            raise ValueError("media port_range_min must not exceed port_range_max")
        return self


class RetentionSettings(BaseModel):
    # Required storage days per collection-point class (REQUIREMENTS R1: ≥ 30 / ≥ 15).
    class1_days: int = Field(default=30, ge=1)
    class2_days: int = Field(default=15, ge=1)
    class3_days: int = Field(default=7, ge=1)

    def days_for_class(self, point_class: int) -> int:
        return {1: self.class1_days, 2: self.class2_days}.get(point_class, self.class3_days)


class StoragePool(BaseModel):
    """A directory recordings are written to, with an optional byte quota (0: disk size)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    path: Path
    quota_bytes: int = Field(default=0, ge=0)


class RecordingSettings(BaseModel):
    # Continuous recording of class 1 and 2 points (per-channel policies override).
    enabled: bool = True
    # Empty: one pool named "default" at <data_dir>/recordings without a quota.
    pools: list[StoragePool] = []
    default_pool: str = "default"
    # Segments are cut at the first keyframe after this long; the first segment of each
    # channel is shortened by a per-channel offset so rotations do not all fall together.
    segment_duration_s: float = Field(default=60.0, ge=2.0, le=600.0)
    # Bytes always left free on a pool's filesystem, whatever its quota.
    min_free_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    # When a pool is full and only footage inside a class guarantee could be purged:
    # "overwrite" purges the oldest unlocked footage anyway, "stop" stops writing to the
    # pool. Both raise a storage alarm; neither is silent (DESIGN §6).
    full_policy: Literal["overwrite", "stop"] = "overwrite"
    retention_interval_s: float = Field(default=60.0, gt=0)
    # Coverage reports count local days in this IANA zone (GB/T 28181 deployments: UTC+8).
    coverage_timezone: str = "Asia/Shanghai"
    # fsync segment files and directories (off only for throwaway benchmarks).
    fsync: bool = True
    # Longest export, and how many run at once.
    export_max_s: int = Field(default=24 * 3600, ge=60)
    export_concurrency: int = Field(default=2, ge=1)
    # Finished export MP4s are removed after this many days (0: kept until removed by hand);
    # their signed manifests and job rows stay, so what was exported remains provable.
    export_keep_days: int = Field(default=30, ge=0)


class AuthSettings(BaseModel):
    token_ttl_s: int = Field(default=12 * 3600, ge=60)
    # Login throttling: after this many failures within the window, refuse for the lockout.
    max_failures: int = Field(default=5, ge=1)
    failure_window_s: int = Field(default=900, ge=1)
    lockout_s: int = Field(default=300, ge=1)


class AdminSettings(BaseModel):
    username: str = "admin"
    # Initial admin password; generated and printed once when unset.
    password: str = ""


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = False


class DemoSettings(BaseModel):
    devices_per_county: int = Field(default=12, ge=0)
    channels_per_device: int = Field(default=2, ge=1)


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads the optional config file; environment variables override it."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is not None:
            with path.open("rb") as handle:
                self._data = tomllib.load(handle)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIGIL_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Path("./var")
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    sip: SipSettings = SipSettings()
    media: MediaSettings = MediaSettings()
    retention: RetentionSettings = RetentionSettings()
    recording: RecordingSettings = RecordingSettings()
    auth: AuthSettings = AuthSettings()
    admin: AdminSettings = AdminSettings()
    log: LogSettings = LogSettings()
    demo: DemoSettings = DemoSettings()

    _config_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls, cls._config_file))

    @model_validator(mode="after")
    def _realm_defaults_to_domain(self) -> Settings:
        if not self.sip.realm:
            self.sip.realm = self.sip.domain
        return self

    @property
    def storage_pools(self) -> list[StoragePool]:
        """The configured pools, or the default pool under the data directory."""
        if self.recording.pools:
            return list(self.recording.pools)
        return [StoragePool(name=self.recording.default_pool, path=self.data_dir / "recordings")]

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'vigil.db').resolve()}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings once: overrides, then environment, then the config file, then defaults."""
    Settings._config_file = config_file
    try:
        return Settings(**overrides)
    finally:
        Settings._config_file = None
