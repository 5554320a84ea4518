"""Deterministic document-like page images, encoded in the WS-Scan formats.

Pages are drawn with Pillow (a frame, a heading with page number and side, lines of text)
at the ticket's pixel size and colour mode, and cached: many tests scan the same page.
`stream_huge_image` produces a valid uncompressed image of any size chunk by chunk, for
throughput tests, without holding it in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
import io
import struct

from PIL import Image, ImageDraw, ImageFont

MULTI_PAGE_FORMATS = frozenset(
    {
        "pdf-a",
        "xps",
        "tiff-multi-uncompressed",
        "tiff-multi-g4",
        "tiff-multi-g3mh",
        "tiff-multi-jpeg-tn2",
    }
)
MIME_TYPES = {
    "jfif": "image/jpeg",
    "exif": "image/jpeg",
    "png": "image/png",
    "dib": "image/bmp",
    "pdf-a": "application/pdf",
    "jpeg2k": "image/jp2",
}
RENDERABLE_FORMATS = frozenset(
    {"jfif", "exif", "png", "dib", "pdf-a"}
    | {
        f"tiff-{count}-{kind}"
        for count in ("single", "multi")
        for kind in ("uncompressed", "g4", "g3mh", "jpeg-tn2")
    }
)
_TIFF_COMPRESSION = {
    "uncompressed": "raw",
    "g4": "group4",
    "g3mh": "tiff_ccitt",
    "jpeg-tn2": "jpeg",
}
_PIL_MODES = {
    "BlackAndWhite1": "1",
    "Grayscale4": "L",
    "Grayscale8": "L",
    "Grayscale16": "L",
    "RGB24": "RGB",
    "RGB48": "RGB",
    "RGBa32": "RGB",
    "RGBa64": "RGB",
}
_TEXT = (
    "WSD scan simulator - deterministic test page",
    "The quick brown fox jumps over the lazy dog.",
    "Pack my box with five dozen liquor jugs.",
    "0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ",
)


def mime_type(doc_format: str) -> str:
    """Return the MIME type a device labels a format with."""
    if doc_format.startswith("tiff-"):
        return "image/tiff"
    return MIME_TYPES.get(doc_format, "application/octet-stream")


@dataclass(frozen=True)
class PageSpec:
    """What one scanned side looks like."""

    width: int
    height: int
    color: str
    dpi: tuple[int, int]
    number: int
    side: str
    label: str = ""
    #: Nothing but paper (the back of a single-sided original).
    blank: bool = False


@lru_cache(maxsize=32)
def _draw(spec: PageSpec) -> Image.Image:
    mode = _PIL_MODES.get(spec.color, "RGB")
    image = Image.new(
        "RGB" if mode == "RGB" else "L", (spec.width, spec.height), "white"
    )
    if spec.blank:
        return image.convert("1") if mode == "1" else image
    draw = ImageDraw.Draw(image)
    unit = max(1, min(spec.width, spec.height) // 40)
    draw.rectangle(
        (unit, unit, spec.width - unit - 1, spec.height - unit - 1),
        outline="black",
        width=max(1, unit // 4),
    )
    heading = ImageFont.load_default(size=max(8, unit * 2))
    body = ImageFont.load_default(size=max(6, unit))
    accent = (200, 30, 30) if mode == "RGB" else 0
    draw.text(
        (unit * 3, unit * 3),
        f"Page {spec.number} ({spec.side}) {spec.label}".strip(),
        fill=accent,
        font=heading,
    )
    line_height = unit * 2
    for index in range(max(0, (spec.height - unit * 10) // line_height)):
        draw.text(
            (unit * 3, unit * 7 + index * line_height),
            _TEXT[index % len(_TEXT)],
            fill="black" if mode == "RGB" else 0,
            font=body,
        )
    if mode == "1":
        return image.convert("1", dither=Image.Dither.NONE)
    return image


def encode(pages: Sequence[PageSpec], doc_format: str, quality: int = 85) -> bytes:
    """Encode one page (or, for multi-page formats, all pages) as `doc_format`."""
    return _encode(tuple(pages), doc_format, quality)


@lru_cache(maxsize=64)
def _encode(pages: tuple[PageSpec, ...], doc_format: str, quality: int) -> bytes:
    images = [_draw(page) for page in pages]
    first, rest = images[0], images[1:]
    dpi = pages[0].dpi
    out = io.BytesIO()
    if doc_format in ("jfif", "exif"):
        jpeg = first.convert("L") if first.mode == "1" else first
        options: dict[str, object] = {"quality": max(1, min(quality, 95)), "dpi": dpi}
        if doc_format == "exif":
            exif = Image.Exif()
            exif[0x010F] = "Simulated Imaging"  # Make
            exif[0x0110] = "WSD scan simulator"  # Model
            options["exif"] = exif
        jpeg.save(out, "JPEG", **options)
    elif doc_format == "png":
        first.save(out, "PNG", compress_level=1, dpi=dpi)
    elif doc_format == "dib":
        first.save(out, "BMP")
    elif doc_format == "pdf-a":
        first.save(
            out, "PDF", save_all=True, append_images=rest, resolution=float(dpi[0])
        )
    elif doc_format.startswith("tiff-"):
        _kind, count, compression_name = doc_format.split("-", 2)
        compression = _TIFF_COMPRESSION[compression_name]
        if compression in ("group4", "tiff_ccitt"):
            first, rest = first.convert("1"), [image.convert("1") for image in rest]
        elif compression == "jpeg" and first.mode == "1":
            first, rest = first.convert("L"), [image.convert("L") for image in rest]
        first.save(
            out,
            "TIFF",
            compression=compression,
            dpi=dpi,
            save_all=count == "multi",
            append_images=rest if count == "multi" else [],
        )
    else:
        raise ValueError(f"cannot render format {doc_format}")
    return out.getvalue()


def huge_image_geometry(width: int, channels: int, total_bytes: int) -> tuple[int, int]:
    """Return (width, rows) of an uncompressed image of about `total_bytes`.

    The width is rounded down to a multiple of 4 so rows need no padding in BMP.
    """
    width = max(4, width - width % 4)
    return width, max(1, total_bytes // (width * channels))


def stream_huge_image(
    doc_format: str,
    width: int,
    channels: int,
    total_bytes: int,
    chunk_size: int = 1 << 20,
) -> Iterator[bytes]:
    """Yield a valid uncompressed BMP (`dib`) or TIFF image of about `total_bytes`.

    Rows are a repeating stripe pattern so the whole image never exists in memory.
    """
    width, rows = huge_image_geometry(width, channels, total_bytes)
    stride = width * channels
    if doc_format == "dib":
        yield _bmp_header(width, rows, channels)
    else:
        yield _tiff_header(width, rows, channels)
    row_block = max(1, chunk_size // stride)
    dark = bytes([0x20]) * stride
    light = bytes([0xE0]) * stride
    block = b"".join(dark if (index // 16) % 2 else light for index in range(row_block))
    remaining = rows
    while remaining > 0:
        count = min(row_block, remaining)
        yield block[: count * stride]
        remaining -= count


def _bmp_header(width: int, rows: int, channels: int) -> bytes:
    stride = width * channels
    palette = (
        b"".join(bytes((v, v, v, 0)) for v in range(256)) if channels == 1 else b""
    )
    offset = 14 + 40 + len(palette)
    size = offset + stride * rows
    file_header = b"BM" + struct.pack("<IHHI", size, 0, 0, offset)
    info = struct.pack(
        "<IiiHHIIiiII",
        40,
        width,
        rows,
        1,
        channels * 8,
        0,
        stride * rows,
        11811,
        11811,
        256 if channels == 1 else 0,
        0,
    )
    return file_header + info + palette


def _tiff_header(width: int, rows: int, channels: int) -> bytes:
    # Little-endian TIFF, one IFD right after the header, one strip after the IFD.
    stride = width * channels
    entries: list[tuple[int, int, int, int]] = [
        (256, 4, 1, width),  # ImageWidth
        (257, 4, 1, rows),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample (per channel; 8 for every channel)
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 2 if channels == 3 else 1),  # Photometric: RGB / BlackIsZero
        (273, 4, 1, 0),  # StripOffsets, patched below
        (277, 3, 1, channels),  # SamplesPerPixel
        (278, 4, 1, rows),  # RowsPerStrip
        (279, 4, 1, stride * rows),  # StripByteCounts
    ]
    ifd_size = 2 + len(entries) * 12 + 4
    data_offset = 8 + ifd_size
    if channels == 3:
        # BitsPerSample needs 3 values: point to them after the IFD.
        entries[2] = (258, 3, 3, data_offset)
        data_offset += 6
    entries[5] = (273, 4, 1, data_offset)
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    out += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<HHI", tag, kind, count)
        out += packed + (
            struct.pack("<HH", value, 0)
            if kind == 3 and count == 1
            else struct.pack("<I", value)
        )
    out += struct.pack("<I", 0)
    if channels == 3:
        out += struct.pack("<HHH", 8, 8, 8)
    return bytes(out)
