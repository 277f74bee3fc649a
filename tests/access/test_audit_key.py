"""The audit key file: created once, private, and refused when damaged."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vigil.access.audit_key import audit_key_path, load_or_create_audit_key
from vigil.access.errors import AuditKeyError


def test_created_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    key = load_or_create_audit_key(data_dir)
    path = audit_key_path(data_dir)
    assert path == data_dir / "keys" / "audit.key"
    assert len(key) == 32
    assert path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_audit_key(data_dir) == key
    assert sorted(p.name for p in path.parent.iterdir()) == ["audit.key"]  # no temp files left


def test_two_data_dirs_get_different_keys(tmp_path: Path) -> None:
    assert load_or_create_audit_key(tmp_path / "a") != load_or_create_audit_key(tmp_path / "b")


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(lambda _: load_or_create_audit_key(tmp_path), range(16)))
    assert len(set(keys)) == 1
    assert audit_key_path(tmp_path).read_bytes() == keys[0]


def test_damaged_key_is_refused(tmp_path: Path) -> None:
    load_or_create_audit_key(tmp_path)
    audit_key_path(tmp_path).write_bytes(b"short")
    with pytest.raises(AuditKeyError, match="5 bytes"):
        load_or_create_audit_key(tmp_path)


def test_unusable_directory_is_an_audit_key_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(AuditKeyError):
        load_or_create_audit_key(blocker)


def test_loose_permissions_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = load_or_create_audit_key(tmp_path)
    audit_key_path(tmp_path).chmod(0o644)
    assert load_or_create_audit_key(tmp_path) == key
    assert "accessible to other users" in caplog.text
