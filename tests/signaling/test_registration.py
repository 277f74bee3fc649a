"""REGISTER (GB/T 28181-2016 §9.1): digest, passwords, refresh vs new Call-ID, unregister,
Date, unknown devices, brute-force lockout — exact exchanges from a raw client."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import devices
from vigil.protocols.sip.digest import DigestChallenge, answer_challenge
from vigil.registry.devices import DeviceFields, create_device
from vigil.registry.scope import UNRESTRICTED
from vigil.signaling.server import SignalingServer

from .conftest import eventually, fast_settings, serving
from .sip_client import SipClient

pytestmark = pytest.mark.integration

DEVICE = "34020000001320000001"
PASSWORD = "12345678"
QUIET = {"query_device_info_on_register": False, "catalog_subscribe": False}


def server_for(engine: AsyncEngine, **overrides: object) -> SignalingServer:
    return SignalingServer(fast_settings(**{**QUIET, **overrides}), engine)


async def _device_row(engine: AsyncEngine, device_id: str) -> dict[str, object] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*devices.c).where(devices.c.id == device_id))).first()
    return None if row is None else row._asdict()


@pytest.mark.parametrize("qop", [True, False])
async def test_register_with_digest_and_date(
    engine: AsyncEngine, client: SipClient, qop: bool
) -> None:
    async with serving(server_for(engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        response, challenge = await client.register(DEVICE, PASSWORD, qop=qop)
        assert challenge is not None
        assert challenge.realm == "3402000000"
        assert challenge.qop == ("auth",)
        assert response.status_code == 200
        date = response.headers.get("Date") or ""
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", date), date
        assert response.headers.get("Expires") == "3600"
        assert DEVICE in (response.headers.get("Contact") or "")
        state = server.device_state(DEVICE)
        assert state is not None
        assert state.online
        assert state.registered
        assert state.address == f"{client.local[0]}:{client.local[1]}"
        assert state.transport == "udp"

        async def persisted() -> bool:
            row = await _device_row(engine, DEVICE)
            return row is not None and bool(row["online"]) and row["registered_at"] is not None

        await eventually(persisted)
        row = await _device_row(engine, DEVICE)
        assert row is not None
        assert row["status"] == "pending"  # unknown device admitted under the default policy
        assert row["address"] == state.address


async def test_wrong_password_is_403(sqlite_engine: AsyncEngine, client: SipClient) -> None:
    async with serving(server_for(sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        response, _ = await client.register(DEVICE, "not-the-password")
        assert (response.status_code, response.reason) == (403, "wrong password")
        assert server.counters.auth_failures == 1
        state = server.device_state(DEVICE)
        assert state is None or not state.online


async def test_per_device_password(engine: AsyncEngine, client: SipClient) -> None:
    async with engine.begin() as conn:
        await create_device(conn, UNRESTRICTED, DEVICE, DeviceFields(sip_password="own-pass"))
    async with serving(server_for(engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        refused, _ = await client.register(DEVICE, PASSWORD, call_id="a1")
        assert refused.status_code == 403
        accepted, _ = await client.register(DEVICE, "own-pass", call_id="a2")
        assert accepted.status_code == 200
        row = await _device_row(engine, DEVICE)
        assert row is not None
        assert row["status"] == "active"


async def test_password_changed_after_start_is_reread(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    async with sqlite_engine.begin() as conn:
        await create_device(conn, UNRESTRICTED, DEVICE, DeviceFields(sip_password="old"))
    async with serving(server_for(sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        async with sqlite_engine.begin() as conn:
            await conn.execute(devices.update().values(sip_password="new"))
        await server.reload_device(DEVICE)
        response, _ = await client.register(DEVICE, "new")
        assert response.status_code == 200


async def test_missing_expires_and_bad_id(sqlite_engine: AsyncEngine, client: SipClient) -> None:
    async with serving(server_for(sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        no_expires = client.request("REGISTER", DEVICE, call_id="x1", cseq=1)
        client.send(no_expires.serialize())
        response = await client.response("REGISTER")
        assert (response.status_code, response.reason) == (400, "Missing Expires")
        short = client.request(
            "REGISTER", "3402000000132000001", call_id="x2", cseq=1, headers=[("Expires", "60")]
        )
        client.send(short.serialize())
        assert (await client.response("REGISTER")).status_code == 403


async def test_refresh_with_same_call_id_needs_no_new_challenge(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    async with serving(server_for(sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        response, challenge = await client.register(DEVICE, PASSWORD, call_id="c-1")
        assert response.status_code == 200
        assert challenge is not None
        registrations = server.counters.registrations

        def refresh(cseq: int, nc: int) -> bytes:
            credentials = answer_challenge(
                challenge, method="REGISTER", uri=f"sip:{server.settings.id}@3402000000",
                username=DEVICE, password=PASSWORD, cnonce="77aa", nc=nc,
            )  # fmt: skip
            return client.request(
                "REGISTER", DEVICE, call_id="c-1", cseq=cseq,
                headers=[("Expires", "3600")], authorization=credentials.serialize(),
            ).serialize()  # fmt: skip

        client.send(refresh(3, 2))
        assert (await client.response("REGISTER")).status_code == 200
        assert server.counters.registration_refreshes == 1
        assert server.counters.registrations == registrations
        replay = refresh(3, 2)
        client.send(replay)  # the same CSeq again: a replay, challenged
        assert (await client.response("REGISTER")).status_code == 401
        # A new Call-ID is a new registration: challenged, then counted as new.
        response, _ = await client.register(DEVICE, PASSWORD, call_id="c-2")
        assert response.status_code == 200
        assert server.counters.registrations == registrations + 1


async def test_nonce_of_another_call_id_is_rechallenged(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    async with serving(server_for(sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        _, challenge = await client.register(DEVICE, PASSWORD, call_id="first")
        assert challenge is not None
        stolen = answer_challenge(
            DigestChallenge(challenge.realm, challenge.nonce, qop=challenge.qop),
            method="REGISTER", uri=f"sip:{server.settings.id}@3402000000",
            username=DEVICE, password=PASSWORD,
        )  # fmt: skip
        message = client.request(
            "REGISTER", DEVICE, call_id="other", cseq=9, headers=[("Expires", "3600")],
            authorization=stolen.serialize(),
        )  # fmt: skip
        client.send(message.serialize())
        assert (await client.response("REGISTER")).status_code == 401


async def test_unregister_takes_device_and_channels_offline(
    engine: AsyncEngine, client: SipClient
) -> None:
    async with serving(server_for(engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        events = server.subscribe_events()
        assert (await client.register(DEVICE, PASSWORD, call_id="u-1"))[0].status_code == 200
        gone, _ = await client.register(DEVICE, PASSWORD, call_id="u-1", expires=0, first_cseq=5)
        assert gone.status_code == 200
        assert gone.headers.get("Expires") == "0"
        state = server.device_state(DEVICE)
        assert state is not None
        assert not state.online
        assert not state.registered
        kinds = [type(events.get_nowait()).__name__ for _ in range(2)]
        assert kinds == ["DeviceOnline", "DeviceOffline"]
        await server.flush()
        row = await _device_row(engine, DEVICE)
        assert row is not None
        assert not row["online"]


async def test_unknown_devices_refused_by_policy(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    async with serving(server_for(sqlite_engine, unknown_devices="refuse")) as server:
        client.platform = ("127.0.0.1", server.port)
        first = client.request("REGISTER", DEVICE, call_id="r", cseq=1, headers=[("Expires", "60")])
        client.send(first.serialize())
        response = await client.response("REGISTER")
        assert (response.status_code, response.reason) == (403, "Unknown device")
        assert await _device_row(sqlite_engine, DEVICE) is None


async def test_disabled_device_is_refused(sqlite_engine: AsyncEngine, client: SipClient) -> None:
    async with sqlite_engine.begin() as conn:
        await create_device(conn, UNRESTRICTED, DEVICE, DeviceFields(status="disabled"))
    async with serving(server_for(sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        response, _ = await client.register(DEVICE, PASSWORD)
        assert (response.status_code, response.reason) == (403, "Device disabled")


async def test_digest_brute_force_is_locked_out_per_source(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    settings = {"auth_max_failures": 5, "auth_failure_window_s": 60, "auth_lockout_s": 60}
    any_address = "0.0.0.0"  # noqa: S104 - the second client speaks from 127.0.0.2
    server = SignalingServer(fast_settings(host=any_address, **QUIET, **settings), sqlite_engine)
    async with serving(server):
        client.platform = ("127.0.0.1", server.port)
        for attempt in range(5):
            response, _ = await client.register(DEVICE, f"guess-{attempt}", call_id=f"b{attempt}")
            assert response.reason == "wrong password"
        # Locked out: refused before any digest check, even with the right password.
        locked = client.request(
            "REGISTER", DEVICE, call_id="b-ok", cseq=1, headers=[("Expires", "60")]
        )
        client.send(locked.serialize())
        response = await client.response("REGISTER")
        assert (response.status_code, response.reason) == (403, "Too many failed attempts")
        assert server.counters.auth_failures == 5
        assert server.counters.auth_rate_limited == 1
        # Another source address is not affected.
        other = await SipClient.open("127.0.0.2")
        try:
            other.platform = client.platform
            response, _ = await other.register(DEVICE, PASSWORD, call_id="b-other")
            assert response.status_code == 200
        finally:
            other.close()
