"""Verification of the audit chain: walk the log, report every inconsistency.

What is and is not detectable is set out in ``vigil.access.audit``; in short, every forged
state needs the key, but a rewind of the newest records together with the head does not,
which only an anchor kept outside the database (:class:`AuditAnchor`) reveals.

Hashes are compared with ``==``: the verifier holds the key and answers no remote caller
byte by byte, so timing tells nobody anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.access.audit_chain import GENESIS_HASH, HEAD_ID, record_hash
from vigil.db.tables import audit_head, audit_log

VERIFY_BATCH_ROWS = 1000


class AuditProblemKind(StrEnum):
    ALTERED = "altered"  # the record's content does not match its hash
    MISSING = "missing"  # ids were skipped before this record: records were deleted
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous record's hash
    HEAD_MISMATCH = "head_mismatch"  # the head row disagrees with the log's end
    HEAD_MISSING = "head_missing"  # records exist but the head row does not
    ANCHOR_MISMATCH = "anchor_mismatch"  # the chain no longer reaches a recorded anchor


@dataclass(frozen=True, slots=True)
class AuditProblem:
    id: int
    kind: AuditProblemKind
    message: str


@dataclass(frozen=True, slots=True)
class AuditAnchor:
    """A position of the chain (record id and its hash), kept outside the database."""

    id: int
    hash: str


@dataclass(frozen=True, slots=True)
class AuditVerifyReport:
    ok: bool
    checked: int
    problems: tuple[AuditProblem, ...]
    # Problems found in all; only the first ``max_problems`` are listed in ``problems``.
    problem_count: int
    last_id: int
    last_hash: str

    @property
    def anchor(self) -> AuditAnchor:
        """The end of the chain as verified, to be kept outside the database."""
        return AuditAnchor(self.last_id, self.last_hash)


class _Findings:
    """Problems collected during a walk, keeping at most ``limit`` of them in memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.kept: list[AuditProblem] = []

    def add(self, record_id: int, kind: AuditProblemKind, message: str) -> None:
        self.count += 1
        if len(self.kept) < self.limit:
            self.kept.append(AuditProblem(record_id, kind, message))


def _row_hash(key: bytes, row: RowMapping) -> str | None:
    """The hash the row should have, or None when its detail is not even JSON."""
    try:
        detail = json.loads(row["detail"])
    except ValueError:
        return None
    return record_hash(
        key,
        row["prev_hash"],
        record_id=row["id"],
        at=row["at"],
        actor=row["actor"],
        source_ip=row["source_ip"],
        action=row["action"],
        target=row["target"],
        outcome=row["outcome"],
        detail=detail,
    )


async def _read_head(conn: AsyncConnection) -> tuple[int, str] | None:
    result = await conn.execute(
        select(audit_head.c.last_id, audit_head.c.last_hash).where(audit_head.c.id == HEAD_ID)
    )
    row = result.one_or_none()
    return None if row is None else (int(row[0]), str(row[1]))


async def verify(
    conn: AsyncConnection,
    key: bytes,
    *,
    anchor: AuditAnchor | None = None,
    max_problems: int = 1000,
) -> AuditVerifyReport:
    """Walk the whole log in id order, in batches, and report every inconsistency.

    Each record is checked on its own (its hash, its link to the previous record, its id
    following the previous one), so one edit is reported once rather than as a broken
    chain from there to the end.
    """
    findings = _Findings(max_problems)
    head = await _read_head(conn)
    checked = 0
    expected_id = 1
    prev_hash = GENESIS_HASH
    seen: dict[int, str] = {}  # hashes of the records the head and the anchor point at
    watched = {head[0] if head else 0, anchor.id if anchor else 0}
    while True:
        batch = await conn.execute(
            select(audit_log)
            .where(audit_log.c.id >= expected_id)
            .order_by(audit_log.c.id)
            .limit(VERIFY_BATCH_ROWS)
        )
        rows = batch.mappings().all()
        if not rows:
            break
        for row in rows:
            checked += 1
            record_id: int = row["id"]
            stored_hash: str = row["hash"]
            if record_id != expected_id:
                gap = (
                    f"record {expected_id} is missing"
                    if record_id == expected_id + 1
                    else f"records {expected_id} to {record_id - 1} are missing"
                )
                findings.add(record_id, AuditProblemKind.MISSING, gap)
            elif row["prev_hash"] != prev_hash:
                findings.add(
                    record_id,
                    AuditProblemKind.BROKEN_LINK,
                    f"record {record_id} does not link to the record before it",
                )
            expected = _row_hash(key, row)
            if expected != stored_hash:
                findings.add(
                    record_id,
                    AuditProblemKind.ALTERED,
                    f"record {record_id} does not match its hash: it was altered",
                )
            if record_id in watched:
                seen[record_id] = stored_hash
            prev_hash = stored_hash
            expected_id = record_id + 1
    last_id = expected_id - 1

    if head is None:
        # Re-read: the very first append may have committed while we walked.
        if checked and await _read_head(conn) is None:
            findings.add(
                last_id, AuditProblemKind.HEAD_MISSING, "the audit head row has been deleted"
            )
    else:
        await _check_head(conn, head, last_id, seen, findings)
    if anchor is not None:
        _check_anchor(anchor, last_id, seen, findings)
    return AuditVerifyReport(
        ok=findings.count == 0,
        checked=checked,
        problems=tuple(findings.kept),
        problem_count=findings.count,
        last_id=last_id,
        last_hash=prev_hash,
    )


async def _check_head(
    conn: AsyncConnection,
    head: tuple[int, str],
    last_id: int,
    seen: Mapping[int, str],
    findings: _Findings,
) -> None:
    head_id, head_hash = head
    if head_id > last_id:
        findings.add(
            last_id + 1,
            AuditProblemKind.HEAD_MISMATCH,
            f"the head says the log ends at record {head_id} but it ends at {last_id}: "
            "records were deleted from the end",
        )
    elif head_id == 0:
        if head_hash != GENESIS_HASH:
            findings.add(0, AuditProblemKind.HEAD_MISMATCH, "the empty head has been altered")
    elif head_id not in seen:
        findings.add(
            head_id, AuditProblemKind.HEAD_MISMATCH, f"record {head_id}, the head, is missing"
        )
    elif seen[head_id] != head_hash:
        findings.add(
            head_id,
            AuditProblemKind.HEAD_MISMATCH,
            f"the head's hash differs from record {head_id}'s: the head or record was altered",
        )
    if last_id > head_id:
        # Records past the head are legitimate only if appended while we walked, in which
        # case the head has moved on to cover them by now.
        current = await _read_head(conn)
        if current is None or current[0] < last_id:
            findings.add(
                head_id + 1,
                AuditProblemKind.HEAD_MISMATCH,
                f"records {head_id + 1} to {last_id} lie beyond the head",
            )


def _check_anchor(
    anchor: AuditAnchor, last_id: int, seen: Mapping[int, str], findings: _Findings
) -> None:
    if anchor.id > last_id:
        findings.add(
            anchor.id,
            AuditProblemKind.ANCHOR_MISMATCH,
            f"the log ends at record {last_id} but reached record {anchor.id} before: "
            "records were deleted from the end and the head rewound",
        )
    elif anchor.id > 0 and anchor.id not in seen:
        findings.add(
            anchor.id, AuditProblemKind.ANCHOR_MISMATCH, f"anchored record {anchor.id} is missing"
        )
    elif anchor.id > 0 and seen[anchor.id] != anchor.hash:
        findings.add(
            anchor.id,
            AuditProblemKind.ANCHOR_MISMATCH,
            f"record {anchor.id} differs from its anchored hash",
        )
