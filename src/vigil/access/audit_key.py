"""The audit chain's HMAC key: 32 random bytes in ``<data_dir>/keys/audit.key``.

The key lives on the file system, not in the database, so someone who can write the
database but not read this file cannot forge a consistent chain. Back it up with the data
directory: without it the existing chain can no longer be verified.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from vigil.access.errors import AuditKeyError

logger = logging.getLogger(__name__)

AUDIT_KEY_BYTES = 32
KEYS_DIR_NAME = "keys"
AUDIT_KEY_NAME = "audit.key"


def audit_key_path(data_dir: Path) -> Path:
    return data_dir / KEYS_DIR_NAME / AUDIT_KEY_NAME


def load_or_create_audit_key(data_dir: Path) -> bytes:
    """Read the key, creating it (file mode 0600, directory 0700) on first use."""
    keys_dir = data_dir / KEYS_DIR_NAME
    path = keys_dir / AUDIT_KEY_NAME
    try:
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            _create_key_file(path)
        return _read_key_file(path)
    except OSError as exc:
        raise AuditKeyError(f"cannot use the audit key {path}: {exc}") from exc


def _create_key_file(path: Path) -> None:
    """Write a fresh key atomically: several processes starting at once agree on one key.

    The key is written whole to a private temporary file, then hard-linked into place;
    link() fails if another process got there first, and its key is used instead. A reader
    therefore never sees a partly written key.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(AUDIT_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
        _fsync_directory(path.parent)
        logger.info("created the audit key %s", path)
    finally:
        temporary.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_key_file(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "the audit key %s is accessible to other users (mode %o); chmod 600 it",
            path,
            stat.S_IMODE(mode),
        )
    key = path.read_bytes()
    if len(key) != AUDIT_KEY_BYTES:
        raise AuditKeyError(
            f"the audit key {path} holds {len(key)} bytes, expected {AUDIT_KEY_BYTES}"
        )
    return key
