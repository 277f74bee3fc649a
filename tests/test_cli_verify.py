"""`vigil verify EXPORT`: 0 for a genuine export, 1 with the reason when anything differs,
2 for usage errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.export_recordings import (
    CHANNEL,
    T0,
    export_service,
    record_two_runs,
    wait_finished,
)
from vigil.cli import main
from vigil.recording.platform_key import public_key_path, public_key_pem


def verify(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["verify", *args], env={"VIGIL_DATA_DIR": str(data_dir)}, catch_exceptions=False
    )
    return result.exit_code, result.output


async def _export(engine: AsyncEngine, tmp_path: Path) -> tuple[Path, Path]:
    await record_two_runs(engine, tmp_path / "pool")
    service = export_service(engine, tmp_path / "data", tmp_path / "pool")
    runner = asyncio.create_task(service.run())
    try:
        job = await service.submit(
            CHANNEL, T0, T0 + timedelta(seconds=12), requested_by="alice", reason="cli"
        )
        assert (await wait_finished(service, job.id)).state == "done"
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    return service.mp4_path(job.id), service.manifest_path(job.id)


async def test_verify_exit_codes(engine: AsyncEngine, tmp_path: Path) -> None:
    mp4, manifest = await _export(engine, tmp_path)
    data_dir = tmp_path / "data"

    code, output = verify(data_dir, str(mp4))
    assert code == 0, output
    assert output.startswith("VALID: export")
    assert CHANNEL in output
    code, output = verify(data_dir, str(manifest), "--public-key", str(public_key_path(data_dir)))
    assert code == 0, output

    other = tmp_path / "other.pem"
    other.write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    code, output = verify(data_dir, str(mp4), "--public-key", str(other))
    assert code == 1
    assert "checked against key" in output

    original = manifest.read_bytes()
    document = json.loads(original)
    document["manifest"]["covered"]["start"] = "2026-11-02T09:00:00Z"
    manifest.write_text(json.dumps(document))
    code, output = verify(data_dir, str(mp4))
    assert code == 1
    assert "INVALID" in output
    assert "edited after signing" in output
    manifest.write_bytes(original)

    data = bytearray(mp4.read_bytes())
    data[-100] ^= 0x01
    mp4.write_bytes(bytes(data))
    code, output = verify(data_dir, str(manifest))
    assert code == 1
    assert "the MP4's SHA-256 is" in output
    mp4.unlink()
    code, output = verify(data_dir, str(manifest))
    assert code == 1
    assert "cannot read the MP4" in output

    code, output = verify(data_dir, str(tmp_path / "missing.mp4"))
    assert code == 2
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello")
    code, output = verify(data_dir, str(manifest), "--public-key", str(not_a_key))
    assert code == 2
    assert "not a PEM public key" in output
    code, output = verify(tmp_path / "elsewhere", str(manifest))
    assert code == 2
    assert "no platform public key" in output
