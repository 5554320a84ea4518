"""Benchmark (b): a 50-page PDF from JPEG pages, ours vs Pillow's PDF writer.

Pages are A4 at 300 dpi, colour, like an ADF scan (a few distinct pages, each saved as its
own file). Ours (`wsd.document.assemble`, img2pdf) embeds each JPEG unchanged; Pillow's
`Image.save(..., "PDF", save_all=True)` decodes and re-encodes every page. The run checks
that every JPEG stream in our PDF is byte-identical to its page file.

Run: `scripts/run python -m benchmarks.pdf_assembly [--pages N] [--repeat N]`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import shutil
import statistics
import tempfile
import time

import pikepdf
from PIL import Image, ImageDraw

from custom_components.wsd_scan.wsd.document import assemble
from custom_components.wsd_scan.wsd.models import DocumentFormat

A4_300_DPI = (2480, 3508)
_DISTINCT_PAGES = 5


def _make_pages(directory: Path, count: int) -> list[Path]:
    """Write `count` JPEG pages (a few distinct scans, copied) and return their paths."""
    originals = []
    for number in range(_DISTINCT_PAGES):
        image = Image.effect_noise(A4_300_DPI, 20 + 5 * number).convert("RGB")
        draw = ImageDraw.Draw(image)
        for line in range(40):
            draw.rectangle(
                (200, 300 + 80 * line, 2200, 330 + 80 * line), fill=(20, 20, 20)
            )
        path = directory / f"original-{number}.jpg"
        image.save(path, "JPEG", quality=85, dpi=(300, 300))
        originals.append(path)
    pages = []
    for number in range(count):
        page = directory / f"page-{number:03d}.jpg"
        shutil.copyfile(originals[number % _DISTINCT_PAGES], page)
        pages.append(page)
    return pages


def ours(pages: list[Path], directory: Path) -> Path:
    """Assemble with wsd.document (img2pdf, JPEG embedded unchanged)."""
    (pdf,) = assemble(pages, directory, "ours", DocumentFormat.PDF, resolution=300)
    return pdf


def pillow(pages: list[Path], directory: Path) -> Path:
    """Assemble with Pillow's PDF writer."""
    target = directory / "pillow.pdf"
    first, *rest = (Image.open(page) for page in pages)
    first.save(target, "PDF", save_all=True, append_images=rest, resolution=300)
    for image in (first, *rest):
        image.close()
    return target


def _identical_streams(pdf_path: Path, pages: list[Path]) -> bool:
    """Whether page i of the PDF holds exactly the bytes of JPEG file i."""
    with pikepdf.open(pdf_path) as pdf:
        embedded = [
            next(iter(page.get_images().values())).read_raw_bytes()
            for page in pdf.pages
        ]
    return embedded == [page.read_bytes() for page in pages]


def main() -> None:
    """Build the pages, time both writers side by side, check our streams."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        pages = _make_pages(directory, args.pages)
        total = sum(page.stat().st_size for page in pages) / 1e6
        timings: dict[str, list[float]] = {"ours": [], "pillow": []}
        outputs: dict[str, Path] = {}
        for _ in range(args.repeat):
            for name, writer in (("ours", ours), ("pillow", pillow)):
                start = time.perf_counter()
                outputs[name] = writer(pages, directory)
                timings[name].append(time.perf_counter() - start)
        identical = _identical_streams(outputs["ours"], pages)
        print(
            f"{args.pages} JPEG pages, A4 300 dpi colour, {total:.0f} MB in total; "
            f"median of {args.repeat} runs"
        )
        print(f"{'writer':<8}{'seconds':>10}{'PDF MB':>10}")
        for name, values in timings.items():
            size = outputs[name].stat().st_size / 1e6
            print(f"{name:<8}{statistics.median(values):>10.3f}{size:>10.1f}")
        speedup = statistics.median(timings["pillow"]) / statistics.median(
            timings["ours"]
        )
        print(f"speed-up ours vs Pillow: {speedup:.1f}x")
        print(f"JPEG streams byte-identical in ours: {identical}")


if __name__ == "__main__":
    main()
