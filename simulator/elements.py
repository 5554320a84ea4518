"""Writers for the scanner element sections of GetScannerElements and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from .profiles import Profile, SourceCaps
from .quirks import Quirk
from .soap import SCAN, XML_NS, qname, sub

# Condition name -> (component, severity) used when a test raises a condition.
CONDITION_TRAITS: dict[str, tuple[str, str]] = {
    "AttentionRequired": ("MediaPath", "Warning"),
    "Calibrating": ("Platen", "Informational"),
    "CoverOpen": ("ADF", "Critical"),
    "InputTrayEmpty": ("ADF", "Informational"),
    "InterlockOpen": ("Platen", "Critical"),
    "InternalStorageFull": ("MediaPath", "Critical"),
    "LampError": ("Platen", "Critical"),
    "LampWarming": ("Platen", "Informational"),
    "MediaJam": ("MediaPath", "Critical"),
    "MultipleFeedError": ("ADF", "Critical"),
    "Paused": ("MediaPath", "Warning"),
}


def timestamp(moment: datetime) -> str:
    """Format a device-clock dateTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Condition:
    """An active or historic DeviceCondition."""

    id: int
    name: str
    component: str
    severity: str
    time: datetime
    clear_time: datetime | None = None

    @property
    def critical(self) -> bool:
        """Whether the condition stops the scanner."""
        return self.severity == "Critical"


def write_description(parent: etree._Element, profile: Profile, name: str) -> None:
    """Append ScannerDescription."""
    node = sub(parent, SCAN, "ScannerDescription")
    for local, value in (
        ("ScannerName", name),
        ("ScannerInfo", profile.scanner_info),
        ("ScannerLocation", profile.scanner_location),
    ):
        if value is not None:
            sub(node, SCAN, local, value).set(qname(XML_NS, "lang"), "en")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _range(parent: etree._Element, local: str, low: int, high: int) -> None:
    node = sub(parent, SCAN, local)
    sub(node, SCAN, "MinValue", low)
    sub(node, SCAN, "MaxValue", high)


def _size(parent: etree._Element, local: str, size: tuple[int, int]) -> None:
    node = sub(parent, SCAN, local)
    sub(node, SCAN, "Width", size[0])
    sub(node, SCAN, "Height", size[1])


def _source(
    parent: etree._Element, prefix: str, caps: SourceCaps, quirks: frozenset[Quirk]
) -> None:
    _size(parent, f"{prefix}OpticalResolution", caps.optical_resolution)
    resolutions = sub(parent, SCAN, f"{prefix}Resolutions")
    widths = sub(resolutions, SCAN, "Widths")
    for value in caps.widths:
        sub(widths, SCAN, "Width", value)
    heights = sub(resolutions, SCAN, "Heights")
    for value in caps.heights:
        sub(heights, SCAN, "Height", value)
    colors = sub(parent, SCAN, f"{prefix}Color")
    for color in caps.colors:
        sub(colors, SCAN, "ColorEntry", color)
    _size(parent, f"{prefix}MinimumSize", caps.min_size)
    max_size = caps.max_size
    if Quirk.SWAPPED_MAX_SIZE in quirks:
        max_size = (max_size[1], max_size[0])
    _size(parent, f"{prefix}MaximumSize", max_size)


def write_configuration(
    parent: etree._Element, profile: Profile, quirks: frozenset[Quirk]
) -> None:
    """Append ScannerConfiguration in schema order."""
    node = sub(parent, SCAN, "ScannerConfiguration")
    settings = sub(node, SCAN, "DeviceSettings")
    formats = sub(settings, SCAN, "FormatsSupported")
    for value in profile.formats:
        sub(formats, SCAN, "FormatValue", value)
    _range(settings, "CompressionQualityFactorSupported", *profile.quality_range)
    content_types = sub(settings, SCAN, "ContentTypesSupported")
    for value in profile.content_types:
        sub(content_types, SCAN, "ContentTypeValue", value)
    sub(settings, SCAN, "DocumentSizeAutoDetectSupported", _bool(profile.auto_detect))
    sub(settings, SCAN, "AutoExposureSupported", _bool(profile.auto_exposure))
    sub(settings, SCAN, "BrightnessSupported", _bool(profile.brightness))
    sub(settings, SCAN, "ContrastSupported", _bool(profile.contrast))
    scaling = sub(settings, SCAN, "ScalingRangeSupported")
    _range(scaling, "ScalingWidth", *profile.scaling_range)
    _range(scaling, "ScalingHeight", *profile.scaling_range)
    rotations = sub(settings, SCAN, "RotationsSupported")
    for rotation in profile.rotations:
        sub(rotations, SCAN, "RotationValue", rotation)
    if profile.platen is not None:
        _source(sub(node, SCAN, "Platen"), "Platen", profile.platen, quirks)
    if profile.adf is not None:
        adf = sub(node, SCAN, "ADF")
        duplex = profile.adf.duplex and Quirk.DUPLEX_FLAG_FALSE not in quirks
        sub(adf, SCAN, "ADFSupportsDuplex", _bool(duplex))
        _source(sub(adf, SCAN, "ADFFront"), "ADF", profile.adf.front, quirks)
        if profile.adf.back is not None:
            _source(sub(adf, SCAN, "ADFBack"), "ADF", profile.adf.back, quirks)


def write_status(
    parent: etree._Element,
    *,
    now: datetime,
    state: str,
    reasons: list[str],
    active: list[Condition],
    history: list[Condition],
) -> None:
    """Append ScannerStatus."""
    node = sub(parent, SCAN, "ScannerStatus")
    sub(node, SCAN, "ScannerCurrentTime", timestamp(now))
    sub(node, SCAN, "ScannerState", state)
    reasons_node = sub(node, SCAN, "ScannerStateReasons")
    for reason in reasons or ["None"]:
        sub(reasons_node, SCAN, "ScannerStateReason", reason)
    conditions = sub(node, SCAN, "ActiveConditions")
    for condition in active:
        write_condition(conditions, condition)
    if history:
        history_node = sub(node, SCAN, "ConditionHistory")
        for condition in history:
            write_condition(history_node, condition, element="ConditionHistoryEntry")


def write_condition(
    parent: etree._Element, condition: Condition, *, element: str = "DeviceCondition"
) -> None:
    """Append a DeviceCondition (or ConditionHistoryEntry with ClearTime)."""
    node = sub(parent, SCAN, element)
    node.set("Id", str(condition.id))
    sub(node, SCAN, "Time", timestamp(condition.time))
    sub(node, SCAN, "Name", condition.name)
    sub(node, SCAN, "Component", condition.component)
    sub(node, SCAN, "Severity", condition.severity)
    if condition.clear_time is not None and element == "ConditionHistoryEntry":
        sub(node, SCAN, "ClearTime", timestamp(condition.clear_time))
