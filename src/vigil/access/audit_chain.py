"""The audit chain's hash: what exactly is signed for each record, byte for byte.

    hash = HMAC-SHA256(key, prev_hash || canonical_json(record))

``prev_hash`` is the previous record's hash as 64 lower-case hex characters (ASCII); the
first record's is 64 zeros. ``canonical_json`` is a JSON object with the keys ``action``,
``actor``, ``at``, ``detail``, ``id``, ``outcome``, ``source_ip``, ``target``, sorted at
every level, without spaces, non-ASCII characters kept as UTF-8, ``at`` in ISO 8601 UTC
with microseconds (``2026-01-02T03:04:05.000006+00:00``). Anyone holding the key can
re-verify an exported log with these few lines.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from vigil.access.errors import InvalidInputError

GENESIS_HASH = "0" * 64
# The single row of audit_head, which holds the id and hash of the last record.
HEAD_ID = 1


def canonical_json(value: object) -> str:
    # allow_nan=False: NaN is not JSON, and another verifier could not reproduce it.
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def canonical_detail(detail: Mapping[str, object] | None) -> str:
    """The stored form of a record's detail; InvalidInputError if it is not plain JSON.

    Lone surrogates (which JSON decoding of hostile input can produce) cannot be stored as
    UTF-8, so they become "?"; the hash is then computed over what is actually stored.
    """
    try:
        text = canonical_json(dict(detail or {}))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"audit detail must be plain JSON data: {exc}") from exc
    return text.encode("utf-8", "replace").decode("utf-8")


def canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(
    key: bytes,
    prev_hash: str,
    *,
    record_id: int,
    at: datetime,
    actor: str,
    source_ip: str,
    action: str,
    target: str,
    outcome: str,
    detail: object,
) -> str:
    """The hash of one record; ``detail`` is the decoded JSON value, not its text."""
    content = canonical_json(
        {
            "id": record_id,
            "at": canonical_time(at),
            "actor": actor,
            "source_ip": source_ip,
            "action": action,
            "target": target,
            "outcome": outcome,
            "detail": detail,
        }
    )
    message = prev_hash.encode("ascii", "replace") + content.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()
