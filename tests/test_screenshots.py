"""The screenshots, the script that takes them and the README that shows them agree.

`scripts/screenshots` needs Chromium and takes about a minute, so it does not run here;
this keeps its list of screens, the PNGs in docs/screenshots/ and README's images from
drifting apart without a browser.
"""

from __future__ import annotations

from pathlib import Path
import re
import struct

import pytest

from scripts.browser.screenshots import OUT_DIR, SHOTS, WIDTH

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<path>docs/screenshots/[^)\s]+)\)")


def readme_images() -> dict[str, str]:
    """Return README's screenshots: file name → alt text."""
    return {
        Path(match["path"]).name: match["alt"]
        for match in IMAGE.finditer(README.read_text(encoding="utf-8"))
    }


def png_size(path: Path) -> tuple[int, int]:
    """Return a PNG's width and height (from its IHDR chunk)."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_readme_shows_every_screenshot() -> None:
    """README shows each screen the script takes."""
    missing = {f"{name}.png" for name in SHOTS} - set(readme_images())
    assert not missing


def test_every_image_readme_shows_exists() -> None:
    """No image README shows is missing from docs/screenshots."""
    missing = {name for name in readme_images() if not (OUT_DIR / name).is_file()}
    assert not missing


def test_no_screenshot_is_left_over() -> None:
    """Each PNG in docs/screenshots is shown by README (none of a screen no longer taken)."""
    unshown = {path.name for path in OUT_DIR.glob("*.png")} - set(readme_images())
    assert not unshown


@pytest.mark.parametrize("name", SHOTS)
def test_screenshot_has_the_scripts_size(name: str) -> None:
    """Each PNG has the viewport the script takes it at (it was not edited by hand)."""
    assert png_size(OUT_DIR / f"{name}.png") == (WIDTH, SHOTS[name])


def test_alt_texts_describe_the_screens() -> None:
    """Each image's alt text says what it shows, in words, and no two are the same."""
    alts = readme_images().values()
    assert len(set(alts)) == len(alts)
    for alt in alts:
        assert len(alt.split()) >= 4, alt
