"""Documents from scanned pages: sniffing, lossless PDF, bilevel CCITT, image files."""

from __future__ import annotations

from dataclasses import dataclass
import io
from pathlib import Path
import struct
import zlib

import pikepdf
from PIL import Image, ImageChops, ImageDraw
import pytest

from custom_components.wsd_scan.wsd import ErrorKind, WsdError
from custom_components.wsd_scan.wsd.document import (
    assemble,
    async_assemble,
    preview_page,
    sniff_image_format,
)
from custom_components.wsd_scan.wsd.models import DocumentFormat, ImageFormat


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
    """A missing page file is an OSError, not a claim that the device sent garbage."""
    png = save(page_image(1), tmp_path / "page.png", "PNG")
    with pytest.raises(FileNotFoundError):
        assemble([png], tmp_path / "missing-dir", "scan", DocumentFormat.PDF)


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
