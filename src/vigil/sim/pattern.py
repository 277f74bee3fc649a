"""The picture a simulated camera sends: the part of the virtual scene (:mod:`vigil.sim.scene`)
its view selects, with an on-screen display drawn over it as a real camera's OSD is: the
channel's last four digits at the top, a seconds/frame counter of the loop at the bottom and a
bouncing orange block, so a frozen stream is told from a live one at a glance.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vigil.sim.ptz_head import HOME, Viewport
from vigil.sim.scene import scene_view

FPS = 25

# 3×5 block figures, one string of 15 cells per digit
_DIGITS = (
    "111101101101111",
    "010110010010111",
    "111001111100111",
    "111001111001111",
    "101101111001001",
    "111100111001111",
    "111100111101111",
    "111001001001001",
    "111101111101111",
    "111101111001111",
)


def _draw_text(image: npt.NDArray[np.uint8], text: str, x: int, y: int, cell: int) -> None:
    for offset, char in enumerate(text):
        if not char.isdigit():
            continue
        pattern = _DIGITS[int(char)]
        left = x + offset * 4 * cell
        for i, bit in enumerate(pattern):
            if bit == "1":
                row, col = divmod(i, 3)
                top = y + row * cell
                image[top : top + cell, left + col * cell : left + (col + 1) * cell] = 255


def render_frame(
    index: int, width: int, height: int, label: str, *, viewport: Viewport | None = None
) -> npt.NDArray[np.uint8]:
    """Frame ``index`` of the loop, RGB ``height × width``, looking through ``viewport``
    (home when omitted). Cheap numpy only: the scene itself is cached per view."""
    image = scene_view(viewport or HOME, width, height).copy()
    size = max(height // 8, 8)
    span = max(width - size, 1)
    pos = (index * 8) % (2 * span)
    left = pos if pos < span else 2 * span - pos
    top = height // 2 - size // 2
    image[top : top + size, left : left + size] = (255, 128, 0)
    cell = max(height // 40, 2)
    _draw_text(image, label, cell * 2, cell * 2, cell)
    _draw_text(image, f"{index // FPS:02d}{index % FPS:02d}", cell * 2, height - cell * 8, cell)
    return image
