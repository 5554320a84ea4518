"""Device profiles: what an emulated scanner is, says and can do.

A `Profile` carries the capabilities (written as ScannerConfiguration), the identity
(DPWS metadata and ScannerDescription), the default ticket and the firmware style
(namespace prefixes, URL paths, default quirks). `finalize` applies the WS-Scan rules for
substituting or rejecting ticket values (Scan Service spec, ScanTicket: MustHonor and UsedDefault).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .quirks import Quirk
from .soap import KYOCERA_PREFIXES, PRINT, SCAN, WINDOWS_PREFIXES, WSDP, SoapFault
from .ticket import Exposure, MediaSide, ScanRegion, ScanTicket

LOSSY_FORMATS = frozenset(
    {"jfif", "exif", "tiff-single-jpeg-tn2", "tiff-multi-jpeg-tn2"}
)


@dataclass(frozen=True)
class SourceCaps:
    """Capabilities of one input source side (Platen, ADFFront, ADFBack)."""

    optical_resolution: tuple[int, int]
    widths: tuple[int, ...]
    heights: tuple[int, ...]
    colors: tuple[str, ...]
    min_size: tuple[int, int]
    max_size: tuple[int, int]

    def nearest_resolution(self, wanted: tuple[int, int]) -> tuple[int, int]:
        """Return the supported resolution closest to `wanted`, per axis."""
        return (
            min(self.widths, key=lambda v: (abs(v - wanted[0]), v)),
            min(self.heights, key=lambda v: (abs(v - wanted[1]), v)),
        )


@dataclass(frozen=True)
class AdfCaps:
    """The automatic document feeder."""

    front: SourceCaps
    back: SourceCaps | None
    duplex: bool


@dataclass(frozen=True)
class HostedService:
    """A non-scan hosted service listed in the metadata (printers, vendor services)."""

    prefix: str
    namespace: str
    type_name: str
    path: str
    service_id: str
    compatible_id: str | None = None


@dataclass(frozen=True)
class Profile:
    """Everything that distinguishes one scanner model from another."""

    name: str
    manufacturer: str
    model_name: str
    friendly_name: str
    serial_number: str
    firmware_version: str
    scanner_name: str
    formats: tuple[str, ...]
    default_ticket: ScanTicket
    platen: SourceCaps | None = None
    adf: AdfCaps | None = None
    manufacturer_url: str | None = None
    model_number: str | None = None
    model_url: str | None = None
    device_category: str = "Scanners"
    hardware_id: str = "VEN_0000&DEV_0000"
    scanner_info: str | None = None
    scanner_location: str | None = None
    quality_range: tuple[int, int] = (1, 100)
    content_types: tuple[str, ...] = ("Auto", "Text", "Photo", "Mixed")
    auto_detect: bool = False
    auto_exposure: bool = False
    brightness: bool = True
    contrast: bool = True
    scaling_range: tuple[int, int] = (100, 100)
    rotations: tuple[int, ...] = (0,)
    prefixes: Mapping[str, str] = field(default_factory=lambda: WINDOWS_PREFIXES)
    device_types: tuple[tuple[str, str], ...] = (
        (WSDP, "Device"),
        (SCAN, "ScanDeviceType"),
    )
    hosted: tuple[HostedService, ...] = ()
    device_path: str = "/{uuid}/device"
    scan_path: str = "/{uuid}/scan"
    metadata_version: int = 1
    quirks: frozenset[Quirk] = frozenset()

    def source(self, input_source: str) -> SourceCaps:
        """Return the capabilities of an input source keyword (front side for ADF)."""
        if input_source == "Platen" and self.platen is not None:
            return self.platen
        if self.adf is None:
            raise KeyError(input_source)
        return self.adf.front

    @property
    def input_sources(self) -> tuple[str, ...]:
        """The InputSource keywords this device accepts."""
        sources = ["Platen"] if self.platen is not None else []
        if self.adf is not None:
            sources.append("ADF")
            if self.adf.duplex or self.adf.back is not None:
                sources.append("ADFDuplex")
        return tuple(sources)

    def finalize(self, ticket: ScanTicket) -> ScanTicket:
        """Resolve a requested ticket into the parameters actually used.

        Unsupported Format always faults; other unsupported values are substituted
        (marked Override) unless the request set MustHonor, which faults.
        """
        default = self.default_ticket
        overridden: set[str] = set()
        defaulted: set[str] = set()

        def choose[T](local: str, requested: T | None, fallback: T) -> T:
            if requested is None:
                defaulted.add(local)
                return fallback
            return requested

        def substitute[T](local: str, value: T) -> T:
            if local in ticket.must_honor:
                raise SoapFault.sender(
                    SCAN,
                    "ClientErrorConflictingRequiredParameters",
                    f"{local} cannot be honoured",
                    local,
                )
            overridden.add(local)
            return value

        doc_format = choose("Format", ticket.format, default.format or self.formats[0])
        if doc_format not in self.formats:
            raise SoapFault.sender(
                SCAN,
                "ClientErrorFormatNotSupported",
                f"format {doc_format} is not supported",
                " ".join(self.formats),
            )
        source = choose("InputSource", ticket.input_source, default.input_source)
        if source not in self.input_sources:
            source = substitute("InputSource", self.input_sources[0])
        assert source is not None
        caps = self.source(source)

        low, high = self.quality_range
        quality = choose("CompressionQualityFactor", ticket.quality, default.quality)
        if quality is not None and not low <= quality <= high:
            quality = substitute(
                "CompressionQualityFactor", min(max(quality, low), high)
            )
        content = choose("ContentType", ticket.content_type, default.content_type)
        if ticket.content_type is not None and content not in self.content_types:
            content = substitute("ContentType", self.content_types[0])

        max_w, max_h = caps.max_size
        size = choose(
            "InputSize", ticket.input_size, default.input_size or (max_w, max_h)
        )
        if size[0] > max_w or size[1] > max_h or size[0] <= 0 or size[1] <= 0:
            size = substitute(
                "InputSize",
                (min(size[0], max_w) or max_w, min(size[1], max_h) or max_h),
            )
        scaling = choose("Scaling", ticket.scaling, default.scaling or (100, 100))
        s_low, s_high = self.scaling_range
        if not all(s_low <= v <= s_high for v in scaling):
            scaling = substitute("Scaling", (100, 100))
        rotation = choose("Rotation", ticket.rotation, default.rotation or 0)
        if rotation not in self.rotations:
            rotation = substitute("Rotation", 0)

        default_front = default.front or MediaSide()

        def side(requested: MediaSide | None) -> MediaSide:
            wanted = requested or MediaSide()
            color = choose(
                "ColorProcessing", wanted.color, default_front.color or caps.colors[-1]
            )
            if color not in caps.colors:
                color = substitute(
                    "ColorProcessing",
                    "RGB24" if "RGB24" in caps.colors else caps.colors[0],
                )
            resolution = choose(
                "Resolution", wanted.resolution, default_front.resolution or (300, 300)
            )
            if resolution[0] not in caps.widths or resolution[1] not in caps.heights:
                resolution = substitute(
                    "Resolution", caps.nearest_resolution(resolution)
                )
            region = wanted.region or ScanRegion(0, 0, size[0], size[1])
            region = ScanRegion(
                min(region.x_offset, size[0] - 1),
                min(region.y_offset, size[1] - 1),
                max(1, min(region.width, size[0] - min(region.x_offset, size[0] - 1))),
                max(1, min(region.height, size[1] - min(region.y_offset, size[1] - 1))),
            )
            return MediaSide(color=color, resolution=resolution, region=region)

        front = side(ticket.front)
        back = (
            side(ticket.back)
            if ticket.back is not None and source == "ADFDuplex"
            else None
        )
        images = choose(
            "ImagesToTransfer", ticket.images_to_transfer, default.images_to_transfer
        )
        return ScanTicket(
            job_name=ticket.job_name,
            user_name=ticket.user_name,
            job_information=ticket.job_information,
            format=doc_format,
            quality=quality,
            images_to_transfer=images,
            input_source=source,
            content_type=content,
            input_size=size,
            exposure=ticket.exposure or default.exposure,
            scaling=scaling,
            rotation=rotation,
            front=front,
            back=back,
            must_honor=ticket.must_honor,
            overridden=frozenset(overridden),
            defaulted=frozenset(defaulted),
        )


A4 = (8268, 11693)
_OFFICE_RESOLUTIONS = (75, 100, 150, 200, 300, 600)
_OFFICE_COLORS = ("BlackAndWhite1", "Grayscale8", "RGB24")


def _office_side(max_size: tuple[int, int]) -> SourceCaps:
    return SourceCaps(
        optical_resolution=(600, 600),
        widths=_OFFICE_RESOLUTIONS,
        heights=_OFFICE_RESOLUTIONS,
        colors=_OFFICE_COLORS,
        min_size=(500, 500),
        max_size=max_size,
    )


def _default_ticket(
    doc_format: str, source: str, images: int, size: tuple[int, int], **extra: object
) -> ScanTicket:
    return ScanTicket(
        job_name="Scan",
        user_name="Simulator",
        format=doc_format,
        quality=85,
        images_to_transfer=images,
        input_source=source,
        content_type="Auto",
        input_size=size,
        exposure=Exposure(),
        scaling=(100, 100),
        rotation=0,
        front=MediaSide(
            color="RGB24",
            resolution=(300, 300),
            region=ScanRegion(0, 0, size[0], size[1]),
        ),
    ).with_changes(**extra)


PHOTO_FLATBED = Profile(
    name="photo_flatbed",
    manufacturer="Simulated Imaging",
    manufacturer_url="http://example.com/",
    model_name="PhotoScan 1200",
    model_number="PS1200",
    friendly_name="Simulated PhotoScan 1200",
    serial_number="SIMPS1200-0001",
    firmware_version="1.0.3",
    hardware_id="VEN_5349&DEV_1200",
    scanner_name="PhotoScan 1200",
    scanner_info="Flatbed photo scanner",
    scanner_location="Desk",
    formats=("jfif", "exif", "png", "tiff-single-uncompressed", "dib"),
    platen=SourceCaps(
        optical_resolution=(1200, 1200),
        widths=(75, 150, 300, 600, 1200),
        heights=(75, 150, 300, 600, 1200),
        colors=_OFFICE_COLORS,
        min_size=(100, 100),
        max_size=(8500, 11700),
    ),
    content_types=("Auto", "Photo"),
    auto_exposure=True,
    default_ticket=_default_ticket(
        "jfif", "Platen", 1, (8500, 11700), content_type="Photo"
    ),
)

OFFICE_MFP = Profile(
    name="office_mfp",
    manufacturer="Simulated Imaging",
    manufacturer_url="http://example.com/",
    model_name="OfficeJet Sim 4200dn",
    model_number="4200dn",
    model_url="http://example.com/4200dn",
    friendly_name="Simulated Office MFP",
    serial_number="SIM4200-000123",
    firmware_version="2.14.0",
    device_category="Printers Scanners",
    hardware_id="VEN_5349&DEV_4200",
    scanner_name="Office MFP scanner",
    scanner_info="OfficeJet Sim 4200dn",
    scanner_location="Study, 1st floor",
    formats=(
        "jfif",
        "exif",
        "png",
        "dib",
        "tiff-single-uncompressed",
        "tiff-single-g4",
        "tiff-multi-g4",
        "pdf-a",
    ),
    platen=_office_side(A4),
    adf=AdfCaps(
        front=_office_side((8500, 14000)), back=_office_side((8500, 14000)), duplex=True
    ),
    device_types=(
        (WSDP, "Device"),
        (SCAN, "ScanDeviceType"),
        (PRINT, "PrintDeviceType"),
    ),
    hosted=(
        HostedService(
            "wprt",
            PRINT,
            "PrinterServiceType",
            "/{uuid}/print",
            "urn:simulator:print",
            f"{PRINT}/PrinterServiceType",
        ),
    ),
    default_ticket=_default_ticket("jfif", "Platen", 1, A4),
)

# Kyocera ECOSYS M2040dn, from ../shared/captures/KYOCERA-ECOSYS_M2040dn-*.xml.
_KYOCERA_SIDE = SourceCaps(
    optical_resolution=(600, 600),
    widths=(200, 300, 400, 600),
    heights=(100, 200, 300, 400, 600),
    colors=_OFFICE_COLORS,
    min_size=(1969, 1969),
    # The real bed is 8.5 x 14 in; the firmware reports it swapped (Quirk.SWAPPED_MAX_SIZE).
    max_size=(8504, 14016),
)
_KYOCERA_A4 = (8266, 11690)
_KYOCERA_SIDE_DEFAULT = MediaSide(
    color="RGB24", resolution=(300, 300), region=ScanRegion(0, 0, *_KYOCERA_A4)
)
_KM = "http://www.kyoceramita.com/ws/km-wsdl/"
_KYOCERA_SERVICES = (
    ("print", PRINT, "PrinterServiceType", "/WSDPrinter", "WSDPrinter"),
    (
        "kmaccmgt",
        f"{_KM}setting/account_management",
        "account_management",
        "",
        "AccountManagementService",
    ),
    (
        "kmaddrbook",
        f"{_KM}setting/address_book",
        "address_book",
        "",
        "AddressBookService",
    ),
    (
        "kmauthset",
        f"{_KM}setting/authentication_authorization_setting",
        "authentication_authorization_setting",
        "",
        "AuthenticationAuthorizationSettingService",
    ),
    (
        "kmboxinfo",
        f"{_KM}setting/box_information",
        "box_information",
        "",
        "BoxInformationService",
    ),
    (
        "kmcntinfo",
        f"{_KM}log/counter_information",
        "counter_information",
        "",
        "CounterInformationService",
    ),
    (
        "kmdevset",
        f"{_KM}setting/device_setting",
        "device_setting",
        "",
        "DeviceSettingService",
    ),
    (
        "kmjobmng",
        f"{_KM}job/job_management",
        "job_management",
        "",
        "JobManagementService",
    ),
    (
        "kmloginfo",
        f"{_KM}log/log_information",
        "log_information",
        "",
        "LogInformationService",
    ),
    (
        "kmpanelset",
        f"{_KM}setting/panel_setting",
        "panel_setting",
        "",
        "PanelSettingService",
    ),
    (
        "kmstored",
        f"{_KM}job/stored_data_operation",
        "stored_data_operation",
        "",
        "StoredDataOperationService",
    ),
    # A proprietary service with "scan" in its type: clients must select by QName.
    ("kmscn", f"{_KM}job/scan_operation", "scan_operation", "", "ScanOperationService"),
    ("kmuserlist", f"{_KM}setting/user_list", "user_list", "", "UserListService"),
    (
        "kmauth",
        f"{_KM}security/authentication_authorization",
        "authentication_authorization",
        "",
        "AuthenticationAuthorizationService",
    ),
    (
        "kmdevinfo",
        f"{_KM}information/device_information",
        "device_information",
        "",
        "DeviceInformationService",
    ),
    (
        "kmdevctrl",
        f"{_KM}information/device_control",
        "device_control",
        "",
        "DeviceControlService",
    ),
    ("kmfaxset", f"{_KM}setting/fax_setting", "fax_setting", "", "FaxSettingService"),
    (
        "kmdevstts",
        f"{_KM}status/device_status",
        "device_status",
        "",
        "DeviceStatusService",
    ),
    (
        "kmhypasmgt",
        f"{_KM}extension/hypas_application_management",
        "hypas_application_management",
        "",
        "HypasApplicationManagementService",
    ),
    (
        "kmcertmgt",
        f"{_KM}setting/certificate_management",
        "certificate_management",
        "",
        "CertificateManagementService",
    ),
    (
        "kmfirmwareupdate",
        f"{_KM}extension/firmware_update",
        "firmware_update",
        "",
        "FirmwareUpdateService",
    ),
    # The typo is the firmware's.
    (
        "kmmaint",
        f"{_KM}information/maintenance",
        "maaintenance",
        "",
        "MaintenanceService",
    ),
    ("kmwsdl", f"{_KM}discovery", "KMWSDL_SERVICE_TYPE", "", "KMWSDLService"),
)

KYOCERA_M2040DN = Profile(
    name="kyocera_m2040dn",
    manufacturer="Kyocera",
    manufacturer_url="http://www.kyoceradocumentsolutions.com",
    model_name="ECOSYS M2040dn",
    model_number="ECOSYS M2040dn",
    model_url="http://www.kyoceradocumentsolutions.com",
    friendly_name="Kyocera:ECOSYS M2040dn:KM7B6A91",
    serial_number="VCF9192281",
    firmware_version="2S0_2000.001.828",
    device_category="MFP MobilePrinter",
    hardware_id="VEN_0103&DEV_069D",
    scanner_name="ECOSYS M2040dn",
    scanner_info="Scanning System",
    scanner_location="Living Room",
    formats=(
        "exif",
        "pdf-a",
        "tiff-single-g4",
        "tiff-single-jpeg-tn2",
        "tiff-multi-g4",
        "tiff-multi-jpeg-tn2",
        "xps",
        "jfif",
    ),
    quality_range=(20, 100),
    content_types=("Auto", "Text", "Photo"),
    auto_exposure=True,
    brightness=False,
    contrast=False,
    platen=_KYOCERA_SIDE,
    adf=AdfCaps(front=_KYOCERA_SIDE, back=_KYOCERA_SIDE, duplex=True),
    default_ticket=ScanTicket(
        job_name="doc",
        user_name="DefaultUserName",
        format="pdf-a",
        quality=20,
        images_to_transfer=0,
        input_source="Platen",
        content_type="Mixed",
        input_size=_KYOCERA_A4,
        exposure=Exposure(),
        scaling=(100, 100),
        rotation=0,
        front=_KYOCERA_SIDE_DEFAULT,
        back=_KYOCERA_SIDE_DEFAULT,
    ),
    prefixes=KYOCERA_PREFIXES,
    device_types=(
        (WSDP, "Device"),
        (SCAN, "ScanDeviceType"),
        (PRINT, "PrintDeviceType"),
    ),
    hosted=tuple(
        HostedService(
            prefix,
            ns,
            type_name,
            path or ns.removeprefix("http://www.kyoceramita.com"),
            f"uri:{{uuid}}/{sid}",
            f"{ns}/{type_name}" if ns == PRINT else None,
        )
        for prefix, ns, type_name, path, sid in _KYOCERA_SERVICES
    ),
    device_path="/DeviceService/",
    scan_path="/WSDScanner",
    quirks=frozenset({Quirk.SWAPPED_MAX_SIZE, Quirk.UUID_WITHOUT_URN}),
)


def office_mfp_as(
    name: str,
    *,
    manufacturer: str,
    manufacturer_url: str,
    model: str,
    model_number: str,
    friendly_name: str,
    serial_number: str,
    quirks: frozenset[Quirk],
) -> Profile:
    """Return office_mfp's capabilities under a real model's identity, with its quirks.

    A client's quirk table keys on the identity (manufacturer and model name).
    """
    return replace(
        OFFICE_MFP,
        name=name,
        manufacturer=manufacturer,
        manufacturer_url=manufacturer_url,
        model_name=model,
        model_number=model_number,
        model_url=None,
        friendly_name=friendly_name,
        serial_number=serial_number,
        scanner_name=model,
        scanner_info=model,
        quirks=quirks,
    )


# Models known for their end-of-feeder behaviour.
RICOH_MP201 = office_mfp_as(
    "ricoh_mp201",
    manufacturer="RICOH",
    manufacturer_url="http://www.ricoh.com/",
    model="Aficio MP 201",
    model_number="MP 201SPF",
    friendly_name="RICOH Aficio MP 201",
    serial_number="K223M600123",
    quirks=frozenset(
        {Quirk.ZERO_IMAGES_SCANS_ONE_SHEET, Quirk.END_OF_FEEDER_JOB_ID_NOT_FOUND}
    ),
)
CANON_MF410 = office_mfp_as(
    "canon_mf410",
    manufacturer="Canon",
    manufacturer_url="http://www.canon.com/",
    model="MF410 Series",
    model_number="i-SENSYS MF411dw",
    friendly_name="Canon MF411dw",
    serial_number="XKG01234",
    quirks=frozenset(
        {
            Quirk.EMPTY_FEEDER_NOT_ACCEPTING_JOBS,
            Quirk.END_OF_FEEDER_NOT_ACCEPTING_JOBS,
        }
    ),
)


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        PHOTO_FLATBED,
        OFFICE_MFP,
        KYOCERA_M2040DN,
        RICOH_MP201,
        CANON_MF410,
    )
}
