"""Documents from scanned pages: sniffing, lossless PDF, bilevel CCITT, image files."""

from __future__ import annotations

from dataclasses import dataclass
import errno
import io
from pathlib import Path
import random
import shutil
import struct
import zlib

import pikepdf
from PIL import Image, ImageChops, ImageDraw, ImageOps, ImageStat
import pytest

from custom_components.wsd_scan.wsd import ErrorKind, WsdError, document
from custom_components.wsd_scan.wsd.document import (
    assemble,
    async_assemble,
    interleave_backs,
    preview_page,
    sniff_image_format,
)
from custom_components.wsd_scan.wsd.models import ColorMode, DocumentFormat, ImageFormat


def page_image(
    number: int, mode: str = "RGB", size: tuple[int, int] = (160, 220)
) -> Image.Image:
    """Return a page that shows its number, so order and pixels can be checked."""
    image = Image.new("RGB", (size[0] + number, size[1]), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 60 + 10 * number, 40), fill=(200, 30 * number % 255, 40))
    draw.text((20, 100), f"page {number}", fill="black")
    return image.convert(mode)


def save(image: Image.Image, path: Path, image_format: str, **options: object) -> Path:
    """Save `image` to `path` and return the path."""
    image.save(path, image_format, **options)
    return path


def dib(image: Image.Image, path: Path) -> Path:
    """Write a DIB: a BMP without its 14-byte file header (WS-Scan's "dib" format)."""
    buffer = io.BytesIO()
    image.save(buffer, "BMP")
    path.write_bytes(buffer.getvalue()[14:])
    return path


@dataclass(frozen=True)
class EmbeddedImage:
    """An image XObject of a PDF page, read out while the PDF was open."""

    filter: str
    raw: bytes
    width: int
    pixels: Image.Image


def pdf_images(path: Path) -> list[EmbeddedImage]:
    """Return the image of each page of a PDF, in page order."""
    with pikepdf.open(path) as pdf:
        images = []
        for page in pdf.pages:
            (image,) = page.get_images().values()
            assert isinstance(image, pikepdf.Stream)
            filters = image.Filter
            images.append(
                EmbeddedImage(
                    filter=str(
                        filters[0] if isinstance(filters, pikepdf.Array) else filters
                    ),
                    raw=image.read_raw_bytes(),
                    width=int(image.Width),
                    pixels=pikepdf.PdfImage(image).as_pil_image(),
                )
            )
        return images


def same_pixels(first: Image.Image, second: Image.Image) -> bool:
    """Whether two images are pixel-identical."""
    return (
        first.size == second.size
        and not ImageChops.difference(
            first.convert("RGB"), second.convert("RGB")
        ).getbbox()
    )


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", ImageFormat.JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00", ImageFormat.PNG),
        (b"II*\x00\x08\x00\x00\x00", ImageFormat.TIFF),
        (b"MM\x00*\x00\x00\x00\x08", ImageFormat.TIFF),
        (b"II+\x00\x08\x00\x00\x00", ImageFormat.TIFF),
        (b"BM6\x00\x00\x00", ImageFormat.BMP),
        ((40).to_bytes(4, "little") + bytes(8) + b"\x01\x00\x18\x00", ImageFormat.BMP),
        (
            (12).to_bytes(4, "little") + bytes(4) + b"\x01\x00\x18\x00\x00\x00",
            ImageFormat.BMP,
        ),
        (
            (40).to_bytes(4, "little") + bytes(8) + b"\x02\x00\x18\x00",
            ImageFormat.UNKNOWN,
        ),
        (b"%PDF-1.4\n", ImageFormat.PDF),
        (b"<html>", ImageFormat.UNKNOWN),
        (b"(\x00\x00\x00", ImageFormat.UNKNOWN),
        (b"", ImageFormat.UNKNOWN),
    ],
)
def test_sniff(head: bytes, expected: ImageFormat) -> None:
    """Formats come from magic numbers, DIBs from their info header."""
    assert sniff_image_format(head) is expected


def test_pdf_embeds_jpeg_bytes_unchanged(tmp_path: Path) -> None:
    """Each JPEG page's bytes are the PDF's DCT stream, in page order."""
    pages = [
        save(page_image(number), tmp_path / f"p{number}.bin", "JPEG", quality=70)
        for number in range(1, 4)
    ]
    (pdf,) = assemble(pages, tmp_path, "scan", DocumentFormat.PDF, title="Invoice")
    assert pdf == tmp_path / "scan.pdf"
    images = pdf_images(pdf)
    assert [image.filter for image in images] == ["/DCTDecode"] * 3
    assert [image.raw for image in images] == [p.read_bytes() for p in pages]
    with pikepdf.open(pdf) as document:
        assert str(document.docinfo["/Title"]) == "Invoice"


def test_pdf_page_size_from_resolution(tmp_path: Path) -> None:
    """Pages without their own dpi are sized by the scan resolution."""
    page = save(page_image(0, size=(600, 300)), tmp_path / "p.jpg", "JPEG")
    (pdf,) = assemble([page], tmp_path, "scan", DocumentFormat.PDF, resolution=300)
    with pikepdf.open(pdf) as document:
        assert [float(v) for v in document.pages[0].mediabox] == [0, 0, 144, 72]


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda image, path: save(image, path, "PNG"), id="png"),
        pytest.param(lambda image, path: save(image, path, "TIFF"), id="tiff"),
        pytest.param(
            lambda image, path: save(image, path, "TIFF", compression="group4"),
            id="tiff-g4",
        ),
        pytest.param(lambda image, path: save(image, path, "BMP"), id="bmp"),
        pytest.param(dib, id="dib"),
    ],
)
def test_pdf_bilevel_pages_are_ccitt(tmp_path: Path, write: object) -> None:
    """1-bit pages become CCITT Group 4 streams, losslessly."""
    source = page_image(1, "1")
    page = write(source, tmp_path / "page.bin")  # type: ignore[operator]
    (pdf,) = assemble([page], tmp_path, "scan", DocumentFormat.PDF)
    (image,) = pdf_images(pdf)
    assert image.filter == "/CCITTFaxDecode"
    assert same_pixels(image.pixels, source)


@pytest.mark.parametrize("mode", ["RGB", "L"])
@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda image, path: save(image, path, "PNG"), id="png"),
        pytest.param(lambda image, path: save(image, path, "TIFF"), id="tiff"),
        pytest.param(dib, id="dib"),
    ],
)
def test_pdf_lossless_pages(tmp_path: Path, write: object, mode: str) -> None:
    """PNG, TIFF and DIB pages keep their exact pixels in the PDF."""
    source = page_image(2, mode)
    page = write(source, tmp_path / "page.bin")  # type: ignore[operator]
    (pdf,) = assemble([page], tmp_path, "scan", DocumentFormat.PDF)
    (image,) = pdf_images(pdf)
    assert image.filter == "/FlateDecode"
    assert same_pixels(image.pixels, source)


@pytest.mark.parametrize("title", [None, "T"])
def test_pdf_merges_pdf_pages(tmp_path: Path, title: str | None) -> None:
    """PDF "pages" (a device's pdf-a output) keep their place among image pages."""
    two_pages = tmp_path / "two.pdf"
    page_image(10).save(two_pages, "PDF", save_all=True, append_images=[page_image(11)])
    one_page = tmp_path / "one.pdf"
    page_image(13).save(one_page, "PDF")
    jpeg = save(page_image(12), tmp_path / "p.jpg", "JPEG")
    out = tmp_path / "out"
    out.mkdir()
    (pdf,) = assemble(
        [two_pages, jpeg, one_page], out, "scan", DocumentFormat.PDF, title=title
    )
    images = pdf_images(pdf)
    assert [image.width for image in images] == [170, 171, 172, 173]
    assert images[2].raw == jpeg.read_bytes()
    with pikepdf.open(pdf) as document:
        assert document.docinfo.get("/Title") == title
    assert list(out.iterdir()) == [pdf]  # no scratch files left


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an image at all", "is not an image"),
        (b"II*\x00" + bytes(40), "not a usable image"),
        (b"BM" + bytes(60), "not a readable image"),
    ],
)
def test_pdf_refuses_broken_pages(tmp_path: Path, content: bytes, message: str) -> None:
    """A page that is no image fails with PROTOCOL and leaves no PDF behind."""
    good = save(page_image(1), tmp_path / "good.jpg", "JPEG")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(content)
    with pytest.raises(WsdError, match=message) as caught:
        assemble([good, bad], tmp_path, "scan", DocumentFormat.PDF)
    assert caught.value.kind is ErrorKind.PROTOCOL
    assert not (tmp_path / "scan.pdf").exists()


def test_pdf_refuses_broken_pdf_page(tmp_path: Path) -> None:
    """A PDF page that does not parse fails with PROTOCOL."""
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\ngarbage")
    with pytest.raises(WsdError, match="unreadable PDF page") as caught:
        assemble([bad], tmp_path, "scan", DocumentFormat.PDF)
    assert caught.value.kind is ErrorKind.PROTOCOL


def test_no_pages(tmp_path: Path) -> None:
    """A document needs pages."""
    with pytest.raises(WsdError) as caught:
        assemble([], tmp_path, "scan", DocumentFormat.PDF)
    assert caught.value.kind is ErrorKind.INVALID_ARGUMENT


def test_images_in_their_format_are_copied(tmp_path: Path) -> None:
    """Pages already in the asked format are stored byte-identical, one file each."""
    pages = [save(page_image(n), tmp_path / f"in{n}", "JPEG") for n in (1, 2, 3)]
    files = assemble(pages, tmp_path, "scan", DocumentFormat.JPEG)
    assert [f.name for f in files] == ["scan-001.jpg", "scan-002.jpg", "scan-003.jpg"]
    assert [f.read_bytes() for f in files] == [p.read_bytes() for p in pages]


@pytest.mark.parametrize(
    ("mode", "write"),
    [
        ("RGB", lambda image, path: save(image, path, "BMP")),
        ("1", lambda image, path: save(image, path, "BMP")),
        ("RGB", dib),
        ("L", lambda image, path: save(image, path, "TIFF")),
    ],
)
def test_bitmaps_become_png(tmp_path: Path, mode: str, write: object) -> None:
    """BMP/DIB (and TIFF) pages stored as PNG keep their pixels."""
    source = page_image(4, mode)
    page = write(source, tmp_path / "page.bin")  # type: ignore[operator]
    (stored,) = assemble([page], tmp_path, "scan", DocumentFormat.PNG)
    assert stored.name == "scan.png"
    assert sniff_image_format(stored.read_bytes()[:16]) is ImageFormat.PNG
    with Image.open(stored) as image:
        assert same_pixels(image, source)


@pytest.mark.parametrize("mode", ["RGB", "1", "P"])
def test_conversion_to_jpeg(tmp_path: Path, mode: str) -> None:
    """PNG pages asked for as JPEG are re-encoded."""
    page = save(page_image(5, mode), tmp_path / "page.bin", "PNG")
    (stored,) = assemble([page], tmp_path, "scan", DocumentFormat.JPEG)
    assert sniff_image_format(stored.read_bytes()[:16]) is ImageFormat.JPEG


@pytest.mark.parametrize(
    ("mode", "compression"), [("1", "group4"), ("RGB", "tiff_adobe_deflate")]
)
def test_conversion_to_tiff(tmp_path: Path, mode: str, compression: str) -> None:
    """TIFF output: Group 4 for bilevel pages, Deflate for the rest, pixels kept."""
    source = page_image(6, mode)
    page = save(source, tmp_path / "page.bin", "PNG")
    (stored,) = assemble([page], tmp_path, "scan", DocumentFormat.TIFF)
    with Image.open(stored) as image:
        assert image.info["compression"] == compression
        assert same_pixels(image, source)


def test_pdf_page_cannot_become_an_image(tmp_path: Path) -> None:
    """A PDF page asked for as JPEG is UNSUPPORTED."""
    page = tmp_path / "page.pdf"
    page_image(1).save(page, "PDF")
    with pytest.raises(WsdError) as caught:
        assemble([page], tmp_path, "scan", DocumentFormat.JPEG)
    assert caught.value.kind is ErrorKind.UNSUPPORTED


def test_truncated_page_is_reported(tmp_path: Path) -> None:
    """A truncated PNG (HP LaserJet MFP M130fw) is reported, not saved silently."""
    data = io.BytesIO()
    page_image(1).save(data, "PNG")
    page = tmp_path / "page.bin"
    page.write_bytes(data.getvalue()[: len(data.getvalue()) * 2 // 3])
    with pytest.raises(WsdError) as caught:
        assemble([page], tmp_path, "scan", DocumentFormat.JPEG)
    assert caught.value.kind is ErrorKind.PROTOCOL


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """Return one PNG chunk: length, type, data, CRC."""
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data))
    )


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    """A PNG header claiming 20000 x 20000 pixels is refused before decoding."""
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    page = tmp_path / "page.bin"
    page.write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", b"")
    )
    with pytest.raises(WsdError, match="decompression bomb") as caught:
        assemble([page], tmp_path, "scan", DocumentFormat.JPEG)
    assert caught.value.kind is ErrorKind.PROTOCOL


def test_system_errors_are_not_disguised(tmp_path: Path) -> None:
    """A missing folder is an OSError, not a claim that the device sent garbage."""
    png = save(page_image(1), tmp_path / "page.png", "PNG")
    with pytest.raises(FileNotFoundError):
        assemble([png], tmp_path / "missing-dir", "scan", DocumentFormat.PDF)


def test_read_errors_are_not_disguised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page the disk cannot read is an OSError, not a page that is no image."""
    page = save(page_image(1), tmp_path / "page.png", "PNG")

    def failing_open(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Image, "open", failing_open)
    with pytest.raises(OSError, match="Input/output error"):
        assemble([page], tmp_path, "scan", DocumentFormat.JPEG)


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    """Return a JPEG marker segment: the marker, its length, its payload."""
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(b"\xff", id="fill-byte"),
        pytest.param(jpeg_segment(0xEF, bytes(65000)), id="header-beyond-64-KiB"),
    ],
)
def test_pdf_keeps_unusual_jpeg_headers(tmp_path: Path, extra: bytes) -> None:
    """A fill byte before a marker, or headers longer than usual: still byte-identical."""
    original = save(page_image(1), tmp_path / "original.jpg", "JPEG").read_bytes()
    page = tmp_path / "page.jpg"
    page.write_bytes(original[:2] + extra + original[2:])
    other = save(page_image(2), tmp_path / "other.jpg", "JPEG")
    (pdf,) = assemble([page, other], tmp_path, "scan", DocumentFormat.PDF)
    assert raw_images(pdf) == [page.read_bytes(), other.read_bytes()]


async def test_async_assemble(tmp_path: Path) -> None:
    """The async wrapper runs the same work off the event loop."""
    pages = [save(page_image(n), tmp_path / f"in{n}", "JPEG") for n in (1, 2)]
    (pdf,) = await async_assemble(pages, tmp_path, "scan", DocumentFormat.PDF)
    assert [image.raw for image in pdf_images(pdf)] == [p.read_bytes() for p in pages]


@pytest.mark.parametrize(
    ("write", "mode", "suffix", "preview_mode"),
    [
        (lambda image, path: save(image, path, "JPEG"), "RGB", ".jpg", "RGB"),
        (lambda image, path: save(image, path, "PNG"), "L", ".jpg", "L"),
        (
            lambda image, path: save(image, path, "TIFF", compression="group4"),
            "1",
            ".png",
            "1",
        ),
        (dib, "RGB", ".jpg", "RGB"),
    ],
)
def test_preview_fits_the_size(
    tmp_path: Path, write: object, mode: str, suffix: str, preview_mode: str
) -> None:
    """A preview keeps the aspect ratio within the size; JPEG, or PNG for bilevel pages."""
    assert callable(write)
    page = write(page_image(1, mode, size=(400, 600)), tmp_path / "page.bin")
    preview = preview_page(page, tmp_path / "preview", max_side=120)
    assert preview == tmp_path / f"preview{suffix}"
    with Image.open(preview) as image:
        assert image.mode == preview_mode
        assert max(image.size) == 120
        # The aspect ratio is kept (to a pixel: JPEG pages are decoded downscaled).
        assert abs(image.size[0] - 401 * 120 / 600) <= 1


def test_preview_of_a_pdf_page_is_none(tmp_path: Path) -> None:
    """A PDF page has no preview (nothing renders PDF here); no file is written."""
    page = tmp_path / "page.pdf"
    page_image(1).save(page, "PDF")
    assert preview_page(page, tmp_path / "preview") is None
    assert not list(tmp_path.glob("preview*"))


def test_preview_of_garbage_is_refused(tmp_path: Path) -> None:
    """A page that is no image is PROTOCOL, as for documents."""
    page = tmp_path / "page.bin"
    page.write_bytes(b"not an image at all")
    with pytest.raises(WsdError) as caught:
        preview_page(page, tmp_path / "preview")
    assert caught.value.kind is ErrorKind.PROTOCOL


def raw_images(path: Path) -> list[bytes]:
    """Return the stream data of each page's image, as stored in the PDF."""
    with pikepdf.open(path) as pdf:
        return [
            next(iter(page.get_images().values())).read_raw_bytes()
            for page in pdf.pages
        ]


def proc_status(field: str) -> int:
    """Return a `/proc/self/status` field in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


#: What a PDF of any number of pages may add to the process's peak memory here.
MEMORY_BOUND = 40 * 2**20


def distinct_copies(original: Path, count: int) -> list[Path]:
    """Return `count` copies of a JPEG, each made distinct by a comment segment."""
    data = original.read_bytes()
    pages = []
    for number in range(count):
        page = original.with_name(f"page-{number:02d}.jpg")
        page.write_bytes(
            data[:2] + jpeg_segment(0xFE, f"page {number}".encode()) + data[2:]
        )
        pages.append(page)
    return pages


@pytest.mark.parametrize("page_format", ["JPEG", "PNG"])
def test_pdf_memory_does_not_grow_with_pages(tmp_path: Path, page_format: str) -> None:
    """A PDF of pages that would not fit the bound together stays within it, lossless.

    Peak RSS (VmHWM, reset through /proc/self/clear_refs) grows by less than the bound
    while 24 pages of ~4-6 MB each are assembled. JPEG pages keep their exact bytes;
    PNG pages go through img2pdf a few at a time.
    """
    noise = Image.frombytes(
        "RGB", (1400, 1400), random.Random(13).randbytes(1400 * 1400 * 3)
    )
    if page_format == "JPEG":
        pages = distinct_copies(
            save(noise, tmp_path / "noise.jpg", "JPEG", quality=100), 24
        )
    else:
        original = save(noise, tmp_path / "noise.png", "PNG", compress_level=0)
        pages = [
            shutil.copyfile(original, tmp_path / f"page-{n:02d}.png") for n in range(24)
        ]
    assert sum(page.stat().st_size for page in pages) > 2 * MEMORY_BOUND
    out = tmp_path / "out"
    out.mkdir()
    Path("/proc/self/clear_refs").write_text("5")
    before = proc_status("VmRSS")
    (pdf,) = assemble(pages, out, "scan", DocumentFormat.PDF, resolution=300, title="T")
    assert proc_status("VmHWM") - before < MEMORY_BOUND
    images = raw_images(pdf)
    assert len(images) == 24
    if page_format == "JPEG":
        assert images == [page.read_bytes() for page in pages]
    with pikepdf.open(pdf) as merged:
        assert str(merged.docinfo["/Title"]) == "T"
    assert list(out.iterdir()) == [pdf]


def test_pdf_in_runs_keeps_every_kind_of_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written one page per run, a PDF of mixed pages is the same as in one piece."""
    monkeypatch.setattr(document, "_RUN_BYTES", 1)
    jpeg = save(page_image(1), tmp_path / "p1.jpg", "JPEG")
    bilevel = save(page_image(2, "1"), tmp_path / "p2.png", "PNG")
    bitmap = dib(page_image(3), tmp_path / "p3.dib")
    device_pdf = tmp_path / "p4.pdf"
    page_image(4).save(device_pdf, "PDF")
    out = tmp_path / "out"
    out.mkdir()
    (pdf,) = assemble(
        [jpeg, bilevel, bitmap, device_pdf, jpeg], out, "scan", DocumentFormat.PDF
    )
    images = pdf_images(pdf)
    assert [image.width for image in images] == [161, 162, 163, 164, 161]
    assert [image.filter for image in images[:3]] == [
        "/DCTDecode",
        "/CCITTFaxDecode",
        "/FlateDecode",
    ]
    assert images[0].raw == images[4].raw == jpeg.read_bytes()
    assert same_pixels(images[1].pixels, page_image(2, "1"))
    assert same_pixels(images[2].pixels, page_image(3))
    assert list(out.iterdir()) == [pdf]


def test_pdf_failing_in_a_later_run_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad page after runs already written: PROTOCOL, and no file of the PDF left."""
    monkeypatch.setattr(document, "_RUN_BYTES", 1)
    good = save(page_image(1), tmp_path / "good.jpg", "JPEG")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff broken")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(WsdError) as caught:
        assemble([good, good, bad], out, "scan", DocumentFormat.PDF)
    assert caught.value.kind is ErrorKind.PROTOCOL
    assert list(out.iterdir()) == []


def colour_page() -> Image.Image:
    """Return a colour page whose colours are far from the black-and-white threshold."""
    image = Image.new("RGB", (240, 320), (250, 240, 120))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 200, 90), fill=(20, 20, 120))
    draw.rectangle((20, 150, 120, 300), fill=(200, 40, 40))
    draw.text((30, 110), "page", fill="black")
    return image


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """Return the mean absolute difference of two images' gray levels."""
    assert first.size == second.size
    difference = ImageChops.difference(first.convert("L"), second.convert("L"))
    return float(ImageStat.Stat(difference).mean[0])


def threshold(image: Image.Image) -> Image.Image:
    """Return black and white as a scanner makes it: gray levels cut at half."""
    return image.convert("L").convert("1", dither=Image.Dither.NONE)


@pytest.mark.parametrize(
    ("color", "page_format", "expected_filter", "expected"),
    [
        (ColorMode.GRAY, "JPEG", "/DCTDecode", lambda image: image.convert("L")),
        (ColorMode.GRAY, "PNG", "/FlateDecode", lambda image: image.convert("L")),
        (ColorMode.BW, "JPEG", "/CCITTFaxDecode", threshold),
        (ColorMode.BW, "PNG", "/CCITTFaxDecode", threshold),
    ],
)
def test_pdf_colour_pages_become_what_was_asked(
    tmp_path: Path,
    color: ColorMode,
    page_format: str,
    expected_filter: str,
    expected: object,
) -> None:
    """Gray or black and white asked, colour delivered: the PDF holds what was asked."""
    assert callable(expected)
    source = colour_page()
    page = save(source, tmp_path / "page.bin", page_format, quality=95)
    delivered: list[ColorMode] = []
    (pdf,) = assemble(
        [page],
        tmp_path,
        "scan",
        DocumentFormat.PDF,
        color=color,
        on_color_converted=delivered.append,
    )
    (image,) = pdf_images(pdf)
    assert delivered == [ColorMode.COLOR]
    assert image.filter == expected_filter
    assert image.pixels.mode == ("L" if color is ColorMode.GRAY else "1")
    # JPEG pages are decoded (gray straight from the luma channel) and encoded again.
    tolerance = 2.0 if page_format == "JPEG" else 0.0
    assert mean_difference(image.pixels, expected(source)) <= tolerance


@pytest.mark.parametrize(
    ("color", "mode", "page_format"),
    [
        (ColorMode.GRAY, "L", "JPEG"),
        (ColorMode.GRAY, "1", "PNG"),
        (ColorMode.BW, "1", "TIFF"),
        (ColorMode.COLOR, "RGB", "JPEG"),
    ],
)
def test_pages_in_the_asked_mode_are_kept(
    tmp_path: Path, color: ColorMode, mode: str, page_format: str
) -> None:
    """A page already in the mode asked for (or finer than asked) is not converted."""
    page = save(page_image(1, mode), tmp_path / "page.bin", page_format)
    delivered: list[ColorMode] = []
    (stored,) = assemble(
        [page],
        tmp_path,
        "scan",
        DocumentFormat(page_format.lower()),
        color=color,
        on_color_converted=delivered.append,
    )
    assert delivered == []
    assert stored.read_bytes() == page.read_bytes() or page_format == "TIFF"
    with Image.open(stored) as image:
        assert image.mode == mode


def test_pdf_pages_are_never_converted(tmp_path: Path) -> None:
    """A device's PDF page is merged as it is, whatever mode was asked."""
    device_pdf = tmp_path / "page.pdf"
    page_image(1).save(device_pdf, "PDF")
    jpeg = save(page_image(2), tmp_path / "p.jpg", "JPEG")
    delivered: list[ColorMode] = []
    (pdf,) = assemble(
        [device_pdf, jpeg],
        tmp_path,
        "scan",
        DocumentFormat.PDF,
        color=ColorMode.GRAY,
        on_color_converted=delivered.append,
    )
    assert delivered == [ColorMode.COLOR]
    assert [image.pixels.mode for image in pdf_images(pdf)] == ["RGB", "L"]


@pytest.mark.parametrize(
    ("color", "document_format", "mode"),
    [
        (ColorMode.GRAY, DocumentFormat.JPEG, "L"),
        (ColorMode.BW, DocumentFormat.JPEG, "L"),
        (ColorMode.GRAY, DocumentFormat.PNG, "L"),
        (ColorMode.BW, DocumentFormat.PNG, "1"),
        (ColorMode.BW, DocumentFormat.TIFF, "1"),
    ],
)
def test_image_files_become_what_was_asked(
    tmp_path: Path, color: ColorMode, document_format: DocumentFormat, mode: str
) -> None:
    """Colour JPEG pages stored as image files in the asked mode, with the resolution."""
    source = colour_page()
    page = save(source, tmp_path / "page.bin", "JPEG", quality=95)
    delivered: list[ColorMode] = []
    (stored,) = assemble(
        [page],
        tmp_path,
        "scan",
        document_format,
        resolution=200,
        color=color,
        on_color_converted=delivered.append,
    )
    assert delivered == [ColorMode.COLOR]
    with Image.open(stored) as image:
        assert image.format == document_format.image_format.name
        assert image.mode == mode
        assert mean_difference(image, threshold(source)) <= (
            2.0 if color is ColorMode.BW else 60.0
        )
        if document_format is not DocumentFormat.JPEG:
            assert image.info["dpi"] == pytest.approx((200, 200), abs=0.01)


@pytest.mark.parametrize("page_format", ["PNG", "TIFF"])
def test_image_files_carry_the_scan_resolution(
    tmp_path: Path, page_format: str
) -> None:
    """A PNG or TIFF file says its resolution: the scan's, if the page does not say one."""
    source = page_image(1)
    page = save(source, tmp_path / "page.bin", page_format)
    for document_format in (DocumentFormat.PNG, DocumentFormat.TIFF):
        (stored,) = assemble([page], tmp_path, "scan", document_format, resolution=300)
        with Image.open(stored) as image:
            assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
            assert same_pixels(image, source)


def test_png_copy_gets_only_a_resolution_chunk(tmp_path: Path) -> None:
    """A PNG page without a resolution is copied with a pHYs chunk added, nothing else."""
    page = save(page_image(1), tmp_path / "page.png", "PNG")
    (stored,) = assemble([page], tmp_path, "scan", DocumentFormat.PNG, resolution=300)
    data, original = stored.read_bytes(), page.read_bytes()
    # Signature and IHDR, then pHYs (4 length, 4 type, 9 data, 4 CRC), then the rest.
    assert data[:33] == original[:33]
    assert data[37:41] == b"pHYs"
    assert data[33 + 21 :] == original[33:]


@pytest.mark.parametrize("page_format", ["PNG", "TIFF"])
def test_page_resolution_wins(tmp_path: Path, page_format: str) -> None:
    """A page that says its own resolution is copied unchanged."""
    page = save(page_image(1), tmp_path / "page.bin", page_format, dpi=(150, 150))
    (stored,) = assemble(
        [page],
        tmp_path,
        "scan",
        DocumentFormat(page_format.lower()),
        resolution=300,
    )
    assert stored.read_bytes() == page.read_bytes()


@pytest.mark.parametrize(
    ("color", "suffix", "mode"),
    [(ColorMode.GRAY, ".jpg", "L"), (ColorMode.BW, ".png", "1")],
)
def test_preview_shows_the_asked_mode(
    tmp_path: Path, color: ColorMode, suffix: str, mode: str
) -> None:
    """The preview of a colour page shows it as stored: gray, or black and white."""
    page = save(colour_page(), tmp_path / "page.jpg", "JPEG")
    preview = preview_page(page, tmp_path / "preview", max_side=100, color=color)
    assert preview == tmp_path / f"preview{suffix}"
    with Image.open(preview) as image:
        assert image.mode == mode
        assert max(image.size) == 100


def test_interleave_backs() -> None:
    """The turned stack's backs come last sheet first: each goes after its front."""
    assert interleave_backs(["f1", "f2", "f3"], ["b3", "b2", "b1"]) == [
        "f1",
        "b1",
        "f2",
        "b2",
        "f3",
        "b3",
    ]
    with pytest.raises(WsdError) as err:
        interleave_backs(["f1", "f2"], ["b1"])
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT


def jpeg_scan_data(data: bytes) -> bytes:
    """Return a JPEG's bytes from its first scan on: its image data."""
    return data[data.index(b"\xff\xda") :]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(b"", id="plain"),
        pytest.param(b"\xff", id="fill-byte"),
        pytest.param(jpeg_segment(0xEF, bytes(65000)), id="header-beyond-64-KiB"),
    ],
)
def test_jpeg_is_turned_by_its_exif_orientation(tmp_path: Path, extra: bytes) -> None:
    """A JPEG turned: the EXIF orientation says so; its image data is unchanged."""
    original = save(page_image(1), tmp_path / "original.jpg", "JPEG", dpi=(300, 300))
    page = tmp_path / "page.jpg"
    page.write_bytes(original.read_bytes()[:2] + extra + original.read_bytes()[2:])

    document.turn_upside_down(page)
    assert jpeg_scan_data(page.read_bytes()) == jpeg_scan_data(original.read_bytes())
    with Image.open(page) as turned, Image.open(original) as upright:
        assert turned.getexif()[0x0112] == 3
        assert turned.info["dpi"] == (300, 300)
        shown = ImageOps.exif_transpose(turned)
        assert mean_difference(shown, upright.rotate(180)) < 2

    # Turned again, it is upright; still one EXIF segment.
    document.turn_upside_down(page)
    with Image.open(page) as image:
        assert image.getexif()[0x0112] == 1
    assert page.read_bytes().count(b"Exif\0\0") == 1
    assert not list(tmp_path.glob(".*"))


def test_jpeg_turn_keeps_its_exif(tmp_path: Path) -> None:
    """A JPEG with EXIF of its own (a mirrored orientation) keeps the rest of it."""
    exif = Image.Exif()
    exif[0x0112] = 2  # mirrored
    exif[0x010F] = "Scanner maker"
    page = save(page_image(1), tmp_path / "page.jpg", "JPEG", exif=exif)
    document.turn_upside_down(page)
    with Image.open(page) as image:
        assert image.getexif()[0x0112] == 4
        assert image.getexif()[0x010F] == "Scanner maker"


@pytest.mark.parametrize(
    ("image_format", "mode"),
    [("PNG", "RGB"), ("TIFF", "1"), ("TIFF", "L"), ("BMP", "RGB")],
)
def test_lossless_pages_are_turned_pixel_for_pixel(
    tmp_path: Path, image_format: str, mode: str
) -> None:
    """PNG, TIFF and BMP pages are written again turned: every pixel kept."""
    upright = page_image(1, mode)
    page = save(upright, tmp_path / "page", image_format)
    document.turn_upside_down(page)
    with Image.open(page) as turned:
        assert turned.format == image_format
        assert same_pixels(turned, upright.rotate(180))


def test_pdf_pages_get_a_rotation(tmp_path: Path) -> None:
    """The pages asked for (all, by default) get /Rotate; the images stay unchanged."""
    pages = [save(page_image(n), tmp_path / f"{n}.jpg", "JPEG") for n in (1, 2, 3)]
    (pdf,) = assemble(pages, tmp_path, "scan", DocumentFormat.PDF)
    before = raw_images(pdf)
    document.turn_upside_down(pdf, [1])
    with pikepdf.open(pdf) as opened:
        assert [page.obj.get("/Rotate") for page in opened.pages] == [None, 180, None]
    document.turn_upside_down(pdf)
    with pikepdf.open(pdf) as opened:
        assert [int(page.obj.get("/Rotate")) for page in opened.pages] == [180, 0, 180]
    assert raw_images(pdf) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"%PDF-1.4 broken", "unreadable PDF"), (b"garbage", "is not an image")],
)
def test_turning_unreadable_pages_is_refused(
    tmp_path: Path, content: bytes, message: str
) -> None:
    """A broken PDF or no image: a PROTOCOL error, the file left as it was."""
    page = tmp_path / "page"
    page.write_bytes(content)
    with pytest.raises(WsdError, match=message) as err:
        document.turn_upside_down(page)
    assert err.value.kind is ErrorKind.PROTOCOL
    assert page.read_bytes() == content
    assert not list(tmp_path.glob(".*"))
