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
    password: str = "12345678"
    keepalive_interval_s: float = Field(default=60.0, gt=0)
    keepalive_timeout_count: int = Field(default=3, ge=1)
    register_expires_s: int = Field(default=3600, ge=60)
    # "pending": unknown devices are admitted and parked for approval; "refuse": 403.
    unknown_devices: Literal["pending", "refuse"] = "pending"

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


class RetentionSettings(BaseModel):
    # Required storage days per collection-point class (REQUIREMENTS R1: ≥ 30 / ≥ 15).
    class1_days: int = Field(default=30, ge=1)
    class2_days: int = Field(default=15, ge=1)
    class3_days: int = Field(default=7, ge=1)

    def days_for_class(self, point_class: int) -> int:
        return {1: self.class1_days, 2: self.class2_days}.get(point_class, self.class3_days)


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
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'vigil.db').resolve()}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings once: overrides, then environment, then the config file, then defaults."""
    Settings._config_file = config_file  # noqa: SLF001 - the file source needs it at class level
    try:
        return Settings(**overrides)
    finally:
        Settings._config_file = None  # noqa: SLF001
