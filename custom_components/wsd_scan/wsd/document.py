"""Scanned pages → documents: format sniffing, PDF assembly, image files.

Pages are files (one per RetrieveImage, as `mtom.read_mtom` wrote them) and outputs are new
files; the page files are left as they are. Sniffing trusts the bytes, never the device's
word (the Pantum M7100DN says PNG and sends JPEG, sa#281).

- PDF: one page per page file, in order. JPEG pages are embedded unchanged (img2pdf copies
  the device's bytes into a DCTDecode stream), PNG and TIFF losslessly, bilevel pages as
  CCITT Group 4, PDF pages (e.g. a Kyocera pdf-a "page") merged as they are.
- JPEG / PNG / TIFF: one file per page; a page already in that format is copied unchanged,
  others are converted with Pillow (a BMP/DIB page becomes PNG when PNG is asked for).
- Previews: a downscaled JPEG (PNG for bilevel pages) of a page that any browser shows.

The work is CPU- and disk-bound: `assemble` is synchronous for an executor, and
`async_assemble` runs it in the event loop's default executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
import io
from itertools import groupby
import math
from pathlib import Path
import shutil
import tempfile
from typing import Final

import img2pdf
import pikepdf
from PIL import BmpImagePlugin, Image

from .exceptions import ErrorKind, WsdError
from .models import DocumentFormat, ImageFormat

_MAGIC: Final[tuple[tuple[bytes, ImageFormat], ...]] = (
    (b"\xff\xd8\xff", ImageFormat.JPEG),
    (b"\x89PNG\r\n\x1a\n", ImageFormat.PNG),
    (b"II*\x00", ImageFormat.TIFF),
    (b"MM\x00*", ImageFormat.TIFF),
    (b"II+\x00", ImageFormat.TIFF),  # BigTIFF
    (b"MM\x00+", ImageFormat.TIFF),
    (b"BM", ImageFormat.BMP),
    (b"%PDF-", ImageFormat.PDF),
)
#: Sizes of the BITMAPINFOHEADER variants that start a headerless DIB (WS-Scan's "dib").
_DIB_HEADER_SIZES: Final = frozenset({12, 40, 52, 56, 64, 108, 124})
_SNIFF_SIZE: Final = 32
#: Longest side of a page preview, in pixels: sharp on a screen, a few hundred kB.
PREVIEW_SIZE: Final = 1600


def sniff_image_format(head: bytes) -> ImageFormat:
    """Tell an image's format from its first bytes (16 are enough)."""
    for magic, image_format in _MAGIC:
        if head.startswith(magic):
            return image_format
    if _is_dib(head):
        return ImageFormat.BMP
    return ImageFormat.UNKNOWN


def _is_dib(head: bytes) -> bool:
    """Whether `head` starts a bitmap info header: its size, then one colour plane."""
    if len(head) < 14:
        return False
    header_size = int.from_bytes(head[:4], "little")
    planes_offset = 8 if header_size == 12 else 12
    return (
        header_size in _DIB_HEADER_SIZES
        and int.from_bytes(head[planes_offset : planes_offset + 2], "little") == 1
    )


def _read_head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(_SNIFF_SIZE)


def assemble(
    pages: Sequence[Path],
    directory: Path,
    stem: str,
    document_format: DocumentFormat,
    *,
    resolution: int | None = None,
    title: str | None = None,
) -> list[Path]:
    """Write the pages as `directory/stem.pdf`, or as one image file per page.

    Image files are named `stem.<ext>` for a single page, else `stem-001.<ext>`, ….
    `resolution` (dpi) sizes PDF pages whose images do not say their own. Raises
    `WsdError` (PROTOCOL) for a page that is no readable image, UNSUPPORTED for a PDF page
    asked to become an image. Blocking: run it in an executor (see `async_assemble`).
    """
    if not pages:
        raise WsdError(ErrorKind.INVALID_ARGUMENT, "a document needs at least one page")
    formats = [sniff_image_format(_read_head(page)) for page in pages]
    if document_format is DocumentFormat.PDF:
        target = directory / f"{stem}.pdf"
        _write_pdf(list(zip(pages, formats, strict=True)), target, resolution, title)
        return [target]
    extension = document_format.image_format.extension
    names = (
        [f"{stem}.{extension}"]
        if len(pages) == 1
        else [f"{stem}-{number:03d}.{extension}" for number in range(1, len(pages) + 1)]
    )
    targets = [directory / name for name in names]
    for number, (page, page_format, target) in enumerate(
        zip(pages, formats, targets, strict=True), start=1
    ):
        _write_image(page, page_format, target, document_format, number)
    return targets


async def async_assemble(
    pages: Sequence[Path],
    directory: Path,
    stem: str,
    document_format: DocumentFormat,
    *,
    resolution: int | None = None,
    title: str | None = None,
) -> list[Path]:
    """Run `assemble` in the event loop's default executor."""
    return await asyncio.get_running_loop().run_in_executor(
        None,
        partial(
            assemble,
            pages,
            directory,
            stem,
            document_format,
            resolution=resolution,
            title=title,
        ),
    )


def _write_pdf(
    pages: list[tuple[Path, ImageFormat]],
    target: Path,
    resolution: int | None,
    title: str | None,
) -> None:
    """Write the PDF: runs of image pages through img2pdf, PDF pages merged by pikepdf."""
    runs = [
        (is_pdf, list(run))
        for is_pdf, run in groupby(pages, key=lambda page: page[1] is ImageFormat.PDF)
    ]
    if len(runs) == 1 and not runs[0][0]:
        _images_to_pdf(runs[0][1], target, resolution, title)
        return
    with (
        tempfile.TemporaryDirectory(dir=target.parent) as scratch,
        pikepdf.new() as pdf,
    ):
        for index, (is_pdf, run) in enumerate(runs):
            if is_pdf:
                sources = [path for path, _ in run]
            else:
                sources = [Path(scratch, f"{index}.pdf")]
                _images_to_pdf(run, sources[0], resolution, title)
            for source in sources:
                try:
                    part = pikepdf.open(source)
                except pikepdf.PdfError as err:
                    raise WsdError(
                        ErrorKind.PROTOCOL, f"unreadable PDF page {source.name}: {err}"
                    ) from err
                with part:
                    pdf.pages.extend(part.pages)
        if title is not None:
            pdf.docinfo["/Title"] = title
        pdf.save(target)


def _images_to_pdf(
    pages: list[tuple[Path, ImageFormat]],
    target: Path,
    resolution: int | None,
    title: str | None,
) -> None:
    """Write image pages as one PDF with img2pdf (lossless; JPEG bytes unchanged)."""
    layout = (
        img2pdf.default_layout_fun
        if resolution is None
        else img2pdf.get_fixed_dpi_layout_fun((resolution, resolution))
    )
    inputs = [_pdf_input(path, image_format) for path, image_format in pages]
    try:
        with target.open("wb") as output:
            img2pdf.convert(
                *inputs,
                outputstream=output,
                # The internal engine writes the file directly; pikepdf's linearises it,
                # three times slower.
                engine=img2pdf.Engine.internal,
                layout_fun=layout,
                title=title,
            )
    except (
        img2pdf.ImageOpenError,
        img2pdf.AlphaChannelError,
        ValueError,
        OSError,
    ) as err:
        target.unlink(missing_ok=True)
        _raise_system_error(err)
        raise WsdError(
            ErrorKind.PROTOCOL, f"a page is not a usable image: {err}"
        ) from err


def _pdf_input(path: Path, image_format: ImageFormat) -> str | bytes:
    """Return what img2pdf gets for a page: the file, or a lossless re-encoding of it.

    img2pdf embeds JPEG and PNG data as they are and turns bilevel TIFF/BMP frames into
    CCITT Group 4 itself; bilevel PNGs (which it would keep as Flate) and headerless DIBs
    (which it cannot open) go through Pillow first.
    """
    if image_format is ImageFormat.BMP or (
        image_format is ImageFormat.PNG and _is_bilevel_png(path)
    ):
        with _open_image(path, image_format) as image:
            return _lossless_bytes(image)
    if image_format is ImageFormat.UNKNOWN:
        raise WsdError(ErrorKind.PROTOCOL, f"page {path.name} is not an image")
    return str(path)


def _is_bilevel_png(path: Path) -> bool:
    """Whether the PNG's header says 1-bit greyscale (bit depth, colour type at 24, 25)."""
    return _read_head(path)[24:26] == b"\x01\x00"


def _lossless_bytes(image: Image.Image) -> bytes:
    """Encode a page for img2pdf: CCITT Group 4 TIFF when bilevel, else PNG."""
    buffer = io.BytesIO()
    if image.mode == "1":
        image.save(buffer, "TIFF", compression="group4")
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _open_image(
    path: Path, image_format: ImageFormat, *, fit: int | None = None
) -> Image.Image:
    """Open a page with Pillow, including DIBs without a file header.

    With `fit` (pixels), a JPEG decoder may skip detail the image shrunk to fit that
    square would not show (previews): it decodes at 1/2, 1/4 or 1/8 scale.
    """
    try:
        if image_format is ImageFormat.BMP and not _read_head(path).startswith(b"BM"):
            image: Image.Image = BmpImagePlugin.DibImageFile(path)
        else:
            image = Image.open(path)
        if fit is not None and (scale := fit / max(image.size)) < 1:
            width, height = image.size
            image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
        image.load()
    # What Pillow raises on bad data, and on images too large to decode safely.
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        _raise_system_error(err)
        raise WsdError(
            ErrorKind.PROTOCOL, f"page {path.name} is not a readable image: {err}"
        ) from err
    return image


def _raise_system_error(err: Exception) -> None:
    """Re-raise an error of the system (disk full, …): Pillow's decoding errors lack errno."""
    if isinstance(err, OSError) and err.errno is not None:
        raise err


def _write_image(
    page: Path,
    page_format: ImageFormat,
    target: Path,
    document_format: DocumentFormat,
    number: int,
) -> None:
    """Store one page as `target`: copied if already in the format, else converted."""
    if page_format is document_format.image_format:
        shutil.copyfile(page, target)
        return
    if page_format is ImageFormat.PDF:
        raise WsdError(
            ErrorKind.UNSUPPORTED,
            f"page {number} is a PDF and cannot become {document_format.value.upper()}",
        )
    with _open_image(page, page_format) as image:
        if document_format is DocumentFormat.JPEG:
            converted = (
                image
                if image.mode in {"RGB", "L", "CMYK"}
                else image.convert("L" if image.mode == "1" else "RGB")
            )
            converted.save(target, "JPEG", quality=90)
        elif document_format is DocumentFormat.PNG:
            image.save(target, "PNG", compress_level=1)
        else:
            image.save(
                target,
                "TIFF",
                compression="group4" if image.mode == "1" else "tiff_deflate",
            )


def preview_page(page: Path, target: Path, max_side: int = PREVIEW_SIZE) -> Path | None:
    """Write a browser-viewable preview of a page: `target` with .jpg, or .png if bilevel.

    The page is shrunk to fit `max_side` (JPEG pages are decoded at a reduced scale, so
    large pages cost little). Returns the file written, or None for a PDF page (nothing
    here renders PDF). Raises `WsdError` (PROTOCOL) for a page that is no readable image.
    Blocking: run it in an executor.
    """
    page_format = sniff_image_format(_read_head(page))
    if page_format is ImageFormat.PDF:
        return None
    if page_format is ImageFormat.UNKNOWN:
        raise WsdError(ErrorKind.PROTOCOL, f"page {page.name} is not an image")
    with _open_image(page, page_format, fit=max_side) as image:
        image.thumbnail((max_side, max_side))
        if image.mode == "1":
            path = target.with_suffix(".png")
            image.save(path, "PNG")
        else:
            path = target.with_suffix(".jpg")
            image.convert("L" if image.mode in {"L", "I;16", "I"} else "RGB").save(
                path, "JPEG", quality=80
            )
    return path
