"""Appending to and listing the audit chain, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access import audit
from vigil.access.errors import InvalidInputError
from vigil.db.engine import create_engine
from vigil.db.tables import audit_head, audit_log

KEY = bytes(range(32))
T0 = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


def independent_hash(key: bytes, prev_hash: str, record: dict[str, object]) -> str:
    """The documented format, written out again so a change to it cannot go unnoticed."""
    content = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, (prev_hash + content).encode("utf-8"), hashlib.sha256).hexdigest()


async def test_records_are_chained_with_the_documented_hash(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await audit.append(
            conn,
            KEY,
            at=T0,
            actor="admin",
            action="user.create",
            target="zhang.wei",
            detail={"role": "operator", "scope": {"regions": ["340202"], "all": False}},
            source_ip="10.0.0.5",
        )
        # A non-UTC time is stored and hashed as the same instant in UTC.
        beijing = timezone(timedelta(hours=8))
        second = await audit.append(
            conn,
            KEY,
            at=(T0 + timedelta(seconds=1)).astimezone(beijing),
            actor="张伟",
            action="auth.login",
            outcome="failed",
        )
    assert (first.id, second.id) == (1, 2)
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.hash
    assert second.at == T0 + timedelta(seconds=1)
    assert second.at.utcoffset() == timedelta(0)
    assert first.hash == independent_hash(
        KEY,
        "0" * 64,
        {
            "id": 1,
            "at": "2026-03-01T08:00:00.123456+00:00",
            "actor": "admin",
            "source_ip": "10.0.0.5",
            "action": "user.create",
            "target": "zhang.wei",
            "outcome": "ok",
            "detail": {"role": "operator", "scope": {"all": False, "regions": ["340202"]}},
        },
    )
    assert second.hash == independent_hash(
        KEY,
        first.hash,
        {
            "id": 2,
            "at": "2026-03-01T08:00:01.123456+00:00",
            "actor": "张伟",
            "source_ip": "",
            "action": "auth.login",
            "target": "",
            "outcome": "failed",
            "detail": {},
        },
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(select(audit_log).order_by(audit_log.c.id))).mappings().all()
        head = (await conn.execute(select(audit_head))).mappings().one()
    assert rows[0]["detail"] == ('{"role":"operator","scope":{"all":false,"regions":["340202"]}}')
    assert rows[1]["actor"] == "张伟"
    assert [r["hash"] for r in rows] == [first.hash, second.hash]
    assert (head["id"], head["last_id"], head["last_hash"]) == (1, 2, second.hash)


async def test_a_rolled_back_action_leaves_no_record(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await audit.append(conn, KEY, at=T0, actor="admin", action="user.create")

    async def failing_action() -> None:
        async with engine.begin() as conn:
            await audit.append(conn, KEY, at=T0, actor="admin", action="user.update")
            raise RuntimeError("the action failed after auditing")

    with pytest.raises(RuntimeError):
        await failing_action()
    async with engine.begin() as conn:
        record = await audit.append(conn, KEY, at=T0, actor="admin", action="user.password")
        report = await audit.verify(conn, KEY)
    assert record.id == 2
    assert report.ok
    assert report.checked == 2


async def test_untrusted_text_is_clipped_and_made_storable(engine: AsyncEngine) -> None:
    hostile = "x\x00y\ud800" + "z" * 500
    async with engine.begin() as conn:
        record = await audit.append(
            conn,
            KEY,
            at=T0,
            actor=hostile,
            action="auth.login",
            target=hostile,
            source_ip=hostile,
            detail={"typed": hostile},
            outcome="failed",
        )
        report = await audit.verify(conn, KEY)
    assert record.actor.startswith("x\ufffdy?")
    assert len(record.actor) == 64
    assert len(record.target) == 200
    assert len(record.source_ip) == 64
    assert record.detail["typed"] == "x\x00y?" + "z" * 500
    assert report.ok


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"action": "login"}, "dotted"),
        ({"action": "Auth.Login"}, "dotted"),
        ({"action": "auth.login "}, "dotted"),
        ({"outcome": "OK"}, "outcome"),
        ({"outcome": ""}, "outcome"),
        ({"detail": {"when": datetime(2026, 1, 1, tzinfo=UTC)}}, "JSON"),
        ({"detail": {"ratio": float("nan")}}, "JSON"),
        ({"at": datetime(2026, 1, 1)}, "time zone"),
    ],
)
async def test_malformed_records_are_refused(
    engine: AsyncEngine, kwargs: dict[str, object], fragment: str
) -> None:
    arguments: dict[str, object] = {"at": T0, "actor": "admin", "action": "user.create"}
    arguments.update(kwargs)
    async with engine.begin() as conn:
        with pytest.raises(InvalidInputError, match=fragment):
            await audit.append(conn, KEY, **arguments)  # type: ignore[arg-type]
        assert (await conn.execute(select(audit_log))).first() is None


async def test_list_audit_filters_and_pages(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for index in range(10):
            await audit.append(
                conn,
                KEY,
                at=T0 + timedelta(minutes=index),
                actor="admin" if index % 2 == 0 else "operator1",
                action="channel.update" if index < 5 else "ledger.import",
                target=f"3402020000131000000{index}",
                detail={"n": index},
                outcome="denied" if index == 9 else "ok",
            )
    async with engine.connect() as conn:
        items, total = await audit.list_audit(conn)
        assert total == 10
        assert [r.id for r in items] == list(range(10, 0, -1))  # newest first
        assert items[-1].detail == {"n": 0}

        items, total = await audit.list_audit(conn, actor="admin", action="channel.update")
        assert (total, [r.id for r in items]) == (3, [5, 3, 1])

        items, total = await audit.list_audit(conn, target="34020200001310000004")
        assert [r.id for r in items] == [5]

        since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=6)
        items, total = await audit.list_audit(conn, since=since, until=until)
        assert (total, [r.id for r in items]) == (4, [6, 5, 4, 3])

        items, total = await audit.list_audit(conn, offset=3, limit=2)
        assert (total, [r.id for r in items]) == (10, [7, 6])

        items, total = await audit.list_audit(conn, outcome="denied")
        assert [r.id for r in items] == [10]

        with pytest.raises(InvalidInputError, match="time zone"):
            await audit.list_audit(conn, since=datetime(2026, 1, 1))
        with pytest.raises(InvalidInputError):
            await audit.list_audit(conn, limit=5000)


async def test_concurrent_appends_on_separate_connections_keep_the_chain(db_url: str) -> None:
    # 50 appenders at once, each in its own transaction on its own connection: the head
    # lock must serialise them into one gap-free chain.
    engine = create_engine(db_url, pool_size=25)
    try:

        async def one(index: int) -> int:
            async with engine.begin() as conn:
                record = await audit.append(
                    conn,
                    KEY,
                    at=T0 + timedelta(milliseconds=index),
                    actor=f"user{index}",
                    action="live.open",
                    target=f"channel-{index}",
                )
                await asyncio.sleep(0)  # hold the lock across a scheduling point
                return record.id

        ids = await asyncio.gather(*(one(index) for index in range(50)))
        assert sorted(ids) == list(range(1, 51))
        async with engine.connect() as conn:
            report = await audit.verify(conn, KEY)
            actors = set((await conn.execute(select(audit_log.c.actor))).scalars())
        assert report.ok, report.problems
        assert report.checked == 50
        assert actors == {f"user{index}" for index in range(50)}
    finally:
        await engine.dispose()


async def test_verify_while_appends_commit_reports_nothing(db_url: str) -> None:
    engine = create_engine(db_url, pool_size=10)
    try:
        async with engine.begin() as conn:
            for _ in range(20):
                await audit.append(conn, KEY, at=T0, actor="seed", action="user.create")

        async def appender(index: int) -> None:
            async with engine.begin() as conn:
                await audit.append(conn, KEY, at=T0, actor=f"a{index}", action="live.open")

        async def verifier() -> audit.AuditVerifyReport:
            async with engine.connect() as conn:
                return await audit.verify(conn, KEY)

        results = await asyncio.gather(
            *(appender(index) for index in range(15)), verifier(), verifier()
        )
        for report in results[-2:]:
            assert isinstance(report, audit.AuditVerifyReport)
            assert report.ok, report.problems
            assert report.checked >= 20
    finally:
        await engine.dispose()
