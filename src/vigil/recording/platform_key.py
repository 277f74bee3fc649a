"""The platform's Ed25519 signing key, which signs export manifests (DESIGN §6).

Kept in ``<data_dir>/keys/platform-ed25519.pem`` (PKCS#8, file mode 0600, directory 0700)
with its public half beside it in ``platform-ed25519.pub.pem``, created on first use.
Anyone may hold the public key; with it a manifest and its MP4 can be checked far from the
platform (``vigil verify EXPORT --public-key FILE``). Back the private key up with the data
directory: a new key still verifies old exports only against the old public key.

The fingerprint named in every signature is ``sha256:`` + hex SHA-256 of the raw 32-byte
public key, so a verifier can tell "signed by another key" from "altered".
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigil.recording.errors import SigningKeyError

logger = logging.getLogger(__name__)

KEYS_DIR_NAME = "keys"
PRIVATE_KEY_NAME = "platform-ed25519.pem"
PUBLIC_KEY_NAME = "platform-ed25519.pub.pem"


def private_key_path(data_dir: Path) -> Path:
    return data_dir / KEYS_DIR_NAME / PRIVATE_KEY_NAME


def public_key_path(data_dir: Path) -> Path:
    return data_dir / KEYS_DIR_NAME / PUBLIC_KEY_NAME


def load_or_create_platform_key(data_dir: Path) -> Ed25519PrivateKey:
    """Read the private key, creating it (and its public PEM) on first use."""
    path = private_key_path(data_dir)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            _create_exclusively(path, _private_pem(Ed25519PrivateKey.generate()))
        key = _read_private(path)
        public = public_key_path(data_dir)
        pem = public_key_pem(key.public_key())
        if not public.exists() or public.read_bytes() != pem:
            _create_exclusively(public, pem, mode=0o644, replace=True)
        return key
    except OSError as exc:
        raise SigningKeyError(f"cannot use the platform key {path}: {exc}") from exc


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; SigningKeyError for anything else."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("the public key is not an Ed25519 key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _create_exclusively(
    path: Path, data: bytes, *, mode: int = 0o600, replace: bool = False
) -> None:
    """Write ``data`` whole to a private temporary file, fsync it, then move it into place.

    For the private key the move is a hard link, which fails if another process created the
    key first (its key is then used); a reader never sees a partly written key.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            temporary.replace(path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                return
            logger.info("created the platform signing key %s", path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        temporary.unlink(missing_ok=True)


def _read_private(path: Path) -> Ed25519PrivateKey:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "the platform key %s is accessible to other users (mode %o); chmod 600 it",
            path,
            stat.S_IMODE(mode),
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"the platform key {path} cannot be read: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"the platform key {path} is not an Ed25519 key")
    return key
