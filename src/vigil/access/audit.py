"""The append-only, hash-chained audit log: append, list, verify.

Each record's hash is an HMAC over the previous record's hash and its own content (see
``audit_chain``); the ``audit_head`` row holds the last id and hash. Appends run inside the
caller's transaction, so an action and its record commit together or not at all, and they
lock the head row, which serialises writers across processes and keeps ids gap-free.

What :func:`verify` detects, given the key:

* an edited record (any field, or its hash recomputed without the key) — ``altered``;
* deleted records in the middle or at the start — ``missing`` at the next surviving id;
* a record inserted, replaced or moved — ``altered`` and/or ``broken_link``;
* records deleted from the end — ``head_mismatch`` (the head still names the old last id);
* a deleted or edited head row — ``head_missing`` / ``head_mismatch``.

What it cannot detect from the database alone: someone with write access who deletes the
newest records **and** rewinds the head to the last surviving record's id and hash. Every
remaining record and the head are then genuine, an earlier valid state of the chain, and
nothing left in the database contradicts it. Forging a *new* state (altering or adding
records) needs the key; going back to an old one does not. The remedy is an anchor kept
outside the database: record :attr:`AuditVerifyReport.anchor` (id and hash) somewhere the
database writer cannot reach — the log stream, an upper platform, paper — and pass it back
to :func:`verify`, which then reports ``anchor_mismatch`` if the chain no longer reaches it.

Whoever holds both write access to the database and the key file can of course forge
anything; the key's place outside the database (``audit_key``) is what separates the two.

:func:`append` expects PostgreSQL's default READ COMMITTED isolation: under REPEATABLE READ
two concurrent appends end in a serialisation error for one of them. :func:`verify` works
under either; appends that commit while it walks are recognised as such and not reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.access.audit_chain import GENESIS_HASH, HEAD_ID, canonical_detail, record_hash
from vigil.access.audit_verify import (
    AuditAnchor,
    AuditProblem,
    AuditProblemKind,
    AuditVerifyReport,
    verify,
)
from vigil.access.errors import AuditChainError, InvalidInputError
from vigil.db.tables import audit_head, audit_log

__all__ = [
    "AuditAnchor",
    "AuditProblem",
    "AuditProblemKind",
    "AuditRecord",
    "AuditVerifyReport",
    "append",
    "list_audit",
    "verify",
]

# Dotted lower-case names: "auth.login", "user.create", "ledger.import", "channel.update".
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
# "ok", "denied", "failed", "throttled"…: a short lower-case word.
_OUTCOME = re.compile(r"[a-z][a-z_]{0,15}")
MAX_ACTOR_CHARS = 64
MAX_SOURCE_IP_CHARS = 64
MAX_TARGET_CHARS = 200
MAX_LIST_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    source_ip: str
    action: str
    target: str
    outcome: str
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str


def _clean(text: str, limit: int) -> str:
    """Make untrusted text storable: no lone surrogates or NUL (PostgreSQL refuses both)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")[:limit]


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise InvalidInputError(f"{name} must include a time zone")


async def append(
    conn: AsyncConnection,
    key: bytes,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str = "",
    detail: Mapping[str, object] | None = None,
    outcome: str = "ok",
    source_ip: str = "",
) -> AuditRecord:
    """Append one record inside the caller's transaction and return it.

    ``actor``, ``target`` and ``source_ip`` may come from untrusted input (a failed login's
    username): they are clipped to their column widths rather than refused, so recording
    never fails because of what an attacker typed. ``action`` and ``outcome`` are code and
    must be well formed (InvalidInputError otherwise), as must ``detail`` (plain JSON data).
    """
    _require_aware("at", at)
    if not _ACTION.fullmatch(action) or len(action) > 64:
        raise InvalidInputError(f"audit action {action!r} is not a dotted lower-case name")
    if not _OUTCOME.fullmatch(outcome):
        raise InvalidInputError(f"audit outcome {outcome!r} is not a short lower-case word")
    at = at.astimezone(UTC)
    actor = _clean(actor, MAX_ACTOR_CHARS)
    target = _clean(target, MAX_TARGET_CHARS)
    source_ip = _clean(source_ip, MAX_SOURCE_IP_CHARS)
    detail_text = canonical_detail(detail)
    detail_value = json.loads(detail_text)

    last_id, last_hash = await _lock_head(conn)
    record_id = last_id + 1
    digest = record_hash(
        key,
        last_hash,
        record_id=record_id,
        at=at,
        actor=actor,
        source_ip=source_ip,
        action=action,
        target=target,
        outcome=outcome,
        detail=detail_value,
    )
    try:
        await conn.execute(
            insert(audit_log).values(
                id=record_id,
                at=at,
                actor=actor,
                source_ip=source_ip,
                action=action,
                target=target,
                outcome=outcome,
                detail=detail_text,
                prev_hash=last_hash,
                hash=digest,
            )
        )
    except IntegrityError as exc:
        raise AuditChainError(
            f"audit record {record_id} already exists although the head says the log ends "
            f"at {last_id}; the chain has been tampered with (run `vigil audit verify`)"
        ) from exc
    await conn.execute(
        update(audit_head)
        .where(audit_head.c.id == HEAD_ID)
        .values(last_id=record_id, last_hash=digest)
    )
    return AuditRecord(
        record_id, at, actor, source_ip, action, target, outcome, detail_value, last_hash, digest
    )


async def _lock_head(conn: AsyncConnection) -> tuple[int, str]:
    """Lock the head row for this transaction (creating it on the first append)."""
    if conn.dialect.name == "sqlite":
        # pysqlite issues BEGIN only before the first write, so a read of the head would run
        # outside the transaction and another writer could append between that read and our
        # insert. Writing first takes SQLite's single write lock before the head is read.
        await conn.execute(
            update(audit_head)
            .where(audit_head.c.id == HEAD_ID)
            .values(last_id=audit_head.c.last_id)
        )
    head = await _select_head_for_update(conn)
    if head is None:
        if await _create_head_if_missing(conn):
            existing = await conn.execute(select(audit_log.c.id).limit(1))
            if existing.first() is not None:
                raise AuditChainError(
                    "the audit head row is missing while the log has records; "
                    "the chain has been tampered with (run `vigil audit verify`)"
                )
        # Created just now, or by a concurrent first append that has committed meanwhile.
        head = await _select_head_for_update(conn)
        if head is None:
            raise AuditChainError("the audit head row could not be created")
    return head


async def _select_head_for_update(conn: AsyncConnection) -> tuple[int, str] | None:
    # FOR UPDATE on PostgreSQL (SQLite has no row locks and ignores it): waits for any
    # concurrent appender to commit, then reads the head it left.
    result = await conn.execute(
        select(audit_head.c.last_id, audit_head.c.last_hash)
        .where(audit_head.c.id == HEAD_ID)
        .with_for_update()
    )
    row = result.one_or_none()
    return None if row is None else (int(row[0]), str(row[1]))


async def _create_head_if_missing(conn: AsyncConnection) -> bool:
    """Insert the empty head unless it exists; whether this call created it.

    ON CONFLICT DO NOTHING lets two first appends race without either failing.
    """
    values = {"id": HEAD_ID, "last_id": 0, "last_hash": GENESIS_HASH}
    if conn.dialect.name == "postgresql":
        statement: Any = postgresql.insert(audit_head).values(values).on_conflict_do_nothing()
    elif conn.dialect.name == "sqlite":
        statement = sqlite.insert(audit_head).values(values).on_conflict_do_nothing()
    else:
        found = await conn.execute(select(audit_head.c.id).where(audit_head.c.id == HEAD_ID))
        if found.first() is not None:
            return False
        statement = insert(audit_head).values(values)
    result = await conn.execute(statement)
    return bool(result.rowcount)


def _record_from_row(row: RowMapping) -> AuditRecord:
    try:
        detail = json.loads(row["detail"])
    except ValueError:
        # Listing must still show a damaged record; verify reports it as altered.
        detail = {"unreadable": row["detail"]}
    if not isinstance(detail, dict):
        detail = {"value": detail}
    return AuditRecord(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        source_ip=row["source_ip"],
        action=row["action"],
        target=row["target"],
        outcome=row["outcome"],
        detail=detail,
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


async def list_audit(
    conn: AsyncConnection,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
    *,
    outcome: str | None = None,
) -> tuple[list[AuditRecord], int]:
    """Records matching every given filter, newest first, and how many match in all.

    ``since`` is inclusive and ``until`` exclusive; both must carry a time zone.
    """
    if offset < 0 or not 0 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInputError(f"offset must be ≥ 0 and limit within 0..{MAX_LIST_LIMIT}")
    conditions: list[ColumnElement[bool]] = []
    if actor is not None:
        conditions.append(audit_log.c.actor == actor)
    if action is not None:
        conditions.append(audit_log.c.action == action)
    if target is not None:
        conditions.append(audit_log.c.target == target)
    if outcome is not None:
        conditions.append(audit_log.c.outcome == outcome)
    if since is not None:
        _require_aware("since", since)
        conditions.append(audit_log.c.at >= since)
    if until is not None:
        _require_aware("until", until)
        conditions.append(audit_log.c.at < until)
    total_result = await conn.execute(
        select(func.count()).select_from(audit_log).where(*conditions)
    )
    rows = await conn.execute(
        select(audit_log)
        .where(*conditions)
        .order_by(audit_log.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [_record_from_row(row) for row in rows.mappings()], int(total_result.scalar_one())
