"""WS-Scan tickets: what a user asks for, turned into values the device advertised.

`build_ticket` turns `ScanSettings` into a `ScanTicket` (consulting the device's entries of
the quirk table); `ticket_element` writes it as the ScanTicket of a CreateScanJobRequest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .exceptions import ErrorKind, WsdError
from .models import (
    PAPER_SIZES,
    ColorMode,
    DocumentFormat,
    InputSource,
    PaperSize,
    ScannerCapabilities,
    ScannerStatus,
    ScanSettings,
    ScanSource,
    ScanTicket,
    Size,
    SourceCapabilities,
)
from .quirks import NO_QUIRKS, DeviceQuirks
from .xml import Element, element, sub

#: Formats that take a CompressionQualityFactor.
_LOSSY_FORMATS: Final = frozenset(
    {"jfif", "exif", "tiff-single-jpeg-tn2", "tiff-multi-jpeg-tn2"}
)
_DEFAULT_QUALITY: Final = 85

#: Device formats to ask for, best first. Single-image formats only, so pages arrive one
#: by one; the document layer turns them into the wanted file type. JPEG pages embed
#: losslessly in a PDF; bilevel pages are smallest as CCITT G4.
_FORMAT_PREFERENCES: Final[dict[tuple[DocumentFormat, bool], tuple[str, ...]]] = {
    (DocumentFormat.PDF, False): ("jfif", "exif", "png", "tiff-single-jpeg-tn2"),
    (DocumentFormat.PDF, True): ("tiff-single-g4", "tiff-single-g3mh", "png"),
    (DocumentFormat.JPEG, False): ("jfif", "exif"),
    (DocumentFormat.JPEG, True): ("jfif", "exif"),
    (DocumentFormat.PNG, False): ("png",),
    (DocumentFormat.PNG, True): ("png",),
    (DocumentFormat.TIFF, False): ("tiff-single-uncompressed", "tiff-single-jpeg-tn2"),
    (DocumentFormat.TIFF, True): ("tiff-single-g4", "tiff-single-g3mh"),
}
#: When none of the preferred formats exists: any single-image format, then anything.
_FALLBACK_FORMATS: Final = (
    "jfif",
    "png",
    "exif",
    "tiff-single-g4",
    "tiff-single-uncompressed",
    "tiff-single-jpeg-tn2",
    "tiff-single-g3mh",
    "dib",
)

#: Colour entries that are not colour (quirk limits on colour scans do not apply).
_NOT_COLOR: Final = frozenset(
    {"BlackAndWhite1", "Grayscale4", "Grayscale8", "Grayscale16"}
)

_COLOR_PREFERENCES: Final[dict[ColorMode, tuple[str, ...]]] = {
    ColorMode.COLOR: ("RGB24", "RGB48", "RGBa32", "RGBa64"),
    ColorMode.GRAY: ("Grayscale8", "Grayscale16", "Grayscale4", "RGB24"),
    ColorMode.BW: ("BlackAndWhite1", "Grayscale4", "Grayscale8", "RGB24"),
}


def _unsupported(message: str) -> WsdError:
    return WsdError(ErrorKind.UNSUPPORTED, message)


def _choose_source(
    capabilities: ScannerCapabilities,
    wanted: ScanSource,
    status: ScannerStatus | None,
) -> InputSource:
    if wanted is ScanSource.AUTO:
        feeder_usable = capabilities.adf_front is not None and not (
            status is not None and status.feeder_empty
        )
        if feeder_usable or capabilities.platen is None:
            wanted = ScanSource.FEEDER
        else:
            wanted = ScanSource.PLATEN
    source = {
        ScanSource.PLATEN: InputSource.PLATEN,
        ScanSource.FEEDER: InputSource.ADF,
        ScanSource.FEEDER_DUPLEX: InputSource.ADF_DUPLEX,
    }[wanted]
    if source not in capabilities.sources:
        raise _unsupported(f"the scanner has no {wanted.replace('_', ' ')}")
    return source


def choose_format(
    formats: Iterable[str], wanted: DocumentFormat, color: ColorMode
) -> str:
    """Pick the device format for an output format, following the fallback chain."""
    available = tuple(formats)
    preferences = (
        *_FORMAT_PREFERENCES[wanted, color is ColorMode.BW],
        *_FALLBACK_FORMATS,
    )
    chosen = next((f for f in preferences if f in available), None)
    if chosen is None and available:
        # Only multi-page or vendor formats: take what the device offers first.
        chosen = available[0]
    if chosen is None:
        raise _unsupported("the scanner advertises no image format")
    return chosen


def choose_color(entries: Iterable[str], wanted: ColorMode) -> str:
    """Pick the device colour entry closest to the wanted colour mode."""
    available = tuple(entries)
    chosen = next((c for c in _COLOR_PREFERENCES[wanted] if c in available), None)
    return chosen or (available[0] if available else _COLOR_PREFERENCES[wanted][0])


def nearest_resolution(resolutions: Iterable[int], wanted: int) -> int:
    """Return the supported resolution nearest to `wanted` (the higher one on a tie)."""
    return min(resolutions, key=lambda value: (abs(value - wanted), -value))


def scan_size(source: SourceCapabilities, paper: PaperSize | Size) -> Size:
    """Return the scan area for a paper size, clamped to the source's limits."""
    if paper is PaperSize.MAX:
        return source.max_size
    size = paper if isinstance(paper, Size) else PAPER_SIZES[paper]
    return Size(
        min(max(size.width, source.min_size.width), source.max_size.width),
        min(max(size.height, source.min_size.height), source.max_size.height),
    )


def build_ticket(
    capabilities: ScannerCapabilities,
    settings: ScanSettings,
    *,
    status: ScannerStatus | None = None,
    job_information: str = "Home Assistant",
    quirks: DeviceQuirks = NO_QUIRKS,
) -> ScanTicket:
    """Build a ticket that asks the device only for what it advertised.

    `quirks` are the device's entries of the quirk table (`quirks_for`): feeder
    ImagesToTransfer, resolution limits of colour or of formats.
    """
    input_source = _choose_source(capabilities, settings.source, status)
    source = capabilities.source(input_source)
    assert source is not None  # _choose_source only returns sources the device has
    color = choose_color(source.color_entries, settings.color)
    resolutions = source.resolutions
    if quirks.max_color_resolution is not None and color not in _NOT_COLOR:
        resolutions = tuple(
            r for r in resolutions if r <= quirks.max_color_resolution
        ) or (min(resolutions),)
    resolution = nearest_resolution(resolutions, settings.resolution)
    device_format = choose_format(
        (f for f in capabilities.formats if quirks.format_allowed(f, resolution)),
        settings.format,
        settings.color,
    )
    content_type = None
    if capabilities.content_types:
        # Canon TR4570 assumes Text when ContentType is missing: always send one.
        preferred = (settings.content_type, "Auto")
        content_type = next(
            (c for c in preferred if c in capabilities.content_types),
            capabilities.content_types[0],
        )
    quality = None
    if device_format in _LOSSY_FORMATS and capabilities.quality is not None:
        quality = capabilities.quality.clamp(settings.quality or _DEFAULT_QUALITY)
    return ScanTicket(
        format=device_format,
        input_source=input_source,
        # 1 on the platen, 0 ("until empty") on the feeder: OKI MC332dn/MC362dn/MB471
        # refuse the next job after a platen job sent with 0 (sane-airscan bbc39f0).
        images_to_transfer=1
        if input_source is InputSource.PLATEN
        else quirks.feeder_images or 0,
        color=color,
        resolution=resolution,
        size=scan_size(source, settings.paper),
        content_type=content_type,
        quality=quality,
        job_name=settings.job_name,
        user_name=settings.user_name,
        job_information=job_information,
    )


def ticket_element(ticket: ScanTicket) -> Element:
    """Write a ScanTicket in schema order, without MustHonor (devices then substitute)."""
    root = element("sca:ScanTicket")
    description = sub(root, "sca:JobDescription")
    sub(description, "sca:JobName", ticket.job_name)
    sub(description, "sca:JobOriginatingUserName", ticket.user_name)
    # Canon TR7500 faults InvalidArgs without JobInformation (sane-airscan ddb98c8).
    sub(description, "sca:JobInformation", ticket.job_information)
    parameters = sub(root, "sca:DocumentParameters")
    sub(parameters, "sca:Format", ticket.format)
    if ticket.quality is not None:
        sub(parameters, "sca:CompressionQualityFactor", str(ticket.quality))
    sub(parameters, "sca:ImagesToTransfer", str(ticket.images_to_transfer))
    sub(parameters, "sca:InputSource", ticket.input_source.value)
    if ticket.content_type is not None:
        sub(parameters, "sca:ContentType", ticket.content_type)
    media = sub(sub(parameters, "sca:InputSize"), "sca:InputMediaSize")
    sub(media, "sca:Width", str(ticket.size.width))
    sub(media, "sca:Height", str(ticket.size.height))
    front = sub(sub(parameters, "sca:MediaSides"), "sca:MediaFront")
    region = sub(front, "sca:ScanRegion")
    sub(region, "sca:ScanRegionXOffset", "0")
    sub(region, "sca:ScanRegionYOffset", "0")
    sub(region, "sca:ScanRegionWidth", str(ticket.size.width))
    sub(region, "sca:ScanRegionHeight", str(ticket.size.height))
    sub(front, "sca:ColorProcessing", ticket.color)
    resolution = sub(front, "sca:Resolution")
    sub(resolution, "sca:Width", str(ticket.resolution))
    sub(resolution, "sca:Height", str(ticket.resolution))
    return root
