"""Errors of the recording layer.

RecordingError
├── IndexCorruptError      a stored fragment table or row cannot be decoded
├── StorageFullError       a pool has no room and nothing may be purged
├── SegmentFileError       a segment file is missing, short, or does not match its row
├── RecordingInputError    a caller's values are invalid (empty reason, end before start)
├── SigningKeyError        the platform's Ed25519 key (or a given public key) is unusable
└── ExportError            an export cannot be built (nothing recorded in the range, ...)
    └── IntegrityError     a source segment's bytes differ from its index row (evidence)
"""

from __future__ import annotations


class RecordingError(Exception):
    """Base of every recording failure."""


class IndexCorruptError(RecordingError):
    """A stored fragment table or index row cannot be decoded."""


class StorageFullError(RecordingError):
    """A storage pool has no room and its policy forbids purging more."""


class SegmentFileError(RecordingError):
    """A segment file is missing, shorter than its row says, or its hash differs."""


class RecordingInputError(RecordingError):
    """A caller's values are invalid: an empty reason, a range ending before it starts."""


class SigningKeyError(RecordingError):
    """The platform's signing key cannot be created or read, or a public key is invalid."""


class ExportError(RecordingError):
    """An export cannot be built: nothing recorded in the range, a file unreadable, ..."""


class IntegrityError(ExportError):
    """A source segment's bytes differ from its index row: the export is refused."""
