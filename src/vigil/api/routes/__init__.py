"""One module of routes per resource, each exposing ``router`` under the API prefix."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from vigil.registry.page import Page

API_PREFIX = "/api/v1"


def page_json(page: Page[Any], items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A registry page as the API's listing shape; ``items`` replaces the plain rows."""
    return {
        "items": items if items is not None else [asdict(item) for item in page.items],
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
    }
