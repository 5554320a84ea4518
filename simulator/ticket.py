"""ScanTicket model: parse from requests, write into responses (Scan Service spec, ScanTicket)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lxml import etree

from .soap import SCAN, SoapFault, child, children, local_name, qname, sub, text

MUST_HONOR = qname(SCAN, "MustHonor")
OVERRIDE = qname(SCAN, "Override")
USED_DEFAULT = qname(SCAN, "UsedDefault")


@dataclass(frozen=True)
class ScanRegion:
    """A scan region in 1/1000 inch."""

    x_offset: int
    y_offset: int
    width: int
    height: int


@dataclass(frozen=True)
class MediaSide:
    """Per-side parameters (MediaFront / MediaBack)."""

    color: str | None = None
    resolution: tuple[int, int] | None = None
    region: ScanRegion | None = None


@dataclass(frozen=True)
class Exposure:
    """Either automatic exposure or explicit settings."""

    auto: bool = False
    contrast: int = 0
    brightness: int = 0
    sharpness: int = 0


@dataclass(frozen=True)
class ScanTicket:
    """A ScanTicket; None means "not given, use the device default"."""

    job_name: str = ""
    user_name: str = ""
    job_information: str | None = None
    format: str | None = None
    quality: int | None = None
    images_to_transfer: int | None = None
    input_source: str | None = None
    content_type: str | None = None
    auto_detect: bool | None = None
    input_size: tuple[int, int] | None = None
    exposure: Exposure | None = None
    scaling: tuple[int, int] | None = None
    rotation: int | None = None
    front: MediaSide | None = None
    back: MediaSide | None = None
    must_honor: frozenset[str] = frozenset()
    # Local names of parameters the device replaced / took from its defaults.
    overridden: frozenset[str] = field(default=frozenset(), compare=False)
    defaulted: frozenset[str] = field(default=frozenset(), compare=False)

    def with_changes(self, **changes: object) -> ScanTicket:
        """Return a copy with some fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _int(node: etree._Element | None, *path: str) -> int | None:
    value = text(node, *path)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as err:
        raise SoapFault.sender(
            SCAN, "InvalidArgs", f"{'/'.join(path)} is not an integer", value
        ) from err


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("1", "true")


def _side(node: etree._Element | None) -> MediaSide | None:
    if node is None:
        return None
    resolution = child(node, "Resolution")
    width = _int(resolution, "Width")
    height = _int(resolution, "Height")
    region_node = child(node, "ScanRegion")
    region = None
    if region_node is not None:
        region = ScanRegion(
            _int(region_node, "ScanRegionXOffset") or 0,
            _int(region_node, "ScanRegionYOffset") or 0,
            _int(region_node, "ScanRegionWidth") or 0,
            _int(region_node, "ScanRegionHeight") or 0,
        )
    return MediaSide(
        color=text(node, "ColorProcessing"),
        resolution=None if width is None else (width, height or width),
        region=region,
    )


def parse_ticket(node: etree._Element) -> ScanTicket:
    """Parse a ScanTicket element; children are matched by local name in any order."""
    description = child(node, "JobDescription")
    if description is None:
        raise SoapFault.sender(SCAN, "InvalidArgs", "ScanTicket without JobDescription")
    params = child(node, "DocumentParameters")
    must_honor = frozenset(
        local_name(el)
        for el in node.iter()
        if isinstance(el.tag, str) and _bool(el.get(MUST_HONOR))
    )
    exposure = None
    exposure_node = child(params, "Exposure")
    if exposure_node is not None:
        settings = child(exposure_node, "ExposureSettings")
        exposure = Exposure(
            auto=bool(_bool(text(exposure_node, "AutoExposure"))),
            contrast=_int(settings, "Contrast") or 0,
            brightness=_int(settings, "Brightness") or 0,
            sharpness=_int(settings, "Sharpness") or 0,
        )
    size = child(params, "InputSize", "InputMediaSize")
    scaling = child(params, "Scaling")
    sides = child(params, "MediaSides")
    return ScanTicket(
        job_name=text(description, "JobName") or "",
        user_name=text(description, "JobOriginatingUserName") or "",
        job_information=text(description, "JobInformation"),
        format=text(params, "Format"),
        quality=_int(params, "CompressionQualityFactor"),
        images_to_transfer=_int(params, "ImagesToTransfer"),
        input_source=text(params, "InputSource"),
        content_type=text(params, "ContentType"),
        auto_detect=_bool(text(params, "InputSize", "DocumentSizeAutoDetect")),
        input_size=None
        if size is None
        else (_int(size, "Width") or 0, _int(size, "Height") or 0),
        exposure=exposure,
        scaling=None
        if scaling is None
        else (
            _int(scaling, "ScalingWidth") or 100,
            _int(scaling, "ScalingHeight") or 100,
        ),
        rotation=_int(params, "Rotation"),
        front=_side(child(sides, "MediaFront")),
        back=_side(child(sides, "MediaBack")),
        must_honor=must_honor,
    )


def write_ticket(
    parent: etree._Element, ticket: ScanTicket, *, element: str = "ScanTicket"
) -> etree._Element:
    """Append a ScanTicket-shaped element (`ScanTicket`, `DefaultScanTicket`)."""
    node = sub(parent, SCAN, element)
    description = sub(node, SCAN, "JobDescription")
    sub(description, SCAN, "JobName", ticket.job_name)
    sub(description, SCAN, "JobOriginatingUserName", ticket.user_name)
    if ticket.job_information is not None:
        sub(description, SCAN, "JobInformation", ticket.job_information)
    write_document_parameters(node, ticket, element="DocumentParameters")
    return node


def write_document_parameters(
    parent: etree._Element, ticket: ScanTicket, *, element: str
) -> etree._Element:
    """Append DocumentParameters / DocumentFinalParameters in schema order."""
    node = sub(parent, SCAN, element)

    def add(
        target: etree._Element, local: str, value: object, *, mark: bool = True
    ) -> etree._Element | None:
        if value is None:
            return None
        item = sub(target, SCAN, local, str(value))
        if mark:
            _mark(item, ticket, local)
        return item

    add(node, "Format", ticket.format)
    add(node, "CompressionQualityFactor", ticket.quality)
    add(node, "ImagesToTransfer", ticket.images_to_transfer)
    add(node, "InputSource", ticket.input_source)
    add(node, "ContentType", ticket.content_type)
    if ticket.auto_detect or ticket.input_size is not None:
        size = sub(node, SCAN, "InputSize")
        _mark(size, ticket, "InputSize")
        if ticket.auto_detect:
            sub(size, SCAN, "DocumentSizeAutoDetect", "true")
        elif ticket.input_size is not None:
            media = sub(size, SCAN, "InputMediaSize")
            sub(media, SCAN, "Width", ticket.input_size[0])
            sub(media, SCAN, "Height", ticket.input_size[1])
    if ticket.exposure is not None:
        exposure = sub(node, SCAN, "Exposure")
        _mark(exposure, ticket, "Exposure")
        if ticket.exposure.auto:
            sub(exposure, SCAN, "AutoExposure", "true")
        else:
            settings = sub(exposure, SCAN, "ExposureSettings")
            sub(settings, SCAN, "Contrast", ticket.exposure.contrast)
            sub(settings, SCAN, "Brightness", ticket.exposure.brightness)
            sub(settings, SCAN, "Sharpness", ticket.exposure.sharpness)
    if ticket.scaling is not None:
        scaling = sub(node, SCAN, "Scaling")
        _mark(scaling, ticket, "Scaling")
        sub(scaling, SCAN, "ScalingWidth", ticket.scaling[0])
        sub(scaling, SCAN, "ScalingHeight", ticket.scaling[1])
    add(node, "Rotation", ticket.rotation)
    if ticket.front is not None:
        sides = sub(node, SCAN, "MediaSides")
        for local, side in (("MediaFront", ticket.front), ("MediaBack", ticket.back)):
            if side is not None:
                _write_side(sub(sides, SCAN, local), side, ticket)
    return node


def _write_side(node: etree._Element, side: MediaSide, ticket: ScanTicket) -> None:
    if side.region is not None:
        region = sub(node, SCAN, "ScanRegion")
        sub(region, SCAN, "ScanRegionXOffset", side.region.x_offset)
        sub(region, SCAN, "ScanRegionYOffset", side.region.y_offset)
        sub(region, SCAN, "ScanRegionWidth", side.region.width)
        sub(region, SCAN, "ScanRegionHeight", side.region.height)
    if side.color is not None:
        _mark(sub(node, SCAN, "ColorProcessing", side.color), ticket, "ColorProcessing")
    if side.resolution is not None:
        resolution = sub(node, SCAN, "Resolution")
        _mark(resolution, ticket, "Resolution")
        sub(resolution, SCAN, "Width", side.resolution[0])
        sub(resolution, SCAN, "Height", side.resolution[1])


def _mark(node: etree._Element, ticket: ScanTicket, local: str) -> None:
    if local in ticket.overridden:
        node.set(OVERRIDE, "true")
    elif local in ticket.defaulted:
        node.set(USED_DEFAULT, "true")


def requested_names(node: etree._Element) -> list[str]:
    """Return the `Name` texts of a RequestedElements element."""
    return [(n.text or "").strip() for n in children(node, "Name")]
