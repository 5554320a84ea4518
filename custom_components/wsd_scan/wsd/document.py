"""Scanned pages → documents: format sniffing, PDF assembly, image files.

Sniffing trusts the bytes, never the device's word (the Pantum M7100DN says PNG and sends
JPEG, sa#281).
"""

from __future__ import annotations

from typing import Final

from .models import ImageFormat

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
