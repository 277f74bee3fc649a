"""Every SQL table of the platform, in one module, with why each column exists.

The same schema runs on SQLite (the embedded default, WAL mode) and PostgreSQL (at scale).
Migrations under ``migrations/versions`` create exactly these tables; a test compares the
migrated database with this metadata so the two never drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
)

# Stable constraint names so Alembic migrations are portable across SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the backend.

    SQLite stores no zone and hands back naive values; PostgreSQL hands back aware ones.
    Hash chains and comparisons need one canonical form, so both are normalised here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- registry ------------------------------------------------------------------------------

# Administrative divisions (GB/T 2260). The code is stored in its significant form: 2 digits
# for a province, 4 for a city, 6 for a county, 8 for a station (grass-roots unit), so scope
# checks are plain prefix matches. The parent is the longest existing shorter prefix.
regions = Table(
    "regions",
    metadata,
    Column("code", String(8), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("parent_code", String(8), nullable=True, index=True),
    Column("level", SmallInteger, nullable=False),  # 1 province, 2 city, 3 county, 4 station
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
)

# Owner units (建设/使用单位): police, schools, hospitals, shops… with their industry code
# (GB/T 28181 §D.3 industry digits) and the SLA they signed for their points.
organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("industry_code", String(2), nullable=False, default="00"),
    Column("region_code", String(8), ForeignKey("regions.code"), nullable=True, index=True),
    Column("contact_name", String(100), nullable=False, default=""),
    Column("contact_phone", String(40), nullable=False, default=""),
    Column("sla_notes", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
    Column("updated_at", UtcDateTime, nullable=False, default=utc_now, onupdate=utc_now),
)

# Physical devices: GB/T 28181 IPCs, NVRs, lower platforms, and non-GB cameras (RTSP).
devices = Table(
    "devices",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("kind", String(16), nullable=False, default="gb28181"),  # gb28181 | rtsp
    # active: admitted; pending: registered unknown and parked for approval; disabled.
    Column("status", String(16), nullable=False, default="active"),
    Column("region_code", String(8), ForeignKey("regions.code"), nullable=True, index=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=True, index=True),
    Column("manufacturer", String(100), nullable=False, default=""),
    Column("model", String(100), nullable=False, default=""),
    Column("firmware", String(100), nullable=False, default=""),
    # Per-device SIP digest password; empty means the platform default (VIGIL_SIP__PASSWORD).
    Column("sip_password", String(128), nullable=False, default=""),
    Column("rtsp_url", String(500), nullable=False, default=""),
    Column("transport", String(8), nullable=False, default=""),  # udp | tcp (signalling)
    Column("address", String(64), nullable=False, default=""),  # host:port packets came from
    Column("online", Boolean, nullable=False, default=False, index=True),
    Column("last_keepalive_at", UtcDateTime, nullable=True),
    Column("registered_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
    Column("updated_at", UtcDateTime, nullable=False, default=utc_now, onupdate=utc_now),
)

# Collection points (图像采集点), one per camera channel: the unit of the ledger (台账),
# of retention policy, of authorisation and of every KPI.
channels = Table(
    "channels",
    metadata,
    Column("id", String(20), primary_key=True),
    Column(
        "device_id",
        String(20),
        ForeignKey("devices.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    Column("name", String(200), nullable=False),
    Column("region_code", String(8), ForeignKey("regions.code"), nullable=False, index=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=True, index=True),
    Column("point_class", SmallInteger, nullable=False, default=3, index=True),  # 1 / 2 / 3
    # police_video | social_video | internet | wireless (REQUIREMENTS R1 networks)
    Column("network", String(16), nullable=False, default="police_video", index=True),
    Column("resolution", String(16), nullable=False, default=""),  # e.g. 1920x1080
    Column("hd", Boolean, nullable=False, default=False),
    # Override of the class default retention (settings.retention); NULL = class default.
    Column("retention_days", Integer, nullable=True),
    Column("ptz_type", SmallInteger, nullable=True),  # GB/T 28181 catalog Info/PTZType
    Column("longitude", Float, nullable=True),  # WGS-84
    Column("latitude", Float, nullable=True),
    Column("address", String(200), nullable=False, default=""),
    Column("civil_code", String(8), nullable=False, default=""),
    Column("secrecy", Boolean, nullable=False, default=False),
    Column("manufacturer", String(100), nullable=False, default=""),
    Column("model", String(100), nullable=False, default=""),
    Column("online", Boolean, nullable=False, default=False, index=True),
    Column("status_changed_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
    Column("updated_at", UtcDateTime, nullable=False, default=utc_now, onupdate=utc_now),
)
Index("ix_channels_region_class", channels.c.region_code, channels.c.point_class)

# --- access --------------------------------------------------------------------------------

# Accounts. Scope: scope_all, or the union of region-code prefixes and organisation ids.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False, default=""),
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("role", String(16), nullable=False),  # admin|operator|viewer|auditor|approver
    Column("scope_all", Boolean, nullable=False, default=False),
    Column("scope_regions", JSON, nullable=False, default=list),  # ["3402", "340202"]
    Column("scope_orgs", JSON, nullable=False, default=list),  # [organisation ids]
    Column("disabled", Boolean, nullable=False, default=False),
    # Per-account throttling survives restarts and is shared by every API process.
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("first_failure_at", UtcDateTime, nullable=True),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("password_changed_at", UtcDateTime, nullable=False, default=utc_now),
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
    Column("updated_at", UtcDateTime, nullable=False, default=utc_now, onupdate=utc_now),
)

# Bearer tokens. Only the SHA-256 of a token is stored, so a database leak yields no login.
auth_tokens = Table(
    "auth_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("source_ip", String(64), nullable=False, default=""),
    Column("user_agent", String(200), nullable=False, default=""),
)

# Append-only, hash-chained audit log. Each row's hash is HMAC-SHA256 (key in the data
# directory, not the database) over the previous hash and the row's canonical content, so
# editing, inserting or deleting a row breaks the chain from that point on.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("source_ip", String(64), nullable=False, default=""),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(200), nullable=False, default=""),
    Column("outcome", String(16), nullable=False, default="ok"),  # ok | denied | failed
    Column("detail", Text, nullable=False, default="{}"),  # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# The chain's head: the last id and hash. Appends lock this row, which serialises writers
# across processes, and verification compares it with the last row to catch tail deletion.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("last_id", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

# --- recording (DESIGN §6) ----------------------------------------------------------------

# Distinct codec configurations of recorded video. Every segment file starts with its own
# init segment; keeping the bytes here lets playback and export stitch segments of one
# configuration behind a single init segment without opening the first file.
video_params = Table(
    "video_params",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), nullable=False, unique=True),  # of init_segment
    Column("codec", String(8), nullable=False),  # h264 | h265
    Column("rfc6381_codec", String(32), nullable=False),  # e.g. avc1.64001f (MSE mime)
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("init_segment", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
)

# One row per recorded segment file: a standalone fragmented MP4 (~60 s, cut at a keyframe,
# one fragment per GOP). The row is inserted only after the file is complete and fsynced, so
# a row always names a whole file; files without rows are reconciled at start-up. No foreign
# key to channels: removing a point from the ledger must not silently delete its evidence.
segments = Table(
    "segments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel_id", String(20), nullable=False),
    Column("pool", String(64), nullable=False),  # storage pool name (settings.recording)
    Column("path", String(255), nullable=False),  # relative to the pool directory
    # A run is one uninterrupted ingest of a stream: segments of a run abut in 90 kHz time.
    Column("run_id", BigInteger, nullable=False),
    Column("start_at", UtcDateTime, nullable=False),  # wall time of the first frame
    Column("end_at", UtcDateTime, nullable=False),  # start_at + duration
    Column("start_90k", BigInteger, nullable=False),  # decode time of the first frame in the run
    Column("duration_90k", BigInteger, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("init_size_bytes", Integer, nullable=False),  # init segment at the file start
    Column("frames", Integer, nullable=False),
    Column("params_id", Integer, ForeignKey("video_params.id"), nullable=False),
    Column("sha256", String(64), nullable=False),  # of the whole file
    # Packed fragment table (recording.fragment_table): offset, size, start, duration,
    # frames, keyframe flag per fragment — 24 bytes each instead of a row per fragment.
    Column("fragments", LargeBinary, nullable=False),
    # Set when a start-up reconciliation indexed a file cut by a crash (up to its last
    # whole fragment) rather than a cleanly closed one.
    Column("recovered", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
)
Index("ix_segments_channel_start", segments.c.channel_id, segments.c.start_at)
Index("ix_segments_pool_start", segments.c.pool, segments.c.start_at)
Index("uq_segments_pool_path", segments.c.pool, segments.c.path, unique=True)

# Deletion goes through here (Moonfire's rule): mark, unlink, fsync the directory, then
# delete the row. A crash between steps leaves a row that the next start finishes.
recording_garbage = Table(
    "recording_garbage",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pool", String(64), nullable=False),
    Column("path", String(255), nullable=False),
    Column("channel_id", String(20), nullable=False),
    Column("reason", String(32), nullable=False),  # retention | quota | reconcile | manual
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
)

# Per-channel recording policy. Absent row: record when the point class is 1 or 2, always.
recording_policies = Table(
    "recording_policies",
    metadata,
    Column("channel_id", String(20), primary_key=True),
    Column("enabled", Boolean, nullable=True),  # NULL: the class default
    # Weekly schedule: [[weekday 0=Mon..6, start_minute, end_minute], ...]; empty = always.
    Column("schedule", JSON, nullable=False, default=list),
    Column("pool", String(64), nullable=True),  # NULL: the default pool
    Column("updated_by", String(64), nullable=False, default=""),
    Column("updated_at", UtcDateTime, nullable=False, default=utc_now, onupdate=utc_now),
)

# What happened to a channel's recording, so coverage can give each gap its cause.
recording_events = Table(
    "recording_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel_id", String(20), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    # started | stopped | stream_lost | device_offline | disk_full | not_scheduled | error
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)
Index("ix_recording_events_channel_at", recording_events.c.channel_id, recording_events.c.at)

# Evidence locks exempt a channel's time range from purging (who, why, until when; audited).
evidence_locks = Table(
    "evidence_locks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel_id", String(20), nullable=False, index=True),
    Column("start_at", UtcDateTime, nullable=False),
    Column("end_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("case_number", String(64), nullable=False, default=""),
    Column("locked_by", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
    Column("expires_at", UtcDateTime, nullable=True),  # NULL: until released
    Column("released_by", String(64), nullable=True),
    Column("released_at", UtcDateTime, nullable=True),
)

# Alarms raised by the platform itself (storage at risk, disk full, recorder behind, ...)
# and, later, by devices and analytics. Cleared when the condition ends; acknowledged by a
# person.
alarms = Table(
    "alarms",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, default=utc_now),
    Column("kind", String(32), nullable=False, index=True),
    Column("severity", String(8), nullable=False, default="major"),  # critical|major|minor
    Column("source", String(64), nullable=False, default=""),  # channel id, pool name, ...
    Column("message", Text, nullable=False),
    Column("detail", JSON, nullable=False, default=dict),
    Column("cleared_at", UtcDateTime, nullable=True),
    Column("acknowledged_by", String(64), nullable=True),
    Column("acknowledged_at", UtcDateTime, nullable=True),
)
Index("ix_alarms_open", alarms.c.kind, alarms.c.source, alarms.c.cleared_at)

# Export jobs: an MP4 of a range built from segment byte ranges, with a signed manifest.
export_jobs = Table(
    "export_jobs",
    metadata,
    Column("id", String(32), primary_key=True),  # random hex, also the file name
    Column("channel_id", String(20), nullable=False, index=True),
    Column("start_at", UtcDateTime, nullable=False),
    Column("end_at", UtcDateTime, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("state", String(16), nullable=False, default="queued"),  # queued|running|done|failed
    Column("progress", Float, nullable=False, default=0.0),  # 0..1
    Column("size_bytes", BigInteger, nullable=True),
    Column("path", String(255), nullable=True),  # relative to the exports directory
    Column("error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
    Column("finished_at", UtcDateTime, nullable=True),
    # While running: the process holding the job and until when (renewed as it works); a
    # job whose lease ran out is queued again by any process (recording.export_jobs).
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
)

# Downloads of a device's own recording (GB/T 28181-2016 §9.9, INVITE s=Download) into one
# MP4 on the platform; the window is in the device's clock, stored as UTC instants.
device_downloads = Table(
    "device_downloads",
    metadata,
    Column("id", String(32), primary_key=True),  # random hex, also the file name
    Column("channel_id", String(20), nullable=False, index=True),
    Column("device_id", String(20), nullable=False),
    Column("requested_by", String(64), nullable=False, index=True),
    Column("start_at", UtcDateTime, nullable=False),
    Column("end_at", UtcDateTime, nullable=False),
    Column("speed", SmallInteger, nullable=False),  # a=downloadspeed, × real time
    Column("state", String(16), nullable=False, default="queued"),  # queued|running|done|failed
    Column("progress", Float, nullable=False, default=0.0),  # media seconds received / window
    Column("size_bytes", BigInteger, nullable=False, default=0),  # written so far, then final
    Column("frames", Integer, nullable=False, default=0),
    Column("path", String(255), nullable=True),  # relative to the downloads directory
    Column("sha256", String(64), nullable=True),  # of the finished file
    Column("error", Text, nullable=True),  # the play's verdict when it failed
    Column("created_at", UtcDateTime, nullable=False, default=utc_now),
    Column("finished_at", UtcDateTime, nullable=True),
)

# Coverage per channel per local day (recording.coverage_days), kept for closed days so a
# report over 30 days reads one row per day instead of ~1440 segment rows. A row is the day
# as seen from the segments and events of [context_from, context_to) (the day and an hour on
# each side); anything that changes recordings or back-dates an event in that range deletes
# the row (recording.coverage_invalidation) and the next report computes it again.
coverage_days = Table(
    "coverage_days",
    metadata,
    Column("channel_id", String(20), primary_key=True),
    Column("day", Date, primary_key=True),  # local date in ``timezone``
    Column("timezone", String(64), nullable=False),  # coverage_timezone it was cut in
    Column("recorded_s", Float, nullable=False),
    Column("expected_s", Float, nullable=False),
    Column("longest_gap_s", Float, nullable=False),  # within the day
    Column("gap_count", Integer, nullable=False),
    # [[start_us, end_us, cause], ...]: each gap overlapping the day, offsets in microseconds
    # from the day's start, as far as the context sees it (it may run past midnight, so the
    # guarantee can judge a gap across days as one).
    Column("gaps", JSON, nullable=False),
    Column("context_from", UtcDateTime, nullable=False),
    Column("context_to", UtcDateTime, nullable=False),
    # The context begins inside a gap, whose cause then looks back to the last cause event
    # before it: a back-dated event anywhere earlier may change this row.
    Column("leads_with_gap", Boolean, nullable=False),
    Column("computed_at", UtcDateTime, nullable=False, default=utc_now),
)

# One counter per channel, raised by every invalidation: a report that computed days from
# segments stores them only if the counter has not moved since it began reading, so a purge
# or late insert racing a report never leaves a stale row behind.
coverage_marks = Table(
    "coverage_marks",
    metadata,
    Column("channel_id", String(20), primary_key=True),
    Column("generation", BigInteger, nullable=False, default=0),
)
