"""Exports: byte ranges of real segments → one MP4 on one timeline, signed manifest, jobs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.export_recordings import (
    CHANNEL,
    RUN_B_AT,
    T0,
    export_service,
    ffprobe_frames,
    record_two_runs,
    wait_finished,
)
from vigil.protocols.fmp4.retime import fragment_decode_time
from vigil.recording.errors import ExportError, RecordingInputError
from vigil.recording.export_file import write_export_file
from vigil.recording.export_jobs import claim_job
from vigil.recording.export_manifest import export_paths, verify_export
from vigil.recording.export_plan import plan_export, wall_at
from vigil.recording.export_service import ExportService
from vigil.recording.index import segments_between
from vigil.recording.platform_key import (
    fingerprint,
    load_or_create_platform_key,
    load_public_key,
    private_key_path,
    public_key_path,
)
from vigil.settings import load_settings

FRAME_90K = 3600


@pytest.fixture
async def service(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[ExportService]:
    await record_two_runs(engine, tmp_path / "pool")
    exports = export_service(engine, tmp_path / "data", tmp_path / "pool")
    runner = asyncio.create_task(exports.run())
    yield exports
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


def _expected_frames(rows: list, start, end) -> int:  # type: ignore[type-arg, no-untyped-def]
    """Frames of the GOPs overlapping [start, end), straight from the index."""
    return sum(
        e.frames
        for r in rows
        for e in r.fragments
        if wall_at(r, e.start_90k) < end and wall_at(r, e.end_90k) > start
    )


@pytest.mark.e2e  # ffprobe decodes the export
async def test_export_across_segment_boundaries(
    service: ExportService, engine: AsyncEngine
) -> None:
    start, end = T0 + timedelta(seconds=1.5), T0 + timedelta(seconds=4.5)
    job = await service.submit(CHANNEL, start, end, requested_by="alice", reason="case 17")
    assert job.state == "queued"
    done = await wait_finished(service, job.id)
    assert done.state == "done", done.error
    assert done.progress == 1.0
    rows = await segments_between(engine, CHANNEL, start, end)
    assert len(rows) == 3  # two segment boundaries (2 s and 4 s) inside the range
    expected = _expected_frames(rows, start, end)
    assert expected == 100  # the GOP holding 1.5 s (from its keyframe at 1 s) to 5 s

    mp4 = service.mp4_path(job.id)
    assert done.size_bytes == mp4.stat().st_size
    frames = ffprobe_frames(mp4)
    assert len(frames) == expected
    pts = [int(f["pts"]) for f in frames]
    assert pts == [i * FRAME_90K for i in range(expected)]  # from 0, monotonic, no jump
    assert frames[0]["key_frame"] == 1

    document = json.loads(service.manifest_path(job.id).read_bytes())
    manifest = document["manifest"]
    assert manifest["channel"]["id"] == CHANNEL
    assert manifest["requested_by"] == "alice"
    assert manifest["reason"] == "case 17"
    assert manifest["covered"] == {"start": "2026-11-02T09:30:01Z", "end": "2026-11-02T09:30:05Z"}
    assert manifest["gaps"] == []
    assert [s["id"] for s in manifest["segments"]] == [r.id for r in rows]
    assert [s["sha256"] for s in manifest["segments"]] == [r.sha256 for r in rows]
    first = rows[0]
    assert manifest["segments"][0]["ranges"] == [
        [0, first.init_size_bytes],
        [first.fragments[1].offset_bytes, first.fragments[1].size_bytes],
    ]
    assert manifest["export"]["frames"] == expected
    assert document["signature"]["key_fingerprint"] == service.key_fingerprint
    assert verify_export(mp4, service.public_key).valid


@pytest.mark.e2e  # ffprobe decodes the export
async def test_gap_is_closed_and_new_parameters_get_their_init(
    service: ExportService, engine: AsyncEngine
) -> None:
    start, end = T0 + timedelta(seconds=3), T0 + timedelta(seconds=12)
    job = await service.submit(CHANNEL, start, end, requested_by="alice", reason="gap")
    done = await wait_finished(service, job.id)
    assert done.state == "done", done.error
    frames = ffprobe_frames(service.mp4_path(job.id))
    assert len(frames) == 75 + 50  # 3..6 s of run A, 10..12 s of run B
    assert [int(f["pts"]) for f in frames] == [i * FRAME_90K for i in range(125)]
    sizes = [(f["width"], f["height"]) for f in frames]
    assert sizes[:75] == [(320, 240)] * 75
    assert sizes[75:] == [(352, 288)] * 50  # decoded after the parameter change
    manifest = json.loads(service.manifest_path(job.id).read_bytes())["manifest"]
    assert manifest["gaps"] == [
        {"start": "2026-11-02T09:30:06Z", "end": "2026-11-02T09:30:10Z", "at_90k": 3 * 90_000}
    ]
    assert manifest["export"]["parameter_changes"] == 1
    assert manifest["covered"]["end"] == "2026-11-02T09:30:12Z"


async def test_leading_and_trailing_holes_are_gaps(engine: AsyncEngine, tmp_path: Path) -> None:
    rows = await record_two_runs(engine, tmp_path)
    plan = plan_export(CHANNEL, T0 - timedelta(seconds=5), T0 + timedelta(seconds=20), rows)
    assert [(g.start, g.end, g.at_90k) for g in plan.gaps] == [
        (T0 - timedelta(seconds=5), T0, 0),
        (T0 + timedelta(seconds=6), RUN_B_AT, 6 * 90_000),
        (RUN_B_AT + timedelta(seconds=4), T0 + timedelta(seconds=20), 10 * 90_000),
    ]
    assert plan.frames == 250
    assert plan.parameter_changes == 1
    decode_times = [f.output_decode_90k for s in plan.segments for f in s.fragments]
    assert decode_times == [i * 90_000 for i in range(10)]  # 1 s GOPs, end to end
    with pytest.raises(ExportError, match="nothing is recorded"):
        plan_export(CHANNEL, T0 + timedelta(seconds=7), T0 + timedelta(seconds=9), rows)


async def test_retimed_fragments_carry_new_times_and_sequence(
    service: ExportService, engine: AsyncEngine
) -> None:
    start, end = T0 + timedelta(seconds=2), T0 + timedelta(seconds=4)
    job = await service.submit(CHANNEL, start, end, requested_by="a", reason="r")
    assert (await wait_finished(service, job.id)).state == "done"
    data = service.mp4_path(job.id).read_bytes()
    rows = await segments_between(engine, CHANNEL, start, end)
    assert data[4:8] == b"ftyp"
    offset, times = rows[0].init_size_bytes, []
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        assert data[offset + 4 : offset + 8] == b"moof"
        times.append(fragment_decode_time(data[offset : offset + size]))
        assert int.from_bytes(data[offset + 20 : offset + 24], "big") == len(times)  # mfhd
        mdat = int.from_bytes(data[offset + size : offset + size + 4], "big")
        offset += size + mdat
    assert times == [0, 90_000]


async def test_altered_segment_fails_the_job(
    service: ExportService, engine: AsyncEngine, tmp_path: Path
) -> None:
    rows = await segments_between(engine, CHANNEL, T0, T0 + timedelta(seconds=6))
    victim = tmp_path / "pool" / rows[1].path
    data = bytearray(victim.read_bytes())
    data[rows[1].fragments[0].offset_bytes + 400] ^= 0x01  # one bit inside a picture
    victim.write_bytes(bytes(data))
    job = await service.submit(
        CHANNEL, T0, T0 + timedelta(seconds=6), requested_by="alice", reason="integrity"
    )
    done = await wait_finished(service, job.id)
    assert done.state == "failed"
    assert done.error is not None
    assert f"segment {rows[1].id}" in done.error
    assert "altered" in done.error
    assert not service.mp4_path(job.id).exists()
    assert not service.manifest_path(job.id).exists()
    assert list(service.exports_dir.iterdir()) == []  # no partial file left behind


async def test_truncated_segment_fails_the_job(
    service: ExportService, engine: AsyncEngine, tmp_path: Path
) -> None:
    rows = await segments_between(engine, CHANNEL, T0, T0 + timedelta(seconds=2))
    victim = tmp_path / "pool" / rows[0].path
    victim.write_bytes(victim.read_bytes()[:-10])
    job = await service.submit(CHANNEL, T0, T0 + timedelta(seconds=2), requested_by="a", reason="r")
    done = await wait_finished(service, job.id)
    assert done.state == "failed"
    assert "bytes but was recorded with" in (done.error or "")


async def test_submit_refuses_bad_requests(service: ExportService) -> None:
    with pytest.raises(RecordingInputError, match="after its start"):
        await service.submit(CHANNEL, T0, T0, requested_by="a", reason="r")
    with pytest.raises(RecordingInputError, match="at most"):
        await service.submit(CHANNEL, T0, T0 + timedelta(hours=25), requested_by="a", reason="r")
    with pytest.raises(RecordingInputError, match="reason"):
        await service.submit(CHANNEL, T0, T0 + timedelta(seconds=1), requested_by="a", reason=" ")
    with pytest.raises(ExportError, match="nothing is recorded"):
        await service.submit(
            CHANNEL, T0 + timedelta(hours=1), T0 + timedelta(hours=2), requested_by="a", reason="r"
        )


async def test_concurrency_is_bounded(
    service: ExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigil.recording import export_service as module

    real = module.write_export_file
    active, peak = [0], [0]
    lock = threading.Lock()

    def slow_write(*args: Any, **kwargs: Any) -> Any:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.2)
            return real(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(module, "write_export_file", slow_write)
    service.concurrency = 2
    jobs = [
        await service.submit(CHANNEL, T0, T0 + timedelta(seconds=4), requested_by="a", reason="r")
        for _ in range(5)
    ]
    for job in jobs:
        assert (await wait_finished(service, job.id)).state == "done"
    assert peak[0] == 2


def test_platform_key_is_private_and_stable(tmp_path: Path) -> None:
    key = load_or_create_platform_key(tmp_path)
    assert stat.S_IMODE(private_key_path(tmp_path).stat().st_mode) == 0o600
    assert stat.S_IMODE(private_key_path(tmp_path).parent.stat().st_mode) == 0o700
    again = load_or_create_platform_key(tmp_path)
    assert fingerprint(again.public_key()) == fingerprint(key.public_key())
    public = load_public_key(public_key_path(tmp_path).read_bytes())
    assert fingerprint(public) == fingerprint(key.public_key())


async def test_tampering_is_detected(service: ExportService, tmp_path: Path) -> None:
    job = await service.submit(
        CHANNEL, T0, T0 + timedelta(seconds=3), requested_by="alice", reason="tamper"
    )
    assert (await wait_finished(service, job.id)).state == "done"
    mp4, manifest_path = service.mp4_path(job.id), service.manifest_path(job.id)
    assert export_paths(manifest_path) == (manifest_path, mp4)
    assert export_paths(mp4) == (manifest_path, mp4)
    assert verify_export(manifest_path, service.public_key).valid

    other = Ed25519PrivateKey.generate().public_key()
    wrong_key = verify_export(mp4, other)
    assert not wrong_key.valid
    assert any("checked against key" in p for p in wrong_key.problems)

    original_manifest = manifest_path.read_bytes()
    document = json.loads(original_manifest)
    document["manifest"]["requested_by"] = "mallory"
    manifest_path.write_text(json.dumps(document))
    edited = verify_export(mp4, service.public_key)
    assert not edited.valid
    assert not edited.signature_valid
    assert any("edited after signing" in p for p in edited.problems)
    manifest_path.write_bytes(original_manifest)

    data = bytearray(mp4.read_bytes())
    data[len(data) // 2] ^= 0xFF
    mp4.write_bytes(bytes(data))
    flipped = verify_export(mp4, service.public_key)
    assert not flipped.valid
    assert flipped.signature_valid
    assert any("SHA-256" in p for p in flipped.problems)
    assert flipped.describe()[0].startswith("INVALID")


async def test_jobs_left_running_by_a_stop_are_run_again(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await record_two_runs(engine, tmp_path / "pool")
    exports = export_service(engine, tmp_path / "data", tmp_path / "pool")
    job = await exports.submit(
        CHANNEL, T0, T0 + timedelta(seconds=2), requested_by="a", reason="restart"
    )
    # A process took it, then died: its lease runs out without being renewed.
    assert await claim_job(engine, job.id, owner="dead-host:1:0", lease_s=0.0)
    exports.exports_dir.mkdir(parents=True)
    leftover = exports.exports_dir / f".{job.id}.mp4.partial"
    leftover.write_bytes(b"half an export")
    runner = asyncio.create_task(exports.run())
    try:
        done = await wait_finished(exports, job.id)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    assert done.state == "done"
    assert not leftover.exists()


def test_service_from_settings_uses_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, recording={"export_concurrency": 3})
    exports = ExportService.from_settings(cast(AsyncEngine, None), settings)
    assert exports.exports_dir == tmp_path.resolve() / "exports"
    assert exports.pool_dirs == {"default": tmp_path / "recordings"}
    assert exports.concurrency == 3
    assert exports.platform_id == settings.sip.id
    assert public_key_path(tmp_path.resolve()).read_bytes() == exports.public_key_pem


async def test_a_stopped_export_leaves_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    rows = await record_two_runs(engine, tmp_path)
    plan = plan_export(CHANNEL, T0, T0 + timedelta(seconds=14), rows)
    stop = threading.Event()
    stop.set()
    target = tmp_path / "out.mp4"
    with pytest.raises(ExportError, match="interrupted"):
        write_export_file(plan, {"default": tmp_path}, target, fsync=False, stop=stop)
    assert not target.exists()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".partial")]
    result = write_export_file(plan, {"default": tmp_path}, target, fsync=False)
    assert result.size_bytes == plan.output_size_bytes == target.stat().st_size
