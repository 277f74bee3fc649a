"""One gate for the signalling layer's write transactions.

SQLite has a single writer, and in WAL mode a transaction that reads first and then writes
fails at once with "database is locked" when another connection committed in between,
whatever ``busy_timeout`` says. Catalog syncs and admissions read before they write, so on
SQLite they go through the gate one at a time (concurrency would not make SQLite faster);
on PostgreSQL a few run in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

POSTGRES_WRITERS = 4


class WriteGate:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        sqlite = engine.dialect.name == "sqlite"
        self._slots = asyncio.Semaphore(1 if sqlite else POSTGRES_WRITERS)

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (committed on success, rolled back on error)."""
        async with self._slots, self.engine.begin() as conn:
            yield conn
