"""Blank pages: noise, texture, punch holes and a border are paper; a faint line is not."""

from __future__ import annotations

from collections.abc import Callable
import hashlib
from pathlib import Path
import random

from PIL import Image, ImageChops, ImageDraw, ImageFont
import pytest

from custom_components.wsd_scan.wsd import ErrorKind, WsdError
from custom_components.wsd_scan.wsd.blank import (
    DEFAULT_SENSITIVITY,
    async_drop_blank,
    drop_blank,
    is_blank,
)
from custom_components.wsd_scan.wsd.models import ImageFormat, ScannedPage

#: An A4 page at 200 dpi.
WIDTH, HEIGHT = 1654, 2339


def noise(seed: int, size: tuple[int, int]) -> Image.Image:
    """Return uniform noise (0–255), the same for the same seed."""
    return Image.frombytes("L", size, random.Random(seed).randbytes(size[0] * size[1]))


def paper(seed: int, tone: int = 245) -> Image.Image:
    """Return white paper as a scanner sees it: gray `tone` with sensor noise (±10)."""
    return noise(seed, (WIDTH, HEIGHT)).point(
        lambda value: max(0, min(255, tone - 10 + value * 20 // 255))
    )


def with_dust(page: Image.Image) -> Image.Image:
    """Scatter specks of dust (0.4 mm) over the page."""
    draw = ImageDraw.Draw(page)
    rng = random.Random(3)
    for _ in range(20):
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        draw.rectangle((x, y, x + 2, y + 2), fill=40)
    return page


def with_holes_and_border(page: Image.Image) -> Image.Image:
    """Two punch holes (6 mm, 12 mm from the edge, seen dark) and the edge's shadow."""
    draw = ImageDraw.Draw(page)
    for centre in (HEIGHT // 2 - 400, HEIGHT // 2 + 400):
        draw.ellipse((71, centre - 24, 119, centre + 24), fill=20)
    draw.rectangle((0, 0, WIDTH - 1, HEIGHT - 1), outline=60, width=6)
    return page


def with_texture(page: Image.Image) -> Image.Image:
    """Recycled paper: blotches, and lighting that falls off down the page."""
    fall_off = (
        Image.linear_gradient("L")
        .resize((WIDTH, HEIGHT))
        .point(lambda value: 255 - value // 12)
    )
    blotches = (
        noise(10, (WIDTH // 20, HEIGHT // 20))
        .resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
        .point(lambda value: 255 - value // 16)
    )
    return ImageChops.multiply(ImageChops.multiply(page, fall_off), blotches)


def with_faint_line(page: Image.Image) -> Image.Image:
    """One short line of faint text (10 pt, light gray) in the middle of the page."""
    ImageDraw.Draw(page).text(
        (400, 1100), "Total: 42.00", fill=170, font=ImageFont.load_default(size=28)
    )
    return page


def with_grey_form(page: Image.Image) -> Image.Image:
    """Print an empty form in light gray: labels and the boxes to fill in."""
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=28)
    for top in range(300, 2000, 160):
        draw.text((210, top - 30), "Name", fill=190, font=font)
        draw.rectangle((200, top, WIDTH - 200, top + 100), outline=205, width=3)
    return page


def jpeg(image: Image.Image, path: Path) -> Path:
    """Save as a scanner's JPEG."""
    image.convert("RGB").save(path, "JPEG", quality=75)
    return path


@pytest.mark.parametrize(
    ("make", "seed"),
    [
        pytest.param(lambda page: page, 1, id="noise"),
        pytest.param(with_dust, 2, id="dust"),
        pytest.param(with_holes_and_border, 4, id="punch holes and border"),
        pytest.param(with_texture, 5, id="texture and uneven lighting"),
    ],
)
def test_paper_is_blank(
    tmp_path: Path, make: Callable[[Image.Image], Image.Image], seed: int
) -> None:
    """Noise, dust, texture, punch holes and a border do not make a page."""
    assert is_blank(jpeg(make(paper(seed)), tmp_path / "page.jpg"))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(with_faint_line, id="faint line"),
        pytest.param(with_grey_form, id="light-grey form"),
    ],
)
def test_content_is_kept(
    tmp_path: Path, make: Callable[[Image.Image], Image.Image]
) -> None:
    """A short faint line and an empty light-grey form are content; the file is untouched."""
    page = jpeg(make(paper(6)), tmp_path / "page.jpg")
    digest = hashlib.sha256(page.read_bytes()).hexdigest()
    assert not is_blank(page)
    assert hashlib.sha256(page.read_bytes()).hexdigest() == digest


def test_sensitivity(tmp_path: Path) -> None:
    """The higher the sensitivity, the more content a page needs to be kept."""
    page = jpeg(with_faint_line(paper(6)), tmp_path / "page.jpg")
    assert not is_blank(page, 0)
    assert not is_blank(page, DEFAULT_SENSITIVITY)
    assert is_blank(page, 100)
    dusty = jpeg(with_dust(paper(2)), tmp_path / "dusty.jpg")
    assert not is_blank(dusty, 0)
    for sensitivity in (-1, 101):
        with pytest.raises(WsdError) as err:
            is_blank(page, sensitivity)
        assert err.value.kind is ErrorKind.INVALID_ARGUMENT


def test_light_text_on_dark_paper(tmp_path: Path) -> None:
    """Content lighter than the paper counts too."""
    page = paper(7, tone=60)
    ImageDraw.Draw(page).text(
        (400, 1100), "Total: 42.00", fill=200, font=ImageFont.load_default(size=28)
    )
    assert not is_blank(jpeg(page, tmp_path / "page.jpg"))
    assert is_blank(jpeg(paper(7, tone=60), tmp_path / "dark.jpg"))


def test_formats(tmp_path: Path) -> None:
    """Bilevel and PNG pages are judged too; PDF pages are never blank; junk is an error."""
    bilevel = tmp_path / "page.tif"
    paper(8).convert("1", dither=Image.Dither.NONE).save(
        bilevel, "TIFF", compression="group4"
    )
    assert is_blank(bilevel)
    line = tmp_path / "line.png"
    with_faint_line(paper(9)).save(line, "PNG")
    assert not is_blank(line)
    tiny = tmp_path / "tiny.png"
    Image.new("L", (8, 8), 255).save(tiny, "PNG")
    assert is_blank(tiny)
    pdf = tmp_path / "page.pdf"
    Image.new("L", (100, 100), 255).save(pdf, "PDF")
    assert not is_blank(pdf)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(WsdError) as err:
        is_blank(junk)
    assert err.value.kind is ErrorKind.PROTOCOL


async def test_drop_blank_keeps_order_and_unreadable_pages(tmp_path: Path) -> None:
    """Blank pages leave; the others stay in order, a page that is no image too."""
    blank = jpeg(paper(11), tmp_path / "1.jpg")
    junk = tmp_path / "2.jpg"
    junk.write_bytes(b"not an image at all")
    line = jpeg(with_faint_line(paper(12)), tmp_path / "3.jpg")
    pages = [
        ScannedPage(index, path, ImageFormat.JPEG, path.stat().st_size)
        for index, path in enumerate((blank, junk, line), start=1)
    ]
    assert await async_drop_blank(pages) == pages[1:]
    assert drop_blank(pages[:1]) == []
    with pytest.raises(WsdError) as err:
        drop_blank(pages, 101)
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT
