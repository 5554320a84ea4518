"""Ticket building: only values the device advertised, in schema order."""

from __future__ import annotations

from dataclasses import replace

from lxml import etree
import pytest

from custom_components.wsd_scan.wsd.exceptions import ErrorKind, WsdError
from custom_components.wsd_scan.wsd.models import (
    ColorMode,
    DeviceCondition,
    DocumentFormat,
    InputSource,
    PaperSize,
    ScannerCapabilities,
    ScannerState,
    ScannerStatus,
    ScanSettings,
    ScanSource,
    Size,
    SourceCapabilities,
    ValueRange,
)
from custom_components.wsd_scan.wsd.quirks import NO_QUIRKS, quirks_for
from custom_components.wsd_scan.wsd.ticket import (
    build_ticket,
    choose_color,
    choose_format,
    nearest_resolution,
    ticket_element,
)
from custom_components.wsd_scan.wsd.xml import NSMAP

SIDE = SourceCapabilities(
    resolutions=(100, 200, 300, 600),
    color_entries=("BlackAndWhite1", "Grayscale8", "RGB24"),
    min_size=Size(1000, 1000),
    max_size=Size(8500, 11693),
)
NARROW_BACK = SourceCapabilities(
    resolutions=(200, 300),
    color_entries=("Grayscale8", "RGB24"),
    min_size=Size(2000, 500),
    max_size=Size(8200, 14000),
)
OFFICE = ScannerCapabilities(
    formats=("jfif", "png", "tiff-single-g4", "pdf-a"),
    content_types=("Auto", "Text", "Photo"),
    quality=ValueRange(20, 90),
    platen=SIDE,
    adf_front=SIDE,
    adf_back=NARROW_BACK,
    adf_duplex=True,
)
FLATBED = ScannerCapabilities(formats=("png", "exif"), platen=SIDE)


def test_platen_defaults() -> None:
    """A4 colour PDF from the platen: JPEG pages, one image, region = A4."""
    ticket = build_ticket(OFFICE, ScanSettings())
    assert ticket.input_source is InputSource.PLATEN
    assert ticket.images_to_transfer == 1
    assert ticket.format == "jfif"
    assert ticket.color == "RGB24"
    assert ticket.resolution == 300
    assert ticket.size == Size(8268, 11693)
    assert ticket.content_type == "Auto"
    assert ticket.quality == 85
    assert ticket.job_information


def test_feeder_duplex_uses_what_both_sides_support() -> None:
    """Duplex: ImagesToTransfer 0, resolutions/colours/sizes both sides allow."""
    ticket = build_ticket(
        OFFICE,
        ScanSettings(
            source=ScanSource.FEEDER_DUPLEX,
            resolution=600,
            color=ColorMode.BW,
            paper=PaperSize.LEGAL,
        ),
    )
    assert ticket.input_source is InputSource.ADF_DUPLEX
    assert ticket.images_to_transfer == 0
    assert ticket.resolution == 300  # the back side stops at 300
    assert ticket.color == "Grayscale8"  # the back side has no BlackAndWhite1
    assert ticket.size == Size(8200, 11693)  # narrowest width, shortest height
    assert ticket.format == "tiff-single-g4"
    assert ticket.quality is None  # lossless


def test_quirk_table_drives_the_ticket() -> None:
    """Model quirks: Ricoh's feeder count, Canon iR colour limit, Samsung's TIFF limit."""
    ricoh = quirks_for("RICOH", "Aficio MP 201")
    assert ricoh.names == ("feeder_images_to_transfer_100",)
    feeder = ScanSettings(source=ScanSource.FEEDER)
    assert build_ticket(OFFICE, feeder, quirks=ricoh).images_to_transfer == 100
    assert build_ticket(OFFICE, feeder).images_to_transfer == 0
    platen = ScanSettings(source=ScanSource.PLATEN)
    assert build_ticket(OFFICE, platen, quirks=ricoh).images_to_transfer == 1

    canon = quirks_for("Canon", "iR2630")
    assert canon.names == ("color_up_to_300_dpi",)
    color = ScanSettings(resolution=600)
    assert build_ticket(OFFICE, color).resolution == 600
    assert build_ticket(OFFICE, color, quirks=canon).resolution == 300
    gray = ScanSettings(resolution=600, color=ColorMode.GRAY)
    assert build_ticket(OFFICE, gray, quirks=canon).resolution == 600

    samsung = quirks_for("Samsung Electronics Co., Ltd.", "M288x Series")
    assert samsung.names == ("uncompressed_tiff_up_to_150_dpi",)
    device = replace(OFFICE, formats=("tiff-single-uncompressed", "jfif"))
    tiff = ScanSettings(format=DocumentFormat.TIFF, resolution=300)
    assert build_ticket(device, tiff).format == "tiff-single-uncompressed"
    assert build_ticket(device, tiff, quirks=samsung).format == "jfif"
    low = ScanSettings(format=DocumentFormat.TIFF, resolution=100)
    assert build_ticket(device, low, quirks=samsung).format == (
        "tiff-single-uncompressed"
    )


@pytest.mark.parametrize(
    ("manufacturer", "model"),
    [
        ("RICOH", "Aficio MP 2015"),
        ("Canon", "MF410 Series"),
        ("Samsung", "C480 Series"),
        (None, None),
        ("Kyocera", "ECOSYS M2040dn"),
    ],
)
def test_other_devices_have_no_quirks(
    manufacturer: str | None, model: str | None
) -> None:
    """Only the models named in the table get its entries."""
    assert quirks_for(manufacturer, model) is NO_QUIRKS


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, InputSource.ADF),
        (ScannerStatus(ScannerState.IDLE), InputSource.ADF),
        (
            ScannerStatus(
                ScannerState.IDLE,
                active_conditions=(DeviceCondition("1", "InputTrayEmpty"),),
            ),
            InputSource.PLATEN,
        ),
    ],
)
def test_auto_source(status: ScannerStatus | None, expected: InputSource) -> None:
    """Auto takes the feeder unless the device reports it empty."""
    ticket = build_ticket(OFFICE, ScanSettings(source=ScanSource.AUTO), status=status)
    assert ticket.input_source is expected


def test_auto_source_on_flatbed_and_feeder_only_devices() -> None:
    """Auto falls back to whatever source exists."""
    assert (
        build_ticket(FLATBED, ScanSettings(source=ScanSource.AUTO)).input_source
        is InputSource.PLATEN
    )
    feeder_only = ScannerCapabilities(formats=("jfif",), adf_front=SIDE)
    assert (
        build_ticket(feeder_only, ScanSettings(source=ScanSource.AUTO)).input_source
        is InputSource.ADF
    )


@pytest.mark.parametrize("source", [ScanSource.FEEDER, ScanSource.FEEDER_DUPLEX])
def test_missing_source_is_unsupported(source: ScanSource) -> None:
    """A flatbed has no feeder: a clear UNSUPPORTED error, nothing sent."""
    with pytest.raises(WsdError) as err:
        build_ticket(FLATBED, ScanSettings(source=source))
    assert err.value.kind is ErrorKind.UNSUPPORTED


def test_duplex_needs_duplex_feeder() -> None:
    """A simplex feeder offers no duplex."""
    simplex = ScannerCapabilities(formats=("jfif",), adf_front=SIDE)
    with pytest.raises(WsdError):
        build_ticket(simplex, ScanSettings(source=ScanSource.FEEDER_DUPLEX))


@pytest.mark.parametrize(
    ("formats", "wanted", "color", "expected"),
    [
        (
            ("jfif", "png", "tiff-single-g4"),
            DocumentFormat.PDF,
            ColorMode.COLOR,
            "jfif",
        ),
        (
            ("jfif", "png", "tiff-single-g4"),
            DocumentFormat.PDF,
            ColorMode.BW,
            "tiff-single-g4",
        ),
        (("exif", "png"), DocumentFormat.PDF, ColorMode.GRAY, "exif"),
        (("jfif", "png"), DocumentFormat.PDF, ColorMode.BW, "png"),
        (("png", "dib"), DocumentFormat.JPEG, ColorMode.COLOR, "png"),
        (
            ("jfif", "tiff-single-uncompressed"),
            DocumentFormat.TIFF,
            ColorMode.GRAY,
            "tiff-single-uncompressed",
        ),
        (
            ("jfif", "tiff-single-g4"),
            DocumentFormat.TIFF,
            ColorMode.BW,
            "tiff-single-g4",
        ),
        (("jfif",), DocumentFormat.PNG, ColorMode.COLOR, "jfif"),
        (("pdf-a", "xps"), DocumentFormat.PDF, ColorMode.COLOR, "pdf-a"),
    ],
)
def test_format_fallback_chain(
    formats: tuple[str, ...], wanted: DocumentFormat, color: ColorMode, expected: str
) -> None:
    """Preferred device formats first, then any single-image format, then anything."""
    assert choose_format(formats, wanted, color) == expected


def test_no_format_at_all() -> None:
    """A device without formats cannot scan."""
    with pytest.raises(WsdError) as err:
        choose_format((), DocumentFormat.PDF, ColorMode.COLOR)
    assert err.value.kind is ErrorKind.UNSUPPORTED


def test_color_fallbacks() -> None:
    """Missing colour entries fall back sensibly; an empty list still yields a keyword."""
    assert choose_color(("RGB24",), ColorMode.GRAY) == "RGB24"
    assert choose_color(("Grayscale16",), ColorMode.GRAY) == "Grayscale16"
    assert choose_color(("Vendor:Sepia",), ColorMode.BW) == "Vendor:Sepia"
    assert choose_color((), ColorMode.BW) == "BlackAndWhite1"


def test_nearest_resolution_prefers_higher_on_tie() -> None:
    """250 is as near to 200 as to 300: take the sharper one."""
    assert nearest_resolution((200, 300), 250) == 300
    assert nearest_resolution((75, 150, 300), 1200) == 300
    assert nearest_resolution((75, 150, 300), 10) == 75


@pytest.mark.parametrize(
    ("paper", "expected"),
    [
        (PaperSize.A5, Size(5827, 8268)),
        (PaperSize.LETTER, Size(8500, 11000)),
        (PaperSize.LEGAL, Size(8500, 11693)),  # clamped to the platen's height
        (PaperSize.MAX, Size(8500, 11693)),
        (Size.from_mm(100, 150), Size(3937, 5906)),
        (Size.from_mm(10, 400), Size(1000, 11693)),  # raised to the minimum width
    ],
)
def test_region_from_paper(paper: PaperSize | Size, expected: Size) -> None:
    """Paper sizes in 1/1000 inch, clamped to the source's minimum and maximum."""
    assert build_ticket(OFFICE, ScanSettings(paper=paper)).size == expected


def test_content_type_and_quality() -> None:
    """Supported content types pass; others become Auto; quality is clamped."""
    ticket = build_ticket(
        OFFICE,
        ScanSettings(format=DocumentFormat.JPEG, content_type="Photo", quality=99),
    )
    assert ticket.content_type == "Photo"
    assert ticket.quality == 90
    ticket = build_ticket(OFFICE, ScanSettings(content_type="Halftone", quality=1))
    assert ticket.content_type == "Auto"
    assert ticket.quality == 20
    no_auto = ScannerCapabilities(
        formats=("png",), content_types=("Text",), platen=SIDE
    )
    assert build_ticket(no_auto, ScanSettings()).content_type == "Text"
    assert build_ticket(FLATBED, ScanSettings()).content_type is None
    # exif is lossy, but the device gave no quality range: nothing is sent.
    assert (
        build_ticket(FLATBED, ScanSettings(format=DocumentFormat.JPEG)).quality is None
    )


def test_ticket_xml_in_schema_order() -> None:
    """JobInformation always present, DocumentParameters children in schema order."""
    root = ticket_element(build_ticket(OFFICE, ScanSettings(source=ScanSource.FEEDER)))
    description = root.find("sca:JobDescription", NSMAP)
    assert description is not None
    assert [etree.QName(c).localname for c in description] == [
        "JobName",
        "JobOriginatingUserName",
        "JobInformation",
    ]
    parameters = root.find("sca:DocumentParameters", NSMAP)
    assert parameters is not None
    assert [etree.QName(c).localname for c in parameters] == [
        "Format",
        "CompressionQualityFactor",
        "ImagesToTransfer",
        "InputSource",
        "ContentType",
        "InputSize",
        "MediaSides",
    ]
    assert root.findtext(".//sca:InputSource", namespaces=NSMAP) == "ADF"
    assert root.findtext(".//sca:ImagesToTransfer", namespaces=NSMAP) == "0"
    assert root.findtext(".//sca:ScanRegionWidth", namespaces=NSMAP) == "8268"
    assert root.findtext(".//sca:Resolution/sca:Height", namespaces=NSMAP) == "300"
    assert root.find(".//sca:MediaBack", NSMAP) is None
    assert not any(
        name.endswith("MustHonor") for node in root.iter() for name in node.attrib
    )
