"""Errors of the recording layer.

RecordingError
├── IndexCorruptError      a stored fragment table or row cannot be decoded
├── StorageFullError       a pool has no room and nothing may be purged
└── SegmentFileError       a segment file is missing, short, or does not match its row
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
