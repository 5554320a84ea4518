"""Scanner elements: capabilities, status and default tickets from real and simulated devices."""

from __future__ import annotations

import aiohttp
import pytest

from custom_components.wsd_scan.wsd.elements import parse_scanner_elements
from custom_components.wsd_scan.wsd.exceptions import ErrorKind, WsdError
from custom_components.wsd_scan.wsd.models import (
    DefaultTicket,
    InputSource,
    ScannerDescription,
    ScannerState,
    Size,
    ValueRange,
)
from custom_components.wsd_scan.wsd.scan import ScanClient
from custom_components.wsd_scan.wsd.xml import parse_envelope
from simulator import Quirk, SimulatedScanner

from .conftest import CAPTURES

pytestmark = pytest.mark.usefixtures("socket_enabled")

KYOCERA_ELEMENTS = CAPTURES / "KYOCERA-ECOSYS_M2040dn-GetScannerElementsResponse.xml"


def test_kyocera_capture_parses_into_capabilities() -> None:
    """The captured ECOSYS M2040dn answer: swapped max size fixed, resolutions X∩Y."""
    envelope = parse_envelope(KYOCERA_ELEMENTS.read_bytes())
    assert envelope.payload is not None
    elements = parse_scanner_elements(envelope.payload)

    assert elements.description == ScannerDescription(
        name="ECOSYS M2040dn", info="Scanning System", location="Living Room"
    )
    caps = elements.capabilities
    assert caps is not None
    assert caps.formats == (
        "exif",
        "pdf-a",
        "tiff-single-g4",
        "tiff-single-jpeg-tn2",
        "tiff-multi-g4",
        "tiff-multi-jpeg-tn2",
        "xps",
        "jfif",
    )
    assert caps.quality == ValueRange(20, 100)
    assert caps.content_types == ("Auto", "Text", "Photo")
    assert caps.auto_exposure
    assert not caps.brightness
    assert not caps.contrast
    assert not caps.size_auto_detect
    assert caps.rotations == (0,)
    assert caps.sources == (InputSource.PLATEN, InputSource.ADF, InputSource.ADF_DUPLEX)
    assert caps.platen is not None
    # Widths {200,300,400,600}, heights {100,...,600}: only square resolutions both allow.
    assert caps.platen.resolutions == (200, 300, 400, 600)
    assert caps.platen.color_entries == ("BlackAndWhite1", "Grayscale8", "RGB24")
    assert caps.platen.min_size == Size(1969, 1969)
    # The device says Width 14016 / Height 8504: swapped back to 8.5 x 14 inches.
    assert caps.platen.max_size == Size(8504, 14016)
    assert caps.platen.optical_resolution == 600
    assert caps.adf_front == caps.platen
    assert caps.adf_back == caps.platen
    assert caps.adf_duplex
    # The capture asks for no status.
    assert elements.status is None
    assert elements.default_ticket == DefaultTicket(
        format="pdf-a",
        input_source="Platen",
        color="RGB24",
        resolution=300,
        content_type="Mixed",
        quality=20,
    )


STATUS_ENVELOPE = b"""<?xml version="1.0"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:w="http://schemas.microsoft.com/windows/2006/01/wdp/scan"><s:Body>
<w:GetScannerElementsResponse><w:ScannerElements>
<w:ElementData w:Name="w:ScannerStatus" w:Valid="1"><w:ScannerStatus>
 <w:ScannerCurrentTime>2024-05-14T09:12:45Z</w:ScannerCurrentTime>
 <w:ScannerState> Stopped </w:ScannerState>
 <w:ScannerStateReasons><w:ScannerStateReason>MediaJam</w:ScannerStateReason>
  <w:ScannerStateReason>CoverOpen</w:ScannerStateReason></w:ScannerStateReasons>
 <w:ActiveConditions><w:DeviceCondition w:Id="7"><w:Time>2024-05-14T09:12:00Z</w:Time>
  <w:Name>MediaJam</w:Name><w:Component>ADF</w:Component><w:Severity>Critical</w:Severity>
 </w:DeviceCondition></w:ActiveConditions>
</w:ScannerStatus></w:ElementData>
<w:ElementData Name="w:ScannerConfiguration" Valid="false"/>
<w:ElementData Name="w:DefaultScanTicket" Valid="false"><w:DefaultScanTicket/></w:ElementData>
</w:ScannerElements></w:GetScannerElementsResponse></s:Body></s:Envelope>"""


def test_status_in_pre_release_namespace_with_prefixed_attributes() -> None:
    """2006/01 namespace, `w:Valid="1"`, prefixed Id: status, reasons, conditions read."""
    envelope = parse_envelope(STATUS_ENVELOPE)
    assert envelope.payload is not None
    elements = parse_scanner_elements(envelope.payload)
    status = elements.status
    assert status is not None
    assert status.state is ScannerState.STOPPED
    assert status.raw_state == "Stopped"
    assert status.reasons == ("MediaJam", "CoverOpen")
    assert status.current_time == "2024-05-14T09:12:45Z"
    (condition,) = status.active_conditions
    assert condition.condition_id == "7"
    assert condition.name == "MediaJam"
    assert condition.component == "ADF"
    assert condition.critical
    assert condition.time == "2024-05-14T09:12:00Z"
    assert status.problems == {"MediaJam", "CoverOpen"}
    assert not status.feeder_empty
    # Valid="false" sections are absent, not empty.
    assert elements.capabilities is None
    assert elements.default_ticket is None


async def test_office_mfp_capabilities(session: aiohttp.ClientSession) -> None:
    """A flatbed plus duplex feeder, read over loopback from the simulator."""
    async with SimulatedScanner("office_mfp", discovery=False) as sim:
        elements = await ScanClient(session, sim.scan_url).get_elements()
    caps = elements.capabilities
    assert caps is not None
    assert caps.sources == (InputSource.PLATEN, InputSource.ADF, InputSource.ADF_DUPLEX)
    assert "pdf-a" in caps.formats
    assert "jfif" in caps.formats
    assert caps.platen is not None
    assert caps.platen.resolutions == (75, 100, 150, 200, 300, 600)
    assert caps.platen.max_size == Size(8268, 11693)
    assert caps.adf_front is not None
    assert caps.adf_front.max_size == Size(8500, 14000)
    assert caps.quality == ValueRange(1, 100)
    assert elements.status is not None
    assert elements.status.state is ScannerState.IDLE
    assert elements.status.reasons == ("None",)
    assert elements.status.problems == frozenset()
    assert elements.description is not None
    assert elements.description.name == "Office MFP scanner"
    assert elements.default_ticket is not None
    assert elements.default_ticket.format == "jfif"


async def test_photo_flatbed_has_only_a_platen(session: aiohttp.ClientSession) -> None:
    """No ADF element: no feeder sources, no duplex."""
    async with SimulatedScanner("photo_flatbed", discovery=False) as sim:
        elements = await ScanClient(session, sim.scan_url).get_elements()
    caps = elements.capabilities
    assert caps is not None
    assert caps.sources == (InputSource.PLATEN,)
    assert caps.adf_front is None
    assert not caps.adf_duplex
    assert caps.platen is not None
    assert caps.platen.resolutions == (75, 150, 300, 600, 1200)
    assert caps.platen.optical_resolution == 1200
    assert caps.content_types == ("Auto", "Photo")


async def test_kyocera_profile_matches_the_capture(
    session: aiohttp.ClientSession,
) -> None:
    """The simulated M2040dn (swapped sizes, Kyocera prefixes) reads like the capture."""
    async with SimulatedScanner("kyocera_m2040dn", discovery=False) as sim:
        elements = await ScanClient(session, sim.scan_url).get_elements()
    captured = parse_envelope(KYOCERA_ELEMENTS.read_bytes()).payload
    assert captured is not None
    assert elements.capabilities == parse_scanner_elements(captured).capabilities


async def test_duplex_flag_false_but_back_side_present(
    session: aiohttp.ClientSession,
) -> None:
    """Brother MFC-9340CDW: ADFSupportsDuplex=0 with ADFBack still means duplex."""
    async with SimulatedScanner(
        "office_mfp", quirks={Quirk.DUPLEX_FLAG_FALSE}, discovery=False
    ) as sim:
        elements = await ScanClient(session, sim.scan_url).get_elements()
    assert elements.capabilities is not None
    assert elements.capabilities.adf_duplex


async def test_status_reports_raised_conditions(session: aiohttp.ClientSession) -> None:
    """A raised jam and an empty tray show up in the status read from the device."""
    async with SimulatedScanner("office_mfp", discovery=False) as sim:
        client = ScanClient(session, sim.scan_url)
        sim.raise_condition("MediaJam")
        sim.raise_condition("InputTrayEmpty")
        status = await client.get_status()
    assert {c.name for c in status.active_conditions} == {"MediaJam", "InputTrayEmpty"}
    assert "MediaJam" in status.problems
    assert status.feeder_empty


def configuration(inner: str) -> bytes:
    """Return a GetScannerElementsResponse holding a ScannerConfiguration."""
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:sca="http://schemas.microsoft.com/windows/2006/08/wdp/scan"><s:Body>'
        "<sca:GetScannerElementsResponse><sca:ScannerElements>"
        '<sca:ElementData Name="sca:ScannerConfiguration" Valid="true">'
        f"<sca:ScannerConfiguration>{inner}</sca:ScannerConfiguration>"
        "</sca:ElementData></sca:ScannerElements></sca:GetScannerElementsResponse>"
        "</s:Body></s:Envelope>"
    ).encode()


def test_sloppy_configuration() -> None:
    """Unreadable numbers are skipped; a source without sizes is left out."""
    payload = parse_envelope(
        configuration(
            "<sca:DeviceSettings><sca:FormatsSupported><sca:FormatValue>jfif"
            "</sca:FormatValue></sca:FormatsSupported></sca:DeviceSettings>"
            "<sca:Platen><sca:PlatenResolutions><sca:Widths><sca:Width>300</sca:Width>"
            "<sca:Width>lots</sca:Width></sca:Widths><sca:Heights><sca:Height>150"
            "</sca:Height></sca:Heights></sca:PlatenResolutions><sca:PlatenMaximumSize>"
            "<sca:Width>8500</sca:Width><sca:Height>11000</sca:Height>"
            "</sca:PlatenMaximumSize></sca:Platen>"
            "<sca:ADF><sca:ADFFront><sca:ADFResolutions><sca:Widths><sca:Width>300"
            "</sca:Width></sca:Widths></sca:ADFResolutions></sca:ADFFront></sca:ADF>"
        )
    ).payload
    assert payload is not None
    caps = parse_scanner_elements(payload).capabilities
    assert caps is not None
    assert caps.quality is None
    assert caps.platen is not None
    # X and Y lists share nothing: the widths are offered (devices accept any mix).
    assert caps.platen.resolutions == (300,)
    assert caps.platen.min_size == Size(0, 0)
    assert caps.adf_front is None
    assert not caps.adf_duplex
    assert caps.sources == (InputSource.PLATEN,)


def test_configuration_without_device_settings() -> None:
    """DeviceSettings is required: its absence is a protocol error."""
    payload = parse_envelope(configuration("")).payload
    assert payload is not None
    with pytest.raises(WsdError) as err:
        parse_scanner_elements(payload)
    assert err.value.kind is ErrorKind.PROTOCOL
