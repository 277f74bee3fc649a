"""The virtual scene a simulated camera looks at: a coloured grid three screens wide and three
high, of which the camera shows the part its :class:`~vigil.sim.ptz_head.Viewport` selects.

Columns and rows have irregular widths and neighbouring cells never share a colour, so every
part of the scene looks different from every other: a pan is seen as the picture shifting, not
as a periodic pattern standing still, and a zoom as the cells and lines growing about the
centre. Black grid lines separate the cells; outside the scene is dark grey (reached only at
the corners, never within the head's limits). All of it is computed with a handful of numpy
operations per frame; stopped views are cached.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from vigil.sim.ptz_head import Viewport

SCENE_HALF_SCREENS = 1.5  # the scene spans -1.5..1.5 screens on both axes around home
LINE_SCREENS = 0.012  # grid line width, in screen widths (about 4 px at 320 × 180)
BORDER = (48, 48, 48)
LINE = (0, 0, 0)

# Bright, saturated colours (none as dark as the lines, so a line is always the darkest thing).
_PALETTE = np.array(
    [
        (235, 235, 235),
        (235, 235, 16),
        (16, 235, 235),
        (16, 235, 16),
        (235, 16, 235),
        (235, 16, 16),
        (64, 96, 235),
        (140, 235, 200),
        (150, 90, 235),
        (120, 200, 90),
    ],
    dtype=np.uint8,
)

Image = npt.NDArray[np.uint8]


def _edges(rng: np.random.Generator, low: float, high: float) -> npt.NDArray[np.float64]:
    """Cell boundaries from -1.5 to 1.5 screens with widths drawn from ``low..high``."""
    edges = [-SCENE_HALF_SCREENS]
    while edges[-1] < SCENE_HALF_SCREENS:
        edges.append(edges[-1] + float(rng.uniform(low, high)))
    edges[-1] = SCENE_HALF_SCREENS
    return np.array(edges)


def _colours(rng: np.random.Generator, rows: int, cols: int) -> Image:
    """A colour per cell, different from the cell's left and upper neighbours; the table is
    framed by one border cell on each side so out-of-scene indices need no special case."""
    index = np.zeros((rows, cols), dtype=np.int64)
    for row in range(rows):
        for col in range(cols):
            taken = {index[row, col - 1] if col else -1, index[row - 1, col] if row else -1}
            choices = [c for c in range(len(_PALETTE)) if c not in taken]
            index[row, col] = choices[int(rng.integers(len(choices)))]
    table = np.empty((rows + 2, cols + 2, 3), dtype=np.uint8)
    table[:] = BORDER
    table[1:-1, 1:-1] = _PALETTE[index]
    return table


_RNG = np.random.default_rng(28181)  # fixed: every simulator draws the same scene
COLUMN_EDGES = _edges(_RNG, 0.09, 0.16)  # in screen widths
ROW_EDGES = _edges(_RNG, 0.12, 0.22)  # in screen heights
_CELLS = _colours(_RNG, len(ROW_EDGES) - 1, len(COLUMN_EDGES) - 1)


def _axis(
    edges: npt.NDArray[np.float64], centre: float, size: int, zoom: float, line: float
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """For each pixel along one axis: the (framed) cell index and whether a line covers it."""
    positions = centre + (np.arange(size) + 0.5 - size / 2) / (size * zoom)
    cells = np.searchsorted(edges, positions, side="right")  # 0 and len(edges): border
    nearest = np.minimum(
        np.abs(positions - edges[np.clip(cells - 1, 0, len(edges) - 1)]),
        np.abs(edges[np.clip(cells, 0, len(edges) - 1)] - positions),
    )
    return cells, nearest < line / 2


@functools.lru_cache(maxsize=8)
def scene_view(viewport: Viewport, width: int, height: int) -> Image:
    """The scene as the camera sees it through ``viewport``, ``height × width`` RGB (shared
    and cached: copy before drawing on it)."""
    # Lines are as wide horizontally as vertically on screen: the vertical line width is
    # scaled by the aspect ratio, since rows are measured in screen heights.
    cols, col_lines = _axis(COLUMN_EDGES, viewport.pan, width, viewport.zoom, LINE_SCREENS)
    rows, row_lines = _axis(
        ROW_EDGES, -viewport.tilt, height, viewport.zoom, LINE_SCREENS * width / height
    )
    strip = _CELLS[:, cols]  # one pixel row per scene row, then repeated: row copies only
    strip[:, col_lines] = LINE
    image = np.take(strip, rows, axis=0)
    image[row_lines, :] = LINE
    image.flags.writeable = False
    return image
