"""The simulator tests drive the real signalling server: share its fixtures."""

from ..signaling.conftest import client, sqlite_engine

__all__ = ["client", "sqlite_engine"]
