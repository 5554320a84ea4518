"""Benchmark (b): PDF assembly from JPEG pages: time and peak memory, by page count.

Pages are A4 at 300 dpi, colour, like an ADF scan (a few distinct pages, each saved as its
own file). Three writers, each measured alone in a fresh process:

- `ours`: `wsd.document.assemble`, which embeds each JPEG unchanged;
- `copy`: a plain copy of the same bytes into one file (read, write; the physical floor);
- `pillow`: `Image.save(..., "PDF", save_all=True)`, which decodes and re-encodes every
  page (only up to `--pillow-pages` pages: it holds every decoded page, 26 MB each).

Seconds are wall-clock time, CPU s the process's user + system time (steadier on a
shared machine). Peak RSS growth is `VmHWM` after the run minus `VmRSS` before it, with the high-water mark
reset (`/proc/self/clear_refs` ← "5") just before. The run checks that every JPEG stream
in our PDF is byte-identical to its page file.

Run: `scripts/run python -m benchmarks.pdf_assembly [--pages 50 150 300] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Final

import pikepdf
from PIL import Image, ImageDraw

from custom_components.wsd_scan.wsd.document import assemble
from custom_components.wsd_scan.wsd.models import DocumentFormat

A4_300_DPI: Final = (2480, 3508)
_DISTINCT_PAGES: Final = 5
_WRITERS: Final = ("ours", "copy", "pillow")


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
    """Assemble with wsd.document (JPEG embedded unchanged)."""
    (pdf,) = assemble(pages, directory, "ours", DocumentFormat.PDF, resolution=300)
    return pdf


def copy(pages: list[Path], directory: Path) -> Path:
    """Copy the pages' bytes into one file: what any writer must at least do."""
    target = directory / "copy.bin"
    with target.open("wb") as output:
        for page in pages:
            with page.open("rb") as source:
                shutil.copyfileobj(source, output)
    return target


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
        return all(
            next(iter(pdf_page.get_images().values())).read_raw_bytes()
            == page.read_bytes()
            for pdf_page, page in zip(pdf.pages, pages, strict=True)
        )


def _status(field: str) -> int:
    """Return a `/proc/self/status` field in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _measure(writer: str, directory: Path, count: int) -> None:
    """Run one writer on the first `count` pages; print seconds, RSS growth, size."""
    pages = sorted(directory.glob("page-*.jpg"))[:count]
    output = directory / writer
    output.mkdir()
    Path("/proc/self/clear_refs").write_text("5")
    before = _status("VmRSS")
    start, cpu_start = time.perf_counter(), time.process_time()
    result = globals()[writer](pages, output)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    growth = _status("VmHWM") - before
    report = {
        "seconds": seconds,
        "cpu": cpu,
        "growth": growth,
        "size": result.stat().st_size,
    }
    if writer == "ours":
        report["identical"] = _identical_streams(result, pages)
    shutil.rmtree(output)
    print(json.dumps(report))


def _run(writer: str, directory: Path, count: int) -> dict[str, float]:
    """Measure one writer in a fresh process."""
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.pdf_assembly",
            "--measure",
            writer,
            str(directory),
            str(count),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(answer.stdout)
    return result


def main() -> None:
    """Build the pages, measure each writer and page count, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[50, 150, 300])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pillow-pages", type=int, default=50)
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        writer, directory, count = args.measure
        _measure(writer, Path(directory), int(count))
        return
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        _make_pages(directory, max(args.pages))
        print(
            "A4 300 dpi colour JPEG pages; each writer in a fresh process, "
            f"median of {args.repeat} runs"
        )
        print(
            f"{'pages':>5} {'input MB':>9} {'writer':<7}{'seconds':>9}{'× copy':>8}"
            f"{'CPU s':>8}{'× copy':>8}{'RSS growth MiB':>16}{'output MB':>11}"
        )
        for count in args.pages:
            writers = [
                writer
                for writer in _WRITERS
                if writer != "pillow" or count <= args.pillow_pages
            ]
            runs: dict[str, list[dict[str, float]]] = {w: [] for w in writers}
            for _ in range(args.repeat):
                for writer in writers:
                    runs[writer].append(_run(writer, directory, count))
            medians = {
                writer: {
                    key: statistics.median(run[key] for run in results)
                    for key in ("seconds", "cpu", "growth", "size")
                }
                for writer, results in runs.items()
            }
            floor = medians["copy"]
            for writer, median in medians.items():
                print(
                    f"{count:>5} {floor['size'] / 1e6:>9.0f} {writer:<7}"
                    f"{median['seconds']:>9.3f}"
                    f"{median['seconds'] / floor['seconds']:>8.1f}"
                    f"{median['cpu']:>8.3f}{median['cpu'] / floor['cpu']:>8.1f}"
                    f"{median['growth'] / 2**20:>16.1f}"
                    f"{median['size'] / 1e6:>11.1f}"
                )
            if "pillow" in medians:
                speedup = medians["pillow"]["seconds"] / medians["ours"]["seconds"]
                print(f"{'':>15}ours is {speedup:.1f}× faster than Pillow")
            identical = all(run["identical"] for run in runs["ours"])
            print(f"{'':>15}JPEG streams byte-identical in ours: {identical}")


if __name__ == "__main__":
    main()
