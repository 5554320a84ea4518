"""Typed models shared by the wsd library's modules.

Sections: identity and discovery, device metadata, images. The scanning and eventing models
follow below them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

# --- identity and discovery ---------------------------------------------------------------

_UUID_PREFIXES = ("urn:uuid:", "uuid:")


def normalize_uuid(address: str) -> str:
    """Normalise an endpoint reference address to its bare, lower-case UUID.

    Devices write `urn:uuid:…`, `uuid:…` (WS-Discovery's own examples; Epson firmware) or
    upper case; Home Assistant keys devices by this value, so every form must agree.
    """
    value = address.strip().lower()
    for prefix in _UUID_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


@dataclass(frozen=True, slots=True)
class AppSequence:
    """WS-Discovery AppSequence: a higher instance id means the device restarted."""

    instance_id: int
    message_number: int
    sequence_id: str | None = None


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """A WSD device seen in a ProbeMatch, ResolveMatch or Hello."""

    uuid: str
    types: frozenset[tuple[str, str]]
    xaddrs: tuple[str, ...]
    metadata_version: int | None = None
    app_sequence: AppSequence | None = None
    #: The address the answer came from (tried first among the XAddrs).
    source_address: str | None = None


# --- device metadata ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostedService:
    """A service hosted by the device (DPWS Relationship/Hosted)."""

    service_id: str | None
    types: frozenset[tuple[str, str]]
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a device says about itself (DPWS ThisModel, ThisDevice, Hosted)."""

    uuid: str
    manufacturer: str | None = None
    model: str | None = None
    model_number: str | None = None
    friendly_name: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    presentation_url: str | None = None
    manufacturer_url: str | None = None
    scan_service_url: str | None = None
    services: tuple[HostedService, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        """A display name: the friendly name, else manufacturer and model."""
        if self.friendly_name:
            return self.friendly_name
        parts = [p for p in (self.manufacturer, self.model) if p]
        return " ".join(parts) or self.uuid


# --- images ---------------------------------------------------------------------------------


class ImageFormat(StrEnum):
    """Image formats as sniffed from their bytes (never trusted from the device's word)."""

    JPEG = "jpeg"
    PNG = "png"
    TIFF = "tiff"
    BMP = "bmp"
    PDF = "pdf"
    UNKNOWN = "unknown"

    @property
    def extension(self) -> str:
        """The usual file extension, without the dot."""
        return {"jpeg": "jpg", "unknown": "bin"}.get(self.value, self.value)

    @property
    def mime_type(self) -> str:
        """The MIME type."""
        return {
            "jpeg": "image/jpeg",
            "png": "image/png",
            "tiff": "image/tiff",
            "bmp": "image/bmp",
            "pdf": "application/pdf",
        }.get(self.value, "application/octet-stream")


# --- scanning: capabilities, status, tickets, jobs ------------------------------------------

#: Sizes are in 1/1000 inch, the unit of every WS-Scan dimension.
MILS_PER_INCH = 1000
MM_PER_INCH = 25.4


class InputSource(StrEnum):
    """WS-Scan InputSource keywords."""

    PLATEN = "Platen"
    ADF = "ADF"
    ADF_DUPLEX = "ADFDuplex"


class ScanSource(StrEnum):
    """Where the user wants the originals taken from."""

    PLATEN = "platen"
    FEEDER = "feeder"
    FEEDER_DUPLEX = "feeder_duplex"
    #: The feeder when the device has one and does not report it empty, else the platen.
    AUTO = "auto"

    @classmethod
    def for_input_source(cls, keyword: str | None) -> ScanSource:
        """Map a panel-started scan's InputSource (ScanAvailableEvent) to a source."""
        sources: dict[str | None, ScanSource] = {
            InputSource.PLATEN: cls.PLATEN,
            InputSource.ADF: cls.FEEDER,
            InputSource.ADF_DUPLEX: cls.FEEDER_DUPLEX,
        }
        return sources.get(keyword, cls.AUTO)


class ColorMode(StrEnum):
    """Colour modes offered to users."""

    COLOR = "color"
    GRAY = "gray"
    BW = "bw"


class DocumentFormat(StrEnum):
    """Output formats offered to users; the document layer assembles them from pages."""

    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"
    TIFF = "tiff"

    @property
    def image_format(self) -> ImageFormat:
        """The image format of each page file (a PDF holds pages of any format)."""
        return ImageFormat(self.value)


class PaperSize(StrEnum):
    """Named paper sizes; MAX is the device's largest scan area."""

    A4 = "a4"
    A5 = "a5"
    LETTER = "letter"
    LEGAL = "legal"
    MAX = "max"


@dataclass(frozen=True, slots=True)
class Size:
    """A width (fast-scan direction) and height (slow-scan direction) in 1/1000 inch."""

    width: int
    height: int

    @classmethod
    def from_mm(cls, width_mm: float, height_mm: float) -> Size:
        """Convert millimetres to 1/1000 inch."""
        return cls(
            round(width_mm / MM_PER_INCH * MILS_PER_INCH),
            round(height_mm / MM_PER_INCH * MILS_PER_INCH),
        )


PAPER_SIZES: dict[PaperSize, Size] = {
    PaperSize.A4: Size(8268, 11693),
    PaperSize.A5: Size(5827, 8268),
    PaperSize.LETTER: Size(8500, 11000),
    PaperSize.LEGAL: Size(8500, 14000),
}


@dataclass(frozen=True, slots=True)
class SourceCapabilities:
    """What one input source side (platen, feeder front or back) can do."""

    #: Square resolutions the device accepts: its width and height lists intersected.
    resolutions: tuple[int, ...]
    color_entries: tuple[str, ...]
    min_size: Size
    max_size: Size
    optical_resolution: int | None = None


@dataclass(frozen=True, slots=True)
class ValueRange:
    """An inclusive integer range a device supports."""

    minimum: int
    maximum: int

    def clamp(self, value: int) -> int:
        """Return `value` limited to the range."""
        return min(max(value, self.minimum), self.maximum)


@dataclass(frozen=True, slots=True)
class ScannerCapabilities:
    """A device's ScannerConfiguration in usable form."""

    formats: tuple[str, ...]
    content_types: tuple[str, ...] = ()
    quality: ValueRange | None = None
    auto_exposure: bool = False
    brightness: bool = False
    contrast: bool = False
    size_auto_detect: bool = False
    rotations: tuple[int, ...] = (0,)
    platen: SourceCapabilities | None = None
    adf_front: SourceCapabilities | None = None
    adf_back: SourceCapabilities | None = None
    adf_duplex: bool = False

    @property
    def sources(self) -> tuple[InputSource, ...]:
        """The input sources the device offers."""
        sources = [InputSource.PLATEN] if self.platen else []
        if self.adf_front:
            sources.append(InputSource.ADF)
            if self.adf_duplex:
                sources.append(InputSource.ADF_DUPLEX)
        return tuple(sources)

    def source(self, source: InputSource) -> SourceCapabilities | None:
        """Return the capabilities of an input source (duplex: what both sides can do)."""
        if source is InputSource.PLATEN:
            return self.platen
        if source is InputSource.ADF or self.adf_front is None:
            return self.adf_front
        return (
            self.adf_front
            if self.adf_back is None
            else _both(self.adf_front, self.adf_back)
        )


def _both(front: SourceCapabilities, back: SourceCapabilities) -> SourceCapabilities:
    """Return what both feeder sides support.

    Epson WorkForce WF-3520 reports slightly different front and back geometry.
    """
    return SourceCapabilities(
        resolutions=tuple(r for r in front.resolutions if r in back.resolutions),
        color_entries=tuple(c for c in front.color_entries if c in back.color_entries),
        min_size=Size(
            max(front.min_size.width, back.min_size.width),
            max(front.min_size.height, back.min_size.height),
        ),
        max_size=Size(
            min(front.max_size.width, back.max_size.width),
            min(front.max_size.height, back.max_size.height),
        ),
        optical_resolution=front.optical_resolution,
    )


class ScannerState(StrEnum):
    """ScannerState; vendor values are reported as UNKNOWN (the raw text is kept)."""

    IDLE = "idle"
    PROCESSING = "processing"
    STOPPED = "stopped"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeviceCondition:
    """An active (or historic) DeviceCondition such as a jam, an open cover or warm-up."""

    condition_id: str
    name: str
    component: str | None = None
    severity: str | None = None
    time: str | None = None
    clear_time: str | None = None

    @property
    def critical(self) -> bool:
        """Whether the condition stops the scanner."""
        return self.severity == "Critical"


@dataclass(frozen=True, slots=True)
class ScannerStatus:
    """ScannerStatus: state, reasons and active conditions."""

    state: ScannerState
    raw_state: str | None = None
    reasons: tuple[str, ...] = ()
    active_conditions: tuple[DeviceCondition, ...] = ()
    current_time: str | None = None

    @property
    def problems(self) -> frozenset[str]:
        """Reason and active condition names, without the `None` placeholder."""
        names = {*self.reasons, *(c.name for c in self.active_conditions)}
        return frozenset(names - {"None"})

    @property
    def feeder_empty(self) -> bool:
        """Whether the device says the feeder holds no paper."""
        return "InputTrayEmpty" in self.problems


@dataclass(frozen=True, slots=True)
class ScannerDescription:
    """ScannerDescription: the names an administrator gave the scanner."""

    name: str | None = None
    info: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class DefaultTicket:
    """The parts of the DefaultScanTicket a client uses as defaults."""

    format: str | None = None
    input_source: str | None = None
    color: str | None = None
    resolution: int | None = None
    content_type: str | None = None
    quality: int | None = None


@dataclass(frozen=True, slots=True)
class ScannerElements:
    """A GetScannerElements answer; sections the device did not give are None."""

    description: ScannerDescription | None = None
    capabilities: ScannerCapabilities | None = None
    status: ScannerStatus | None = None
    default_ticket: DefaultTicket | None = None


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """What the user asks for; `build_ticket` turns it into what the device supports."""

    source: ScanSource = ScanSource.PLATEN
    format: DocumentFormat = DocumentFormat.PDF
    resolution: int = 300
    color: ColorMode = ColorMode.COLOR
    paper: PaperSize | Size = PaperSize.A4
    content_type: str | None = None
    quality: int | None = None
    job_name: str = "Home Assistant scan"
    user_name: str = "Home Assistant"


@dataclass(frozen=True, slots=True)
class ScanTicket:
    """A ScanTicket holding only values the device advertised."""

    format: str
    input_source: InputSource
    images_to_transfer: int
    color: str
    resolution: int
    size: Size
    content_type: str | None = None
    quality: int | None = None
    job_name: str = "Home Assistant scan"
    user_name: str = "Home Assistant"
    job_information: str = "Home Assistant"


@dataclass(frozen=True, slots=True)
class ScannedPage:
    """One image received from the device and written to disk."""

    index: int
    path: Path
    format: ImageFormat
    size: int


@dataclass(frozen=True, slots=True)
class ScanResult:
    """A finished scan job."""

    job_id: str
    ticket: ScanTicket
    pages: tuple[ScannedPage, ...]


class JobState(StrEnum):
    """JobState values (`Held` from the DDK is read as PENDING_HELD)."""

    CREATING = "Creating"
    PENDING = "Pending"
    PENDING_HELD = "Pending-Held"
    STARTED = "Started"
    PROCESSING = "Processing"
    TERMINATING = "Terminating"
    CANCELED = "Canceled"
    ABORTED = "Aborted"
    COMPLETED = "Completed"
    UNKNOWN = "Unknown"

    @property
    def ended(self) -> bool:
        """Whether a job in this state is over."""
        return self in {JobState.CANCELED, JobState.ABORTED, JobState.COMPLETED}


# --- eventing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanDestination:
    """A "scan to" entry shown on the device panel (one per profile)."""

    display_name: str
    client_context: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """A live WS-Eventing subscription."""

    #: Our wse:Identifier, sent as a reference parameter and echoed in every notification.
    identifier: str
    notify_url: str
    manager_address: str
    #: The manager's reference parameters, serialised; copied as headers into Renew & co.
    manager_parameters: tuple[bytes, ...]
    #: The granted lifetime in seconds (None: the device granted no expiry).
    expires_in: float | None
    #: DestinationToken per ClientContext (ScanAvailableEvent subscriptions only).
    destination_tokens: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScanAvailableEvent:
    """The user chose one of our destinations on the panel and pressed Scan."""

    client_context: str
    scan_identifier: str
    input_source: str | None = None


@dataclass(frozen=True, slots=True)
class ScannerElementsChangeEvent:
    """The device's configuration, description or default ticket changed."""

    elements: ScannerElements


@dataclass(frozen=True, slots=True)
class ScannerStatusSummaryEvent:
    """The scanner state or its reasons changed."""

    state: ScannerState
    raw_state: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScannerStatusConditionEvent:
    """A device condition appeared or changed."""

    condition: DeviceCondition


@dataclass(frozen=True, slots=True)
class ScannerStatusConditionClearedEvent:
    """A device condition went away."""

    condition_id: str
    clear_time: str | None = None


@dataclass(frozen=True, slots=True)
class JobStatusEvent:
    """A job's status changed."""

    job_id: str
    state: JobState
    reasons: tuple[str, ...] = ()
    scans_completed: int | None = None


@dataclass(frozen=True, slots=True)
class JobEndStateEvent:
    """A job finished."""

    job_id: str
    state: JobState
    reasons: tuple[str, ...] = ()
    scans_completed: int | None = None
    job_name: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionEndEvent:
    """The device ended a subscription (shutdown, delivery failure, cancelled)."""

    status: str
    reason: str | None = None


type WsdEvent = (
    ScanAvailableEvent
    | ScannerElementsChangeEvent
    | ScannerStatusSummaryEvent
    | ScannerStatusConditionEvent
    | ScannerStatusConditionClearedEvent
    | JobStatusEvent
    | JobEndStateEvent
    | SubscriptionEndEvent
)
