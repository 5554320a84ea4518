"""WS-Scan GetScannerElements: the answer's sections parsed into `ScannerElements`.

Capabilities (ScannerConfiguration), status (ScannerStatus, also the StatusSummary of
events), description and default ticket; values the schema allows but devices bend are read
leniently, with each device named where it differs.
"""

from __future__ import annotations

from typing import Final

from .exceptions import ErrorKind, WsdError
from .models import (
    DefaultTicket,
    DeviceCondition,
    ScannerCapabilities,
    ScannerDescription,
    ScannerElements,
    ScannerState,
    ScannerStatus,
    Size,
    SourceCapabilities,
    ValueRange,
)
from .xml import SCAN, Element, find, findall, local_name, text

SECTIONS: Final = (
    "ScannerDescription",
    "ScannerConfiguration",
    "ScannerStatus",
    "DefaultScanTicket",
)

_STATES: Final = {
    "Idle": ScannerState.IDLE,
    "Processing": ScannerState.PROCESSING,
    "Stopped": ScannerState.STOPPED,
}


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"1", "true"}


def int_or_none(value: str | None) -> int | None:
    """Return `value` as an integer, or None when it is missing or not a number."""
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _int(node: Element | None, path: str = ".") -> int | None:
    return int_or_none(text(node, path))


def _ints(node: Element, path: str) -> list[int]:
    return [v for n in findall(node, path) if (v := _int(n)) is not None]


def _texts(node: Element, path: str) -> tuple[str, ...]:
    return tuple(v for n in findall(node, path) if (v := text(n)) is not None)


def _size(node: Element, path: str) -> Size | None:
    width, height = _int(node, f"{path}/sca:Width"), _int(node, f"{path}/sca:Height")
    if width is None or height is None:
        return None
    return Size(width, height)


def _parse_source(node: Element | None, prefix: str) -> SourceCapabilities | None:
    """Parse Platen, ADFFront or ADFBack (element names start with `prefix`)."""
    if node is None:
        return None
    widths = _ints(node, f"sca:{prefix}Resolutions/sca:Widths/sca:Width")
    heights = set(_ints(node, f"sca:{prefix}Resolutions/sca:Heights/sca:Height"))
    # Kyocera ECOSYS M2040dn lists widths {200..600} but heights {100..600}: offer only
    # square resolutions both lists allow.
    resolutions = sorted({w for w in widths if w in heights}) or sorted(set(widths))
    max_size = _size(node, f"sca:{prefix}MaximumSize")
    if not resolutions or max_size is None:
        return None
    if max_size.width > max_size.height:
        # Kyocera ECOSYS M2040dn reports its maximum Width and Height swapped.
        max_size = Size(max_size.height, max_size.width)
    return SourceCapabilities(
        resolutions=tuple(resolutions),
        color_entries=_texts(node, f"sca:{prefix}Color/sca:ColorEntry"),
        min_size=_size(node, f"sca:{prefix}MinimumSize") or Size(0, 0),
        max_size=max_size,
        optical_resolution=_int(node, f"sca:{prefix}OpticalResolution/sca:Width"),
    )


def parse_capabilities(configuration: Element) -> ScannerCapabilities:
    """Parse a ScannerConfiguration section."""
    settings = find(configuration, "sca:DeviceSettings")
    if settings is None:
        raise WsdError(
            ErrorKind.PROTOCOL, "ScannerConfiguration without DeviceSettings"
        )
    quality_min = _int(settings, "sca:CompressionQualityFactorSupported/sca:MinValue")
    quality_max = _int(settings, "sca:CompressionQualityFactorSupported/sca:MaxValue")
    adf = find(configuration, "sca:ADF")
    adf_front = _parse_source(find(configuration, "sca:ADF/sca:ADFFront"), "ADF")
    adf_back = _parse_source(find(configuration, "sca:ADF/sca:ADFBack"), "ADF")
    return ScannerCapabilities(
        formats=_texts(settings, "sca:FormatsSupported/sca:FormatValue"),
        content_types=_texts(
            settings, "sca:ContentTypesSupported/sca:ContentTypeValue"
        ),
        quality=(
            ValueRange(quality_min, quality_max)
            if quality_min is not None and quality_max is not None
            else None
        ),
        auto_exposure=_is_true(text(settings, "sca:AutoExposureSupported")),
        brightness=_is_true(text(settings, "sca:BrightnessSupported")),
        contrast=_is_true(text(settings, "sca:ContrastSupported")),
        size_auto_detect=_is_true(
            text(settings, "sca:DocumentSizeAutoDetectSupported")
        ),
        rotations=tuple(_ints(settings, "sca:RotationsSupported/sca:RotationValue"))
        or (0,),
        platen=_parse_source(find(configuration, "sca:Platen"), "Platen"),
        adf_front=adf_front,
        adf_back=adf_back,
        # Brother MFC-9340CDW / MFC-9370CDW say ADFSupportsDuplex=0 yet list ADFBack and
        # scan duplex: the presence of ADFBack counts as duplex support.
        adf_duplex=adf_front is not None
        and (_is_true(text(adf, "sca:ADFSupportsDuplex")) or adf_back is not None),
    )


def parse_condition(node: Element) -> DeviceCondition:
    """Parse a DeviceCondition or ConditionHistoryEntry."""
    return DeviceCondition(
        condition_id=node.get("Id") or node.get(f"{{{SCAN}}}Id") or "",
        name=text(node, "sca:Name") or "Unknown",
        component=text(node, "sca:Component"),
        severity=text(node, "sca:Severity"),
        time=text(node, "sca:Time"),
        clear_time=text(node, "sca:ClearTime"),
    )


def parse_state(raw_state: str | None) -> ScannerState:
    """Map a ScannerState text (vendor values included) to `ScannerState`."""
    return _STATES.get(local_name(raw_state or ""), ScannerState.UNKNOWN)


def parse_status(status: Element) -> ScannerStatus:
    """Parse a ScannerStatus section (also the StatusSummary of events)."""
    raw_state = text(status, "sca:ScannerState")
    return ScannerStatus(
        state=parse_state(raw_state),
        raw_state=raw_state,
        reasons=tuple(
            local_name(reason)
            for reason in _texts(
                status, "sca:ScannerStateReasons/sca:ScannerStateReason"
            )
        ),
        active_conditions=tuple(
            parse_condition(node)
            for node in findall(status, "sca:ActiveConditions/sca:DeviceCondition")
        ),
        current_time=text(status, "sca:ScannerCurrentTime"),
    )


def _parse_description(node: Element) -> ScannerDescription:
    return ScannerDescription(
        name=text(node, "sca:ScannerName"),
        info=text(node, "sca:ScannerInfo"),
        location=text(node, "sca:ScannerLocation"),
    )


def _parse_default_ticket(node: Element) -> DefaultTicket:
    parameters = find(node, "sca:DocumentParameters")
    front = find(node, "sca:DocumentParameters/sca:MediaSides/sca:MediaFront")
    return DefaultTicket(
        format=text(parameters, "sca:Format"),
        input_source=text(parameters, "sca:InputSource"),
        color=text(front, "sca:ColorProcessing"),
        resolution=_int(front, "sca:Resolution/sca:Width"),
        content_type=text(parameters, "sca:ContentType"),
        quality=_int(parameters, "sca:CompressionQualityFactor"),
    )


def parse_scanner_elements(container: Element) -> ScannerElements:
    """Parse the sections found in a GetScannerElementsResponse or an ElementChanges.

    Sections inside `ElementData Valid="false"` are ignored.
    """
    sections: dict[str, Element] = {}
    for name in SECTIONS:
        found = find(container, f".//sca:{name}")
        parent = found.getparent() if found is not None else None
        if found is not None and parent is not None:
            valid = parent.get("Valid", parent.get(f"{{{SCAN}}}Valid", "true"))
            if _is_true(valid):
                sections[name] = found
    description = sections.get("ScannerDescription")
    configuration = sections.get("ScannerConfiguration")
    status = sections.get("ScannerStatus")
    default_ticket = sections.get("DefaultScanTicket")
    return ScannerElements(
        description=_parse_description(description)
        if description is not None
        else None,
        capabilities=(
            parse_capabilities(configuration) if configuration is not None else None
        ),
        status=parse_status(status) if status is not None else None,
        default_ticket=(
            _parse_default_ticket(default_ticket)
            if default_ticket is not None
            else None
        ),
    )
