"""Tampering with the audit chain through plain SQL, and what verify reports for each case.

Every test builds a genuine chain, then does what someone with write access to the database
(but not to the key file) could do, and checks the record id and kind verify reports.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access import audit, audit_verify
from vigil.access.audit import AuditAnchor, AuditProblemKind
from vigil.access.errors import AuditChainError
from vigil.db.tables import audit_head, audit_log

KEY = bytes(range(32))
T0 = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
K = AuditProblemKind


async def _chain(engine: AsyncEngine, count: int) -> list[audit.AuditRecord]:
    records = []
    async with engine.begin() as conn:
        for index in range(count):
            records.append(
                await audit.append(
                    conn,
                    KEY,
                    at=T0 + timedelta(seconds=index),
                    actor="operator1",
                    action="channel.update",
                    target=f"3402020000131000{index:04d}",
                    detail={"name": f"路口 {index}", "point_class": 1},
                    source_ip="10.0.0.9",
                )
            )
    return records


async def _verify(engine: AsyncEngine, **kwargs: object) -> audit.AuditVerifyReport:
    async with engine.connect() as conn:
        return await audit.verify(conn, KEY, **kwargs)  # type: ignore[arg-type]


def _found(report: audit.AuditVerifyReport) -> list[tuple[int, AuditProblemKind]]:
    return [(p.id, p.kind) for p in report.problems]


async def _sql(engine: AsyncEngine, *statements: object) -> None:
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(statement)  # type: ignore[call-overload]


async def test_empty_log_verifies(engine: AsyncEngine) -> None:
    report = await _verify(engine)
    assert (report.ok, report.checked, report.problems) == (True, 0, ())
    assert report.anchor == AuditAnchor(0, "0" * 64)


async def test_many_records_verify_across_batches(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_verify, "VERIFY_BATCH_ROWS", 7)  # many batches, one partial
    records = await _chain(engine, 300)
    report = await _verify(engine)
    assert report.ok, report.problems
    assert report.checked == 300
    assert report.anchor == AuditAnchor(300, records[-1].hash)


async def test_edited_detail_is_reported_on_that_record_only(engine: AsyncEngine) -> None:
    await _chain(engine, 10)
    await _sql(
        engine,
        update(audit_log).where(audit_log.c.id == 4).values(detail='{"name":"nothing here"}'),
    )
    report = await _verify(engine)
    assert not report.ok
    assert _found(report) == [(4, K.ALTERED)]


async def test_edited_actor_is_reported(engine: AsyncEngine) -> None:
    await _chain(engine, 10)
    await _sql(engine, update(audit_log).where(audit_log.c.id == 7).values(actor="someone.else"))
    assert _found(await _verify(engine)) == [(7, K.ALTERED)]


async def test_edited_time_and_unparseable_detail_are_reported(engine: AsyncEngine) -> None:
    await _chain(engine, 5)
    await _sql(
        engine,
        update(audit_log).where(audit_log.c.id == 2).values(at=T0 - timedelta(days=1)),
        update(audit_log).where(audit_log.c.id == 3).values(detail="{not json"),
    )
    assert _found(await _verify(engine)) == [(2, K.ALTERED), (3, K.ALTERED)]


async def test_edit_with_a_recomputed_plain_sha256_is_still_caught(engine: AsyncEngine) -> None:
    # The tamperer rewrites the record and its hash, and even the next record's link, but
    # without the HMAC key cannot produce the right hashes.
    records = await _chain(engine, 10)
    content = json.dumps({"id": 5, "actor": "nobody"}, sort_keys=True)
    forged = hashlib.sha256((records[3].hash + content).encode()).hexdigest()
    await _sql(
        engine,
        update(audit_log).where(audit_log.c.id == 5).values(actor="nobody", hash=forged),
    )
    assert _found(await _verify(engine)) == [(5, K.ALTERED), (6, K.BROKEN_LINK)]

    await _sql(engine, update(audit_log).where(audit_log.c.id == 6).values(prev_hash=forged))
    assert _found(await _verify(engine)) == [(5, K.ALTERED), (6, K.ALTERED)]


async def test_deleted_middle_record(engine: AsyncEngine) -> None:
    await _chain(engine, 10)
    await _sql(engine, delete(audit_log).where(audit_log.c.id == 5))
    report = await _verify(engine)
    assert _found(report) == [(6, K.MISSING)]
    assert "record 5 is missing" in report.problems[0].message


async def test_deleted_run_of_records_and_the_first_record(engine: AsyncEngine) -> None:
    await _chain(engine, 10)
    await _sql(
        engine,
        delete(audit_log).where(audit_log.c.id == 1),
        delete(audit_log).where(audit_log.c.id.between(4, 6)),
    )
    report = await _verify(engine)
    assert _found(report) == [(2, K.MISSING), (7, K.MISSING)]
    assert "records 4 to 6 are missing" in report.problems[1].message


async def test_deleted_last_record(engine: AsyncEngine) -> None:
    await _chain(engine, 10)
    await _sql(engine, delete(audit_log).where(audit_log.c.id == 10))
    report = await _verify(engine)
    assert _found(report) == [(10, K.HEAD_MISMATCH)]
    assert "deleted from the end" in report.problems[0].message


async def test_rewound_tail_is_the_documented_limit_and_an_anchor_catches_it(
    engine: AsyncEngine,
) -> None:
    records = await _chain(engine, 10)
    anchor = (await _verify(engine)).anchor  # kept somewhere the tamperer cannot reach
    # Delete the last record and set the head back to the previous one. Every remaining
    # record and the head are genuine, an earlier state of the chain: nothing inside the
    # database contradicts it, so verify without an anchor cannot see it (audit.py says so).
    await _sql(
        engine,
        delete(audit_log).where(audit_log.c.id == 10),
        update(audit_head).values(last_id=9, last_hash=records[8].hash),
    )
    unanchored = await _verify(engine)
    assert unanchored.ok
    assert unanchored.checked == 9
    # With the anchor recorded before, the rewind shows.
    assert _found(await _verify(engine, anchor=anchor)) == [(10, K.ANCHOR_MISMATCH)]
    # An anchor the chain still reaches is fine; one whose record was changed is not.
    assert (await _verify(engine, anchor=AuditAnchor(5, records[4].hash))).ok
    wrong = AuditAnchor(5, records[5].hash)
    assert _found(await _verify(engine, anchor=wrong)) == [(5, K.ANCHOR_MISMATCH)]


async def test_deleted_head_row(engine: AsyncEngine) -> None:
    await _chain(engine, 3)
    await _sql(engine, delete(audit_head))
    assert _found(await _verify(engine)) == [(3, K.HEAD_MISSING)]
    # Appending refuses to start a new chain on top of the old records.
    async with engine.begin() as conn:
        with pytest.raises(AuditChainError, match="head row is missing"):
            await audit.append(conn, KEY, at=T0, actor="admin", action="user.create")


async def test_edited_head_hash(engine: AsyncEngine) -> None:
    await _chain(engine, 3)
    await _sql(engine, update(audit_head).values(last_hash="f" * 64))
    assert _found(await _verify(engine)) == [(3, K.HEAD_MISMATCH)]


async def test_head_behind_the_log(engine: AsyncEngine) -> None:
    records = await _chain(engine, 5)
    await _sql(engine, update(audit_head).values(last_id=3, last_hash=records[2].hash))
    assert _found(await _verify(engine)) == [(4, K.HEAD_MISMATCH)]
    async with engine.begin() as conn:
        with pytest.raises(AuditChainError, match="already exists"):
            await audit.append(conn, KEY, at=T0, actor="admin", action="user.create")


async def test_record_forged_past_the_end(engine: AsyncEngine) -> None:
    records = await _chain(engine, 5)
    await _sql(
        engine,
        insert(audit_log).values(
            id=6,
            at=T0,
            actor="ghost",
            source_ip="",
            action="user.create",
            target="",
            outcome="ok",
            detail="{}",
            prev_hash=records[4].hash,
            hash=hashlib.sha256(b"guess").hexdigest(),
        ),
        update(audit_head).values(last_id=6, last_hash=hashlib.sha256(b"guess").hexdigest()),
    )
    assert _found(await _verify(engine)) == [(6, K.ALTERED)]


async def test_swapped_records(engine: AsyncEngine) -> None:
    await _chain(engine, 6)
    async with engine.begin() as conn:
        rows = {
            row["id"]: dict(row)
            for row in (
                await conn.execute(select(audit_log).where(audit_log.c.id.in_((3, 4))))
            ).mappings()
        }
        for target_id, source_id in ((3, 4), (4, 3)):
            values = {k: v for k, v in rows[source_id].items() if k != "id"}
            await conn.execute(update(audit_log).where(audit_log.c.id == target_id).values(values))
    assert _found(await _verify(engine)) == [
        (3, K.BROKEN_LINK),
        (3, K.ALTERED),
        (4, K.BROKEN_LINK),
        (4, K.ALTERED),
        (5, K.BROKEN_LINK),
    ]


async def test_another_key_rejects_every_record(engine: AsyncEngine) -> None:
    await _chain(engine, 4)
    async with engine.connect() as conn:
        report = await audit.verify(conn, bytes(32))
    assert _found(report) == [(i, K.ALTERED) for i in range(1, 5)]


async def test_problem_list_is_capped_but_counted(engine: AsyncEngine) -> None:
    await _chain(engine, 20)
    await _sql(engine, update(audit_log).values(actor="rewritten"))
    report = await _verify(engine, max_problems=5)
    assert not report.ok
    assert len(report.problems) == 5
    assert report.problem_count == 20
