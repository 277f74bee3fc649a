"""The signed manifest of an export, and its verification (DESIGN §6).

Stored as ``<job id>.manifest.json`` next to ``<job id>.mp4``::

    {"manifest": {...}, "signature": {"algorithm": "Ed25519",
                                      "key_fingerprint": "sha256:<hex>",
                                      "value": "<base64>"}}

The signature covers the manifest's canonical JSON: keys sorted, no whitespace, UTF-8,
integers only (times are ISO 8601 strings, durations 90 kHz ticks), so any JSON tool can
re-create the signed bytes. The manifest names the channel, the requested and the covered
range, the gaps (closed up in the file, see :mod:`vigil.recording.export_plan`), who asked
and why, when, the platform, every source segment with its SHA-256 and the byte ranges
used, and the export file's SHA-256 and size. Verification needs only the public key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigil.recording.export_file import ExportFileResult, file_sha256
from vigil.recording.export_plan import ExportPlan, PlannedSegment
from vigil.recording.platform_key import fingerprint

FORMAT = "vigil-export-manifest"
VERSION = 1
MANIFEST_SUFFIX = ".manifest.json"
MP4_SUFFIX = ".mp4"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024  # a 24 h export lists ~1 500 segments: far below


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def canonical_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The signed bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _ranges(segment: PlannedSegment) -> list[list[int]]:
    """Byte ranges [offset, size] of the file used in the export, adjacent ones merged."""
    pieces = [(0, segment.row.init_size_bytes)] if segment.writes_init else []
    pieces += [(f.offset_bytes, f.size_bytes) for f in segment.fragments]
    merged: list[list[int]] = []
    for offset, size in pieces:
        if merged and merged[-1][0] + merged[-1][1] == offset:
            merged[-1][1] += size
        else:
            merged.append([offset, size])
    return merged


def build_manifest(
    plan: ExportPlan,
    result: ExportFileResult,
    *,
    job_id: str,
    file_name: str,
    channel_name: str,
    platform_id: str,
    requested_by: str,
    reason: str,
    created_at: datetime,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "job_id": job_id,
        "platform_id": platform_id,
        "channel": {"id": plan.channel_id, "name": channel_name},
        "requested_by": requested_by,
        "reason": reason,
        "created_at": iso(created_at),
        "requested": {"start": iso(plan.requested_start), "end": iso(plan.requested_end)},
        "covered": {"start": iso(plan.covered_start), "end": iso(plan.covered_end)},
        "timeline": "gaps_closed",  # file time 0 is covered.start; gaps list where they were
        "gaps": [{"start": iso(g.start), "end": iso(g.end), "at_90k": g.at_90k} for g in plan.gaps],
        "segments": [
            {
                "id": s.row.id,
                "pool": s.row.pool,
                "path": s.row.path,
                "run_id": s.row.run_id,
                "start": iso(s.row.start_at),
                "end": iso(s.row.end_at),
                "sha256": s.row.sha256,
                "size_bytes": s.row.size_bytes,
                "params_id": s.row.params_id,
                "ranges": _ranges(s),
            }
            for s in plan.segments
        ],
        "export": {
            "file": file_name,
            "sha256": result.sha256,
            "size_bytes": result.size_bytes,
            "container": "fragmented MP4 (ISO/IEC 14496-12), timescale 90000",
            "duration_90k": plan.duration_90k,
            "frames": plan.frames,
            "fragments": plan.fragments,
            "parameter_changes": plan.parameter_changes,
        },
    }


def sign_manifest(manifest: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The stored document: the manifest and its Ed25519 signature."""
    return {
        "manifest": manifest,
        "signature": {
            "algorithm": "Ed25519",
            "key_fingerprint": fingerprint(key.public_key()),
            "value": base64.b64encode(key.sign(canonical_bytes(manifest))).decode("ascii"),
        },
    }


def document_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode() + b"\n"


@dataclass(frozen=True, slots=True)
class ExportVerdict:
    """What verification found; ``valid`` only when nothing at all differs."""

    signature_valid: bool
    file_checked: bool
    key_fingerprint: str
    problems: tuple[str, ...]
    manifest: Mapping[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.signature_valid and not self.problems

    def describe(self) -> list[str]:
        """The verdict as lines for a person: the outcome first, then why."""
        m = self.manifest
        channel, covered, export = (_mapping(m.get(k)) for k in ("channel", "covered", "export"))
        head = "VALID" if self.valid else f"INVALID ({len(self.problems)} problems)"
        lines = [f"{head}: export {m.get('job_id', '?')}"]
        if m:
            lines += [
                f"  channel:   {channel.get('id', '?')} {channel.get('name', '')}".rstrip(),
                f"  covered:   {covered.get('start', '?')} to {covered.get('end', '?')}",
                f"  requested: by {m.get('requested_by', '?')} at {m.get('created_at', '?')}",
                f"  MP4:       sha256 {export.get('sha256', '?')}, "
                f"{export.get('size_bytes', '?')} bytes"
                + ("" if self.file_checked else " (file not checked)"),
            ]
        lines.append(
            f"  signature: Ed25519 {'valid' if self.signature_valid else 'NOT valid'} "
            f"for key {self.key_fingerprint}"
        )
        lines += [f"  problem:   {problem}" for problem in self.problems]
        return lines

    def as_json(self) -> dict[str, Any]:
        export = self.manifest.get("export", {}) if self.manifest else {}
        channel = self.manifest.get("channel", {}) if self.manifest else {}
        return {
            "valid": self.valid,
            "signature_valid": self.signature_valid,
            "file_checked": self.file_checked,
            "key_fingerprint": self.key_fingerprint,
            "problems": list(self.problems),
            "job_id": self.manifest.get("job_id") if self.manifest else None,
            "channel": channel,
            "requested": self.manifest.get("requested") if self.manifest else None,
            "covered": self.manifest.get("covered") if self.manifest else None,
            "requested_by": self.manifest.get("requested_by") if self.manifest else None,
            "created_at": self.manifest.get("created_at") if self.manifest else None,
            "file_sha256": export.get("sha256") if isinstance(export, Mapping) else None,
        }


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_document(data: bytes) -> Mapping[str, Any] | str:
    """The stored document, or a sentence saying why it is not one."""
    if len(data) > MAX_MANIFEST_BYTES:
        return "the manifest is too large"
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"the manifest is not valid JSON: {exc}"
    if not isinstance(document, dict):
        return "the manifest is not a JSON object"
    return document


def verify_document(
    document: Mapping[str, Any],
    public_key: Ed25519PublicKey,
    *,
    file_sha256_hex: str | None = None,
    file_size_bytes: int | None = None,
) -> ExportVerdict:
    """Check the signature and, when given, the export file's hash and size."""
    expected_key = fingerprint(public_key)
    manifest = document.get("manifest")
    signature = document.get("signature")
    if not isinstance(manifest, dict) or not isinstance(signature, dict):
        return ExportVerdict(False, False, expected_key, ("not a signed export manifest",))
    problems: list[str] = []
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        problems.append(f"unknown manifest format {manifest.get('format')!r} "
                        f"version {manifest.get('version')!r}")  # fmt: skip
    signed_key = signature.get("key_fingerprint")
    if signed_key != expected_key:
        problems.append(f"signed with key {signed_key}, checked against key {expected_key}")
    signature_valid = False
    try:
        raw = base64.b64decode(str(signature.get("value", "")), validate=True)
        public_key.verify(raw, canonical_bytes(manifest))
        signature_valid = True
    except (InvalidSignature, binascii.Error, ValueError):
        problems.append(
            "the signature does not match the manifest: it was edited after signing, "
            "or signed with another key"
        )
    export = manifest.get("export")
    export = export if isinstance(export, dict) else {}
    file_checked = file_sha256_hex is not None
    if file_sha256_hex is not None and file_sha256_hex.lower() != export.get("sha256"):
        problems.append(
            f"the MP4's SHA-256 is {file_sha256_hex.lower()}, the manifest says "
            f"{export.get('sha256')}: the file was altered or is another export"
        )
    if file_size_bytes is not None and file_size_bytes != export.get("size_bytes"):
        problems.append(
            f"the MP4 holds {file_size_bytes} bytes, the manifest says {export.get('size_bytes')}"
        )
    return ExportVerdict(signature_valid, file_checked, expected_key, tuple(problems), manifest)


def export_paths(path: Path) -> tuple[Path, Path | None]:
    """(manifest, MP4) for a path naming either; the MP4 is None if the manifest is unreadable."""
    if path.name.endswith(MANIFEST_SUFFIX):
        try:
            parsed = parse_document(path.read_bytes())
        except OSError:
            parsed = "unreadable"
        if isinstance(parsed, str):
            return path, None
        manifest = parsed.get("manifest")
        export = manifest.get("export") if isinstance(manifest, dict) else None
        name = export.get("file") if isinstance(export, dict) else None
        stem = path.name[: -len(MANIFEST_SUFFIX)]
        # Only a bare file name next to the manifest: never a path the manifest chose.
        file_name = Path(name).name if isinstance(name, str) and name else stem + MP4_SUFFIX
        return path, path.with_name(file_name)
    stem = path.name[: -len(MP4_SUFFIX)] if path.name.endswith(MP4_SUFFIX) else path.stem
    return path.with_name(stem + MANIFEST_SUFFIX), path


def verify_export(path: Path, public_key: Ed25519PublicKey) -> ExportVerdict:
    """Verify an export on disk from the path of its MP4 or its manifest (blocking)."""
    manifest_path, mp4_path = export_paths(path)
    key = fingerprint(public_key)
    try:
        parsed = parse_document(manifest_path.read_bytes())
    except OSError as exc:
        return ExportVerdict(False, False, key, (f"cannot read {manifest_path}: {exc.strerror}",))
    if isinstance(parsed, str):
        return ExportVerdict(False, False, key, (parsed,))
    if mp4_path is None:
        return verify_document(parsed, public_key)
    try:
        digest, size = file_sha256(mp4_path)
    except OSError as exc:
        verdict = verify_document(parsed, public_key)
        missing = f"cannot read the MP4 {mp4_path}: {exc.strerror}"
        return ExportVerdict(
            verdict.signature_valid, False, key, (*verdict.problems, missing), verdict.manifest
        )
    return verify_document(parsed, public_key, file_sha256_hex=digest, file_size_bytes=size)
