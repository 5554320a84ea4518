"""Scanned pages → documents: format sniffing, PDF assembly, image files.

Pages are files (one per RetrieveImage, as `mtom.read_mtom` wrote them) and outputs are new
files; the page files are left as they are. Sniffing trusts the bytes, never the device's
word (the Pantum M7100DN says PNG and sends JPEG, sa#281).

- PDF: one page per page file, in order. JPEG pages are embedded unchanged (img2pdf copies
  the device's bytes into a DCTDecode stream), PNG and TIFF losslessly, bilevel pages as
  CCITT Group 4, PDF pages (e.g. a Kyocera pdf-a "page") merged as they are. Memory stays
  bounded whatever the number of pages (img2pdf gets a few pages at a time, qpdf merges).
- JPEG / PNG / TIFF: one file per page; a page already in that format is copied unchanged,
  others are converted with Pillow (a BMP/DIB page becomes PNG when PNG is asked for).
  PNG and TIFF files say their resolution (the page's own, else the scan's).
- Colour: a device may ignore the colour mode asked for and send colour pages; these are
  converted (gray: 8-bit gray; black and white: bilevel, CCITT Group 4 in PDFs).
- Previews: a downscaled JPEG (PNG for bilevel pages) of a page that any browser shows.

Pages are decoded one at a time, JPEG pages at a reduced scale where the output allows.

The work is CPU- and disk-bound: `assemble` is synchronous for an executor, and
`async_assemble` runs it in the event loop's default executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
import io
import json
import math
from pathlib import Path
import shutil
import struct
import tempfile
from typing import Final
import zlib

import img2pdf
import pikepdf
from PIL import BmpImagePlugin, Image

from .exceptions import ErrorKind, WsdError
from .models import ColorMode, DocumentFormat, ImageFormat

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
#: Bytes of image pages img2pdf gets at a time (it holds them, and the PDF it writes, in
#: memory): what bounds the memory a PDF takes, whatever its number of pages.
_RUN_BYTES: Final = 4 * 2**20
#: How far into a JPEG its first scan must start for the page to be streamed from its
#: file (headers hold EXIF data, thumbnails, ICC profiles: usually a few kB).
_JPEG_HEADER_BYTES: Final = 64 * 2**10
_START_OF_SCAN: Final = 0xDA
#: The lowest resolution (dpi) a page can truly have.
_MIN_RESOLUTION: Final = 50
#: Pillow modes of pages without colour.
_GRAY_MODES: Final = frozenset({"1", "L", "LA", "I", "I;16", "F"})
#: Black and white is a threshold at half intensity, as scanners make it: a dither would
#: turn text edges and gray areas into dots.
_NO_DITHER: Final = Image.Dither.NONE
#: The PNG signature and IHDR chunk, which every PNG starts with.
_PNG_HEADER_SIZE: Final = 8 + 25


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
    color: ColorMode = ColorMode.COLOR,
    on_color_converted: Callable[[ColorMode], None] | None = None,
) -> list[Path]:
    """Write the pages as `directory/stem.pdf`, or as one image file per page.

    Image files are named `stem.<ext>` for a single page, else `stem-001.<ext>`, ….
    `resolution` (dpi) sizes PDF pages and is the resolution PNG, TIFF and JPEG files
    carry, for images that do not say their own. Image pages in colour when `color` asked
    for gray or black and white become what was asked for (PDF pages stay as they are);
    `on_color_converted` is then called (in this thread) with the mode they came in.
    Raises `WsdError` (PROTOCOL) for a page that is no readable image, UNSUPPORTED for
    a PDF page asked to become an image. Blocking: run it in an executor (see
    `async_assemble`).
    """
    if not pages:
        raise WsdError(ErrorKind.INVALID_ARGUMENT, "a document needs at least one page")
    colors = _ColorTarget(color, on_color_converted)
    formats = [sniff_image_format(_read_head(page)) for page in pages]
    if document_format is DocumentFormat.PDF:
        target = directory / f"{stem}.pdf"
        _write_pdf(
            list(zip(pages, formats, strict=True)), target, resolution, title, colors
        )
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
        _write_image(
            page,
            page_format,
            target,
            document_format,
            number=number,
            resolution=resolution,
            colors=colors,
        )
    return targets


async def async_assemble(
    pages: Sequence[Path],
    directory: Path,
    stem: str,
    document_format: DocumentFormat,
    *,
    resolution: int | None = None,
    title: str | None = None,
    color: ColorMode = ColorMode.COLOR,
    on_color_converted: Callable[[ColorMode], None] | None = None,
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
            color=color,
            on_color_converted=on_color_converted,
        ),
    )


class _ColorTarget:
    """The colour mode asked for, and what makes a page in another mode match it."""

    def __init__(
        self, color: ColorMode, on_converted: Callable[[ColorMode], None] | None
    ) -> None:
        self.color = color
        self._on_converted = on_converted

    def mode_for(self, path: Path, image_format: ImageFormat) -> str | None:
        """Return the Pillow mode the page must become ("L", "1"), None if it matches.

        Reads only the image's header; tells `on_converted` when the page is converted.
        """
        if self.color is ColorMode.COLOR or image_format is ImageFormat.PDF:
            return None
        with _open_image(path, image_format, load=False) as image:
            delivered = image.mode
        if delivered == "1" or (
            self.color is ColorMode.GRAY and delivered in _GRAY_MODES
        ):
            return None
        if self._on_converted is not None:
            self._on_converted(
                ColorMode.GRAY if delivered in _GRAY_MODES else ColorMode.COLOR
            )
        return "1" if self.color is ColorMode.BW else "L"

    @staticmethod
    def convert(path: Path, image_format: ImageFormat, mode: str) -> Image.Image:
        """Decode the page in (or near) `mode` and return it converted to `mode`.

        JPEG pages are decoded as gray directly (libjpeg keeps the luma channel).
        """
        image = _open_image(path, image_format, draft_mode="L")
        if image.mode == mode:
            return image
        with image:
            gray = image if image.mode == "L" else image.convert("L")
            return gray if mode == "L" else gray.convert(mode, dither=_NO_DITHER)


@dataclass(frozen=True, slots=True)
class _PdfPage:
    """A page of a PDF to write, and what img2pdf gets for it."""

    path: Path
    image_format: ImageFormat
    #: The colour mode it must become, if any.
    mode: str | None
    #: A JPEG page embedded as it is: its segments up to the first scan, all img2pdf
    #: reads of it (size, colours, resolution, orientation). qpdf takes the image data
    #: from the page file when it writes the document.
    jpeg_header: bytes | None
    #: How many bytes img2pdf holds for it: the header, the file, or about as many.
    size: int


def _write_pdf(
    pages: list[tuple[Path, ImageFormat]],
    target: Path,
    resolution: int | None,
    title: str | None,
    colors: _ColorTarget,
) -> None:
    """Write the PDF in memory that does not grow with the number of pages.

    img2pdf holds the pages it is given, and what it writes, in memory: it gets runs of
    at most `_RUN_BYTES`, each written to a PDF of its own, and JPEG pages only as
    their headers. qpdf merges these runs and PDF pages (reading each stream from its
    file as it writes), then writes the document with the JPEG pages' image data
    streamed from their files: the bytes of a JPEG page are read and written once.
    What it leaves on failure is removed with the scratch folder.
    """
    planned = [
        _plan_pdf_page(path, image_format, colors) for path, image_format in pages
    ]
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        sources = []
        # The JPEG pages to stream from their files, by their index in the document.
        jpeg_files: dict[int, Path] = {}
        page_count = 0
        for number, run in enumerate(_runs(planned)):
            if run[0].image_format is ImageFormat.PDF:
                sources.append(run[0].path)
                page_count += _count_pdf_pages(run[0].path)
                continue
            sources.append(Path(scratch, f"part-{number}.pdf"))
            _images_to_pdf(run, sources[-1], resolution, title)
            for page in run:
                if page.jpeg_header is not None:
                    jpeg_files[page_count] = page.path
                page_count += 1
        merged = sources[0]
        if len(sources) > 1 or planned[0].image_format is ImageFormat.PDF:
            merged = Path(scratch, "merged.pdf")
            _merge(
                sources,
                merged,
                with_info=planned[0].image_format is not ImageFormat.PDF,
            )
        document = Path(scratch, "document.pdf")
        with pikepdf.open(merged) as pdf:
            if title is not None:
                pdf.docinfo["/Title"] = title
            _stream_jpeg_pages(pdf, jpeg_files)
            # Streams are copied as they are: qpdf would decode and compress them again
            # (Flate ones, uncompressed ones), and it takes time to consider even JPEG.
            pdf.save(
                document,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                compress_streams=False,
            )
        document.replace(target)


def _plan_pdf_page(
    path: Path, image_format: ImageFormat, colors: _ColorTarget
) -> _PdfPage:
    if image_format is ImageFormat.UNKNOWN:
        raise WsdError(ErrorKind.PROTOCOL, f"page {path.name} is not an image")
    mode = colors.mode_for(path, image_format)
    header = (
        _jpeg_header(path)
        if image_format is ImageFormat.JPEG and mode is None
        else None
    )
    size = path.stat().st_size if header is None else len(header)
    return _PdfPage(path, image_format, mode, header, size)


def _jpeg_header(path: Path) -> bytes | None:
    """Return a JPEG's segments up to its first scan.

    None if they do not end within `_JPEG_HEADER_BYTES` (img2pdf then reads the file).
    """
    with path.open("rb") as file:
        head = file.read(_JPEG_HEADER_BYTES)
    offset = 2  # after the start-of-image marker
    while offset + 4 <= len(head) and head[offset] == 0xFF:
        marker = head[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        offset += 2 + int.from_bytes(head[offset + 2 : offset + 4], "big")
        if marker == _START_OF_SCAN:
            return head[:offset] if offset <= len(head) else None
    return None


def _runs(pages: list[_PdfPage]) -> list[list[_PdfPage]]:
    """Split the pages into runs: image pages up to `_RUN_BYTES`, each PDF page alone."""
    runs: list[list[_PdfPage]] = []
    run_bytes = 0
    for page in pages:
        if (
            runs
            and page.image_format is not ImageFormat.PDF
            and runs[-1][0].image_format is not ImageFormat.PDF
            and run_bytes + page.size <= _RUN_BYTES
        ):
            runs[-1].append(page)
            run_bytes += page.size
        else:
            runs.append([page])
            run_bytes = page.size
    return runs


def _count_pdf_pages(path: Path) -> int:
    """Return how many pages a PDF "page" holds; `WsdError` (PROTOCOL) if it is broken."""
    try:
        with pikepdf.open(path) as pdf:
            return len(pdf.pages)
    except pikepdf.PdfError as err:
        raise WsdError(
            ErrorKind.PROTOCOL, f"unreadable PDF page {path.name}: {err}"
        ) from err


def _merge(sources: list[Path], target: Path, *, with_info: bool) -> None:
    """Merge PDFs with qpdf, which reads each stream from its file as it writes.

    pikepdf's page copying would read them all into memory first. The document
    information (title, dates) is the first file's `with_info` (img2pdf's), else none
    (not a device's).
    """
    pikepdf.Job(
        [
            "qpdf",
            str(sources[0]) if with_info else "--empty",
            "--pages",
            *map(str, sources),
            "--",
            "--stream-data=preserve",
            "--no-warn",
            str(target),
        ]
    ).run()


def _stream_jpeg_pages(pdf: pikepdf.Pdf, jpeg_files: dict[int, Path]) -> None:
    """Have qpdf take JPEG pages' image data from their files when it writes `pdf`.

    Through qpdf JSON, whose "datafile" names the file a stream's data is read from.
    """
    streams = {}
    for index, path in jpeg_files.items():
        (image,) = pdf.pages[index].get_images().values()
        assert isinstance(image, pikepdf.Stream)
        number, generation = image.objgen
        dictionary = json.loads(image.stream_dict.to_json(schema_version=2))
        del dictionary["/Length"]  # qpdf counts the file's bytes
        streams[f"obj:{number} {generation} R"] = {
            "stream": {"dict": dictionary, "datafile": str(path)}
        }
    if streams:
        update = {"qpdf": [{"jsonversion": 2}, streams]}
        pdf.update_from_qpdf_json(io.BytesIO(json.dumps(update).encode()))


def _images_to_pdf(
    pages: list[_PdfPage], target: Path, resolution: int | None, title: str | None
) -> None:
    """Write image pages as one PDF with img2pdf (lossless; JPEG bytes unchanged)."""
    layout = (
        img2pdf.default_layout_fun
        if resolution is None
        else img2pdf.get_fixed_dpi_layout_fun((resolution, resolution))
    )
    inputs = [_pdf_input(page) for page in pages]
    document = None
    try:
        # The internal engine writes the file directly; pikepdf's linearises it, slower.
        document = img2pdf.convert_to_docobject(
            *inputs, engine=img2pdf.Engine.internal, layout_fun=layout, title=title
        )
        with target.open("wb") as output:
            document.tostream(output)
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
    finally:
        if document is not None:
            # Its page tree is a reference cycle (pages and their parent) that holds the
            # images until a full garbage collection: broken here, the run's memory is
            # free as soon as it is written.
            document.writer.pages.content[b"/Kids"].clear()


def _pdf_input(page: _PdfPage) -> str | bytes:
    """Return what img2pdf gets for a page: its JPEG header, the file, or a re-encoding.

    img2pdf embeds JPEG and PNG data as they are and turns bilevel TIFF/BMP frames into
    CCITT Group 4 itself; bilevel PNGs (which it would keep as Flate) and headerless DIBs
    (which it cannot open) go through Pillow first, losslessly, and so do pages that
    must change colour mode.
    """
    if page.jpeg_header is not None:
        return page.jpeg_header
    if page.mode is not None:
        with _ColorTarget.convert(page.path, page.image_format, page.mode) as image:
            return _encoded_bytes(image)
    if page.image_format is ImageFormat.BMP or (
        page.image_format is ImageFormat.PNG and _is_bilevel_png(page.path)
    ):
        with _open_image(page.path, page.image_format) as image:
            return _encoded_bytes(image)
    return str(page.path)


def _is_bilevel_png(path: Path) -> bool:
    """Whether the PNG's header says 1-bit greyscale (bit depth, colour type at 24, 25)."""
    return _read_head(path)[24:26] == b"\x01\x00"


def _encoded_bytes(image: Image.Image) -> bytes:
    """Encode a page for img2pdf: Group 4 TIFF if bilevel, JPEG if decoded from one, else PNG.

    A JPEG page (turned gray) is encoded again with the device's own quantisation tables:
    as a PNG, a scan's noise would take several times the size.
    """
    buffer = io.BytesIO()
    _save(image, buffer, _encoding_format(image), None)
    return buffer.getvalue()


def _encoding_format(image: Image.Image) -> str:
    if image.mode == "1":
        return "TIFF"
    return "JPEG" if _is_jpeg(image) else "PNG"


def _is_jpeg(image: Image.Image) -> bool:
    return image.format == "JPEG"


def _save(
    image: Image.Image,
    target: Path | io.BytesIO,
    image_format: str,
    resolution: int | None,
) -> None:
    """Save a page in one of the formats we write, with the page's or scan's dpi."""
    dpi = _own_resolution(image) or (resolution and (resolution, resolution))
    options: dict[str, object] = {"dpi": dpi} if dpi else {}
    if image_format == "JPEG":
        if image.mode not in {"RGB", "L", "CMYK"}:
            image = image.convert("L" if image.mode == "1" else "RGB")
        # A page decoded from a JPEG keeps the device's quality; others get 90.
        image.save(target, "JPEG", quality="keep" if _is_jpeg(image) else 90, **options)
    elif image_format == "PNG":
        image.save(target, "PNG", compress_level=1, **options)
    elif image.mode == "1":
        # One strip: img2pdf embeds such a Group 4 image as it is; of several strips
        # it decodes and encodes each page again.
        image.save(target, "TIFF", compression="group4", strip_size=2**31, **options)
    else:
        image.save(target, "TIFF", compression="tiff_deflate", **options)


def _open_image(
    path: Path,
    image_format: ImageFormat,
    *,
    fit: int | None = None,
    draft_mode: str | None = None,
    load: bool = True,
) -> Image.Image:
    """Open a page with Pillow, including DIBs without a file header.

    With `fit` (pixels), a JPEG decoder may skip detail the image shrunk to fit that
    square would not show (previews): it decodes at 1/2, 1/4 or 1/8 scale. With
    `draft_mode`, a JPEG decoder may decode straight into that mode. Without `load`, only
    the header is read.
    """
    try:
        if image_format is ImageFormat.BMP and not _read_head(path).startswith(b"BM"):
            image: Image.Image = BmpImagePlugin.DibImageFile(path)
        else:
            image = Image.open(path)
        if fit is not None and (scale := fit / max(image.size)) < 1:
            width, height = image.size
            image.draft(
                draft_mode, (math.ceil(width * scale), math.ceil(height * scale))
            )
        elif draft_mode is not None:
            image.draft(draft_mode, None)
        if load:
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


def _own_resolution(image: Image.Image) -> tuple[float, float] | None:
    """Return the resolution an image says it has; below any scanner's, it says none.

    (TIFF files made without one say 1 dpi.)
    """
    dpi: tuple[float, float] | None = image.info.get("dpi")
    return dpi if dpi is not None and min(dpi) >= _MIN_RESOLUTION else None


def _copy_with_resolution(
    page: Path, page_format: ImageFormat, target: Path, resolution: int | None
) -> None:
    """Copy a page; a PNG or TIFF page that does not say its resolution gets the scan's.

    A PNG gets a pHYs chunk after its header (pixels untouched); a TIFF is rewritten
    (losslessly: Group 4 or Deflate).
    """
    if resolution is not None and page_format is not ImageFormat.JPEG:
        with _open_image(page, page_format, load=False) as image:
            says_resolution = _own_resolution(image) or "aspect" in image.info
        if not says_resolution and page_format is ImageFormat.PNG:
            _copy_png_with_resolution(page, target, resolution)
            return
        if not says_resolution:
            with _open_image(page, page_format) as image:
                _save(image, target, page_format.name, resolution)
            return
    shutil.copyfile(page, target)


def _copy_png_with_resolution(page: Path, target: Path, resolution: int) -> None:
    """Copy a PNG, adding a pHYs chunk (pixels per metre) after its IHDR chunk."""
    pixels_per_metre = round(resolution / 0.0254)
    data = struct.pack(">IIB", pixels_per_metre, pixels_per_metre, 1)
    chunk = (
        struct.pack(">I", len(data))
        + b"pHYs"
        + data
        + struct.pack(">I", zlib.crc32(b"pHYs" + data))
    )
    with page.open("rb") as source, target.open("wb") as output:
        output.write(source.read(_PNG_HEADER_SIZE) + chunk)
        shutil.copyfileobj(source, output)


def _write_image(
    page: Path,
    page_format: ImageFormat,
    target: Path,
    document_format: DocumentFormat,
    *,
    number: int,
    resolution: int | None,
    colors: _ColorTarget,
) -> None:
    """Store one page as `target`: copied if already what was asked, else converted."""
    if page_format is ImageFormat.PDF:
        raise WsdError(
            ErrorKind.UNSUPPORTED,
            f"page {number} is a PDF and cannot become {document_format.value.upper()}",
        )
    mode = colors.mode_for(page, page_format)
    if mode is None and page_format is document_format.image_format:
        _copy_with_resolution(page, page_format, target, resolution)
        return
    with (
        _open_image(page, page_format)
        if mode is None
        else colors.convert(page, page_format, mode)
    ) as image:
        _save(image, target, document_format.image_format.name, resolution)


def preview_page(
    page: Path,
    target: Path,
    max_side: int = PREVIEW_SIZE,
    *,
    color: ColorMode = ColorMode.COLOR,
) -> Path | None:
    """Write a browser-viewable preview of a page: `target` with .jpg, or .png if bilevel.

    The page is shrunk to fit `max_side` (JPEG pages are decoded at a reduced scale, so
    large pages cost little), in the colour mode `color` asks for, as `assemble` stores
    it. Returns the file written, or None for a PDF page (nothing here renders PDF).
    Raises `WsdError` (PROTOCOL) for a page that is no readable image. Blocking: run it
    in an executor.
    """
    page_format = sniff_image_format(_read_head(page))
    if page_format is ImageFormat.PDF:
        return None
    if page_format is ImageFormat.UNKNOWN:
        raise WsdError(ErrorKind.PROTOCOL, f"page {page.name} is not an image")
    mode = _ColorTarget(color, None).mode_for(page, page_format)
    with _open_image(
        page, page_format, fit=max_side, draft_mode=mode and "L"
    ) as decoded:
        decoded.thumbnail((max_side, max_side))
        image = decoded if mode is None else decoded.convert(mode, dither=_NO_DITHER)
        if image.mode == "1":
            path = target.with_suffix(".png")
            image.save(path, "PNG")
        else:
            path = target.with_suffix(".jpg")
            image.convert("L" if image.mode in _GRAY_MODES else "RGB").save(
                path, "JPEG", quality=80
            )
    return path


def decode_gray(page: Path, max_side: int) -> Image.Image | None:
    """Decode a page as 8-bit gray, shrunk to fit `max_side` (for looking at its content).

    JPEG pages are decoded at a reduced scale straight into gray, as previews are.
    Returns None for a PDF page (nothing here renders PDF). Raises `WsdError` (PROTOCOL)
    for a page that is no readable image. Blocking: run it in an executor.
    """
    page_format = sniff_image_format(_read_head(page))
    if page_format is ImageFormat.PDF:
        return None
    if page_format is ImageFormat.UNKNOWN:
        raise WsdError(ErrorKind.PROTOCOL, f"page {page.name} is not an image")
    with _open_image(page, page_format, fit=max_side, draft_mode="L") as decoded:
        decoded.thumbnail((max_side, max_side))
        return decoded.convert("L")


def interleave_backs[Page](fronts: Sequence[Page], backs: Sequence[Page]) -> list[Page]:
    """Put the backs of a turned-over stack between its fronts: a duplex document.

    The turned stack is fed last sheet first, so the backs come in reverse order:
    front 1, back n, front 2, back n-1, …. Raises `WsdError` (INVALID_ARGUMENT) when
    the passes have different numbers of pages.
    """
    if len(fronts) != len(backs):
        raise WsdError(
            ErrorKind.INVALID_ARGUMENT,
            f"{len(fronts)} fronts and {len(backs)} backs",
        )
    return [page for pair in zip(fronts, reversed(backs), strict=True) for page in pair]


#: EXIF orientations turned by half a turn (the mirrored ones stay mirrored).
_HALF_TURN: Final = {1: 3, 3: 1, 2: 4, 4: 2, 5: 7, 7: 5, 6: 8, 8: 6}
_EXIF_ORIENTATION: Final = 0x0112
_APP0: Final = 0xE0
_APP1: Final = 0xE1


def turn_upside_down(path: Path, pdf_pages: Sequence[int] | None = None) -> None:
    """Turn a page file, or pages of a PDF, by 180°, losslessly.

    A PDF's pages (`pdf_pages`: their indices, all when None) get a /Rotate, whatever
    images they hold. A JPEG gets the EXIF orientation a half turn from its own (its
    image data is not touched: viewers and PDF writers turn it). PNG, TIFF and BMP are
    decoded and written again, turned: they are lossless formats. Raises `WsdError`
    (PROTOCOL) for a file that is no readable image. Blocking: run it in an executor.
    """
    image_format = sniff_image_format(_read_head(path))
    turned = path.with_name(f".{path.name}.turned")
    try:
        if image_format is ImageFormat.PDF:
            _turn_pdf(path, turned, pdf_pages)
        elif image_format is ImageFormat.JPEG:
            _turn_jpeg(path, turned)
        else:
            if image_format is ImageFormat.UNKNOWN:
                raise WsdError(ErrorKind.PROTOCOL, f"page {path.name} is not an image")
            with _open_image(path, image_format) as image:
                upside_down = image.transpose(Image.Transpose.ROTATE_180)
                if image_format is ImageFormat.BMP:
                    upside_down.save(turned, "BMP")
                else:
                    _save(upside_down, turned, image_format.name, None)
        turned.replace(path)
    finally:
        turned.unlink(missing_ok=True)


def _turn_pdf(path: Path, target: Path, pages: Sequence[int] | None) -> None:
    try:
        with pikepdf.open(path) as pdf:
            for index in range(len(pdf.pages)) if pages is None else pages:
                pdf.pages[index].rotate(180, relative=True)
            pdf.save(
                target,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                compress_streams=False,
            )
    except pikepdf.PdfError as err:
        raise WsdError(
            ErrorKind.PROTOCOL, f"unreadable PDF {path.name}: {err}"
        ) from err


def _turn_jpeg(path: Path, target: Path) -> None:
    """Copy a JPEG with its EXIF orientation a half turn on; the rest byte for byte."""
    with _open_image(path, ImageFormat.JPEG, load=False) as image:
        exif = image.getexif()
    exif[_EXIF_ORIENTATION] = _HALF_TURN.get(exif.get(_EXIF_ORIENTATION, 1), 3)
    app1 = exif.tobytes()
    with path.open("rb") as source, target.open("wb") as output:
        head = source.read(_JPEG_HEADER_BYTES)
        output.write(head[:2])
        offset = 2
        written_exif = False
        # Segments up to the first scan: the old EXIF segment is left out, the new one
        # follows a JFIF APP0 (which must come first).
        while offset + 4 <= len(head) and head[offset] == 0xFF:
            marker = head[offset + 1]
            if marker == 0xFF:  # fill byte
                offset += 1
                continue
            end = offset + 2 + int.from_bytes(head[offset + 2 : offset + 4], "big")
            if marker != _APP0 and not written_exif:
                output.write(b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1)
                written_exif = True
            if marker == _START_OF_SCAN or end > len(head):
                break
            if not (marker == _APP1 and head[offset + 4 : offset + 10] == b"Exif\0\0"):
                output.write(head[offset:end])
            offset = end
        output.write(head[offset:])
        shutil.copyfileobj(source, output)
