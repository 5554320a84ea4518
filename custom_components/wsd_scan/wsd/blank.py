"""Blank pages: the backs of single-sided sheets scanned duplex, separator sheets.

A page is looked at, never changed: it is decoded in gray at a reduced scale (JPEG pages
by the decoder itself, as previews are), and the pages kept are stored as they came.

How a page is judged:

1. It is averaged into cells of about 1.5 mm (a grid 200 cells long): scanner noise and
   paper texture average out, while a line of text darkens the cells it crosses.
2. A margin is left out: the scanner's edge shadow, a thin border, punch holes (their
   centres are 12 mm from the edge, ISO 838) and staples are not content.
3. The paper's tone is the median cell, so recycled or tinted paper is paper too. A cell
   is content when it differs from it by more than a threshold (darker or lighter, so
   light text on dark paper counts), and the page is blank when fewer cells than a
   minimum are content.

The sensitivity (0–100) sets both: the higher it is, the more content a page needs
to be kept. At the default, one short line of faint text keeps a page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Final

from PIL import Image, ImageChops, ImageFilter

from .document import decode_gray
from .exceptions import ErrorKind, WsdError
from .models import ScannedPage

#: What a page is judged on unless asked otherwise.
DEFAULT_SENSITIVITY: Final = 50
MIN_SENSITIVITY: Final = 0
MAX_SENSITIVITY: Final = 100
#: Longest side of the decoded page, in pixels: several pixels a cell.
_DECODE_SIDE: Final = 1000
#: Longest side of the grid of cells: about 1.5 mm a cell on A4 or Letter.
_GRID_SIDE: Final = 200
#: The margin left out, as a share of the page's shorter side: 16 mm on A4, past the
#: punch holes (12 mm from the edge, 6 mm wide).
_MARGIN: Final = 0.075
#: Cells around a cell that tell the paper's tone there (odd: a median filter's size).
_PAPER_WINDOW: Final = 11


def is_blank(page: Path, sensitivity: int = DEFAULT_SENSITIVITY) -> bool:
    """Whether the page holds nothing but paper, at `sensitivity` (0–100).

    A PDF page is never blank (nothing here renders PDF). Raises `WsdError`
    (INVALID_ARGUMENT) for a sensitivity out of range, PROTOCOL for a page that is no
    readable image. Blocking: run it in an executor.
    """
    if not MIN_SENSITIVITY <= sensitivity <= MAX_SENSITIVITY:
        raise WsdError(
            ErrorKind.INVALID_ARGUMENT,
            f"blank page sensitivity {sensitivity} is not within "
            f"{MIN_SENSITIVITY}–{MAX_SENSITIVITY}",
        )
    decoded = decode_gray(page, _DECODE_SIDE)
    if decoded is None:
        return False
    with decoded:
        cells = _inner_cells(decoded)
    with cells:
        return _content_cells(cells, _threshold(sensitivity)) < _min_cells(sensitivity)


def drop_blank(
    pages: Sequence[ScannedPage], sensitivity: int = DEFAULT_SENSITIVITY
) -> list[ScannedPage]:
    """Return the pages that are not blank, in order (none if all are).

    A page that is no readable image is kept: assembling the document says what is
    wrong with it. Blocking: run it in an executor (see `async_drop_blank`).
    """
    kept = []
    for page in pages:
        try:
            blank = is_blank(page.path, sensitivity)
        except WsdError as err:
            if err.kind is not ErrorKind.PROTOCOL:
                raise
            blank = False
        if not blank:
            kept.append(page)
    return kept


async def async_drop_blank(
    pages: Sequence[ScannedPage], sensitivity: int = DEFAULT_SENSITIVITY
) -> list[ScannedPage]:
    """Run `drop_blank` in the event loop's default executor."""
    return await asyncio.get_running_loop().run_in_executor(
        None, partial(drop_blank, pages, sensitivity)
    )


def _threshold(sensitivity: int) -> int:
    """How far (of 255) a cell's tone must be from the paper's to be content: 3–15."""
    return 3 + round(sensitivity * 0.12)


def _min_cells(sensitivity: int) -> int:
    """How many cells of content keep a page: 3–23 (a short word covers about 10)."""
    return 3 + round(sensitivity * 0.2)


def _inner_cells(page: Image.Image) -> Image.Image:
    """Average the page into cells, each the mean of its pixels; leave the margin out."""
    width, height = page.size
    scale = _GRID_SIDE / max(width, height)
    grid = page.resize(
        (max(1, round(width * scale)), max(1, round(height * scale))),
        Image.Resampling.BOX,
    )
    # Less than half the shorter side: what remains is never empty.
    margin = round(min(grid.size) * _MARGIN)
    with grid:
        return grid.crop((margin, margin, grid.width - margin, grid.height - margin))


def _content_cells(cells: Image.Image, threshold: int) -> int:
    """Count the cells of content: unlike the paper around them, next to another one.

    The paper's tone is taken around each cell (the median of a window about 16 mm
    wide), so uneven lighting and tinted paper are paper. A cell alone is a speck of
    dust, not content: a line of text darkens neighbouring cells.
    """
    with (
        cells.filter(ImageFilter.MedianFilter(_PAPER_WINDOW)) as paper,
        ImageChops.difference(cells, paper) as difference,
        difference.point(lambda tone: 255 if tone > threshold else 0) as content,
        content.filter(ImageFilter.BoxBlur(1)) as around,
        # A cell with a neighbour of content averages at least 2/9 of 255 over its 3 × 3.
        around.point(lambda tone: 255 if tone > 255 // 9 else 0) as connected,
        ImageChops.multiply(content, connected) as kept,
    ):
        return kept.histogram()[255]
