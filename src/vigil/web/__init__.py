"""The operator web UI: static HTML, CSS and ES modules served as-is (no build step).

The API serves ``STATIC_DIR/index.html`` at ``/`` and the rest of the directory under
``/static/``. Everything the browser runs lives in that directory.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"

__all__ = ["STATIC_DIR"]
