"""DPWS metadata (wsd/metadata.py): captures, the simulator and scripted devices."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.wsd_scan.wsd import discovery
from custom_components.wsd_scan.wsd.exceptions import ErrorKind, WsdError, WsdFault
from custom_components.wsd_scan.wsd.metadata import (
    ACTION_GET,
    get_device_info,
    get_request,
    parse_device_info,
)
from custom_components.wsd_scan.wsd.models import DeviceInfo
from custom_components.wsd_scan.wsd.xml import (
    ANONYMOUS,
    SCAN,
    WSDP,
    find,
    parse_envelope,
    text,
)
from simulator import PROFILES, Quirk, SimulatedScanner
from tests.loopback import DeviceFactory

from .conftest import CAPTURES

KYOCERA = (CAPTURES / "KYOCERA-ECOSYS_M2040dn-MetadataGetResponse.xml").read_bytes()
KYOCERA_UUID = "4509a320-00a0-008f-00b6-002507510eca"
KM_SCAN_OPERATION = "http://www.kyoceramita.com/ws/km-wsdl/job/scan_operation"
PRINT = discovery.PRINT


def get_response(
    sections: str, *, extra_namespaces: str = "", host: str | None = None
) -> bytes:
    """Write a GetResponse with the given MetadataSection contents."""
    relationship_host = (
        "<wsdp:Host><wsa:EndpointReference>"
        f"<wsa:Address>{host}</wsa:Address></wsa:EndpointReference></wsdp:Host>"
        if host
        else ""
    )
    return (
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
        ' xmlns:mex="http://schemas.xmlsoap.org/ws/2004/09/mex"'
        ' xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof"'
        ' xmlns:pnpx="http://schemas.microsoft.com/windows/pnpx/2005/10"'
        f"{extra_namespaces}>"
        "<soap:Header><wsa:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/"
        "GetResponse</wsa:Action></soap:Header><soap:Body><mex:Metadata>"
        f"{sections.replace('<HOST/>', relationship_host)}</mex:Metadata>"
        "</soap:Body></soap:Envelope>"
    ).encode()


def hosted(types: str, *addresses: str, extra: str = "") -> str:
    """Write a wsdp:Hosted entry."""
    references = "".join(
        f"<wsa:EndpointReference><wsa:Address>{a}</wsa:Address></wsa:EndpointReference>"
        for a in addresses
    )
    return f"<wsdp:Hosted>{references}<wsdp:Types>{types}</wsdp:Types>{extra}</wsdp:Hosted>"


def relationship(*entries: str) -> str:
    """Write a Relationship section (lower-case dialect, as the Scan spec's sample)."""
    return (
        '<mex:MetadataSection Dialect="http://schemas.xmlsoap.org/ws/2006/02/devprof/relationship">'
        '<wsdp:Relationship Type="http://schemas.xmlsoap.org/ws/2006/02/devprof/host">'
        f"<HOST/>{''.join(entries)}</wsdp:Relationship></mex:MetadataSection>"
    )


def decode(
    data: bytes, endpoint: str | None = "urn:uuid:1", **kwargs: str
) -> DeviceInfo:
    """Parse a GetResponse body."""
    return parse_device_info(parse_envelope(data), endpoint, **kwargs)


# --- the Kyocera capture ----------------------------------------------------------------------


def test_kyocera_capture() -> None:
    """The real ECOSYS M2040dn answer decodes into the right model."""
    info = decode(
        KYOCERA,
        f"uuid:{KYOCERA_UUID}",
        source_url="http://192.168.1.102:5358/DeviceService/",
    )
    assert info.uuid == KYOCERA_UUID
    assert info.manufacturer == "Kyocera"
    assert info.model == "ECOSYS M2040dn"
    assert info.model_number == "ECOSYS M2040dn"
    assert info.friendly_name == "Kyocera:ECOSYS M2040dn:KM7B6A91"
    assert info.serial_number == "VCF9192281"
    assert info.firmware_version == "2S0_2000.001.828"
    assert info.presentation_url == "http://192.168.1.102"
    assert info.manufacturer_url == "http://www.kyoceradocumentsolutions.com"
    assert info.scan_service_url == "http://192.168.1.102:5358/WSDScanner"
    assert info.name == "Kyocera:ECOSYS M2040dn:KM7B6A91"
    assert len(info.services) == 24
    scanner = info.services[0]
    assert scanner.service_id == f"uri:{KYOCERA_UUID}/WSDScanner"
    assert scanner.types == {(SCAN, "ScannerServiceType")}
    assert scanner.addresses == (
        "http://192.168.1.102:5358/WSDScanner",
        "http://[fe80::217:c8ff:fe7b:6a91]:5358/WSDScanner",
    )
    # Kyocera's own "scan_operation" service is something else entirely.
    km_scan = next(
        s for s in info.services if (KM_SCAN_OPERATION, "scan_operation") in s.types
    )
    assert (
        km_scan.addresses[0]
        == "http://192.168.1.102:5358/ws/km-wsdl/job/scan_operation"
    )
    # The misspelt maintenance type is kept as the device wrote it.
    assert any(local == "maaintenance" for s in info.services for _, local in s.types)


def test_kyocera_capture_fetched_over_ipv6_link_local() -> None:
    """Answered on the link-local XAddr: that address, zoned, comes first."""
    info = decode(
        KYOCERA,
        KYOCERA_UUID,
        source_url="http://[fe80::217:c8ff:fe7b:6a91%25eth0]:5358/DeviceService/",
    )
    assert (
        info.scan_service_url
        == "http://[fe80::217:c8ff:fe7b:6a91%25eth0]:5358/WSDScanner"
    )
    assert info.services[0].addresses[1] == "http://192.168.1.102:5358/WSDScanner"


async def test_kyocera_capture_over_http(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """The capture served by a device decodes the same through get_device_info."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=KYOCERA, content_type="application/soap+xml")

    url = await http_device(handler)
    info = await get_device_info(
        session, f"uuid:{KYOCERA_UUID}", [f"{url}/DeviceService/"]
    )
    assert info.uuid == KYOCERA_UUID
    assert info.serial_number == "VCF9192281"
    assert info.scan_service_url == "http://192.168.1.102:5358/WSDScanner"


# --- the simulator -----------------------------------------------------------------------------


async def test_metadata_of_the_simulator(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    """Every field of the profile, and the request was Windows-shaped."""
    async with SimulatedScanner("office_mfp", discovery=False) as sim:
        info = await get_device_info(session, sim.uuid, [sim.device_url])
    profile = sim.profile
    assert info == DeviceInfo(
        uuid=sim.uuid,
        manufacturer=profile.manufacturer,
        model=profile.model_name,
        model_number=profile.model_number,
        friendly_name=profile.friendly_name,
        serial_number=profile.serial_number,
        firmware_version=profile.firmware_version,
        presentation_url=sim.presentation_url,
        manufacturer_url=profile.manufacturer_url,
        scan_service_url=sim.scan_url,
        services=info.services,
    )
    action, body = sim.requests[0]
    assert action == ACTION_GET
    request = parse_envelope(body)
    assert text(request.header, "wsa:To") == f"urn:uuid:{sim.uuid}"
    assert text(request.header, "wsa:ReplyTo/wsa:Address") == ANONYMOUS
    assert request.payload is None
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<soap:Envelope")


async def test_metadata_of_a_picky_kyocera(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    """Kyocera's `uuid:` EPR, strict wsa:To and prefixes: discovery → metadata works."""
    async with SimulatedScanner(
        "kyocera_m2040dn",
        quirks=[Quirk.UUID_WITHOUT_URN, Quirk.STRICT_WSA_TO, Quirk.STRICT_PREFIXES],
        discovery=False,
    ) as sim:
        (device,) = await discovery.directed_probe(session, sim.probe_url)
        info = await get_device_info(session, device.uuid, device.xaddrs)
    assert info.uuid == sim.uuid
    assert info.model == "ECOSYS M2040dn"
    assert info.scan_service_url == sim.scan_url


async def test_print_only_candidate_is_confirmed_by_metadata(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    """An MFP hiding its scanner in discovery shows the scan service in its metadata."""
    profile = dataclasses.replace(
        PROFILES["office_mfp"],
        device_types=((WSDP, "Device"), (PRINT, "PrintDeviceType")),
    )
    async with SimulatedScanner(profile, discovery=False) as sim:
        (device,) = await discovery.directed_probe(session, sim.probe_url)
        assert not discovery.is_scanner(device)
        assert discovery.is_scanner_candidate(device)
        info = await get_device_info(session, device.uuid, device.xaddrs)
    assert info.scan_service_url == sim.scan_url


# --- several addresses ------------------------------------------------------------------------


async def test_addresses_are_tried_in_order_until_one_answers(
    socket_enabled: None,
    http_device: DeviceFactory,
    session: aiohttp.ClientSession,
    closed_port: int,
) -> None:
    """Unreachable, silent, empty and non-SOAP addresses are skipped, in order."""
    contacted: list[str] = []
    release = asyncio.Event()

    async def silent(request: web.Request) -> web.StreamResponse:
        contacted.append("silent")
        await release.wait()
        return web.Response(status=202)

    async def empty(request: web.Request) -> web.StreamResponse:
        contacted.append("empty")
        return web.Response(status=202)

    async def html(request: web.Request) -> web.StreamResponse:
        contacted.append("html")
        return web.Response(
            status=404, text="<html>no</html>", content_type="text/html"
        )

    urls = [
        f"http://127.0.0.1:{closed_port}/device",
        "soap.udp://127.0.0.1:3702/",
        await http_device(silent),
        await http_device(empty),
        await http_device(html),
    ]
    async with SimulatedScanner("office_mfp", discovery=False) as sim:
        info = await get_device_info(
            session,
            sim.uuid,
            [*urls, sim.device_url, "http://127.0.0.1:1/never"],
            timeout=0.5,
        )
        release.set()
    assert info.scan_service_url == sim.scan_url
    assert contacted == ["silent", "empty", "html"]


async def test_all_addresses_failing_raises_the_most_telling_error(
    http_device: DeviceFactory, session: aiohttp.ClientSession, closed_port: int
) -> None:
    """An answer that made no sense beats connection failures; faults stay faults."""
    dead = f"http://127.0.0.1:{closed_port}/"

    async def fault(request: web.Request) -> web.StreamResponse:
        body = (
            '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault>'
            "<s:Code><s:Value>s:Sender</s:Value><s:Subcode>"
            "<s:Value>a:DestinationUnreachable</s:Value></s:Subcode></s:Code>"
            "<s:Reason><s:Text>wrong To</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"
        )
        return web.Response(status=400, text=body, content_type="application/soap+xml")

    with pytest.raises(WsdError) as caught:
        await get_device_info(session, "urn:uuid:1", [dead, dead + "x"])
    assert caught.value.kind is ErrorKind.UNREACHABLE

    with pytest.raises(WsdFault) as faulted:
        await get_device_info(session, "urn:uuid:1", [dead, await http_device(fault)])
    assert faulted.value.subcode == "DestinationUnreachable"

    with pytest.raises(WsdError) as invalid:
        await get_device_info(session, "urn:uuid:1", ["soap.udp://x/", "mailto:a@b"])
    assert invalid.value.kind is ErrorKind.INVALID_ARGUMENT


async def test_service_on_another_host_and_port(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """The scan service URL comes from metadata, preferring the host that answered."""
    answered: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        answered.append(request.host)
        body = get_response(
            relationship(
                hosted(
                    "wscn:ScannerServiceType",
                    "http://192.168.3.1:8018/wsd/scan",  # another interface of the device
                    f"http://{request.host}/wsd/scan",
                ),
                hosted("wscn:ScannerServiceType", "http://10.9.9.9:53048/other"),
            ),
            extra_namespaces=f' xmlns:wscn="{SCAN}"',
        )
        return web.Response(body=body, content_type="application/soap+xml")

    url = await http_device(handler)
    info = await get_device_info(session, "urn:uuid:1", [f"{url}/wsd"])
    assert info.scan_service_url == f"http://{answered[0]}/wsd/scan"
    assert info.services[0].addresses[1] == "http://192.168.3.1:8018/wsd/scan"
    assert info.services[1].addresses == ("http://10.9.9.9:53048/other",)


# --- decoding details ------------------------------------------------------------------------


def test_scan_service_is_chosen_by_qname() -> None:
    """A foreign namespace's ScannerServiceType is not it; the scan namespace's is."""
    data = get_response(
        relationship(
            hosted("fake:ScannerServiceType", "http://10.0.0.1/fake"),
            hosted("km:scan_operation", "http://10.0.0.1/km"),
            hosted("s:ScannerServiceType", "http://10.0.0.1/real"),
        ),
        extra_namespaces=(
            ' xmlns:fake="urn:vendor:scan" xmlns:km="http://www.kyoceramita.com/ws/km-wsdl/job/scan_operation"'
            f' xmlns:s="{SCAN}"'
        ),
    )
    assert decode(data).scan_service_url == "http://10.0.0.1/real"


def test_scan_service_in_the_2006_01_namespace_and_by_compatible_id() -> None:
    """Pre-release namespace aliasing; PnP-X CompatibleId as the fallback."""
    old = get_response(
        relationship(hosted("o:ScannerServiceType", "http://10.0.0.1/old")),
        extra_namespaces=' xmlns:o="http://schemas.microsoft.com/windows/2006/01/wdp/scan"',
    )
    assert decode(old).scan_service_url == "http://10.0.0.1/old"
    by_id = get_response(
        relationship(
            hosted("x:Thing", "http://10.0.0.1/print"),
            hosted(
                "x:Other",
                "http://10.0.0.1/scan",
                extra=f"<pnpx:CompatibleId>{SCAN}/ScannerServiceType</pnpx:CompatibleId>",
            ),
        ),
        extra_namespaces=' xmlns:x="urn:x"',
    )
    assert decode(by_id).scan_service_url == "http://10.0.0.1/scan"
    none = get_response(
        relationship(hosted("x:Thing", "http://10.0.0.1/print")),
        extra_namespaces=' xmlns:x="urn:x"',
    )
    assert decode(none).scan_service_url is None


def test_relationship_sections_are_merged() -> None:
    """Hosted services of several Relationship sections all count (DPWS R2029)."""
    data = get_response(
        relationship(hosted("x:A", "http://10.0.0.1/a"))
        + relationship(hosted("s:ScannerServiceType", "http://10.0.0.1/s")),
        extra_namespaces=f' xmlns:x="urn:x" xmlns:s="{SCAN}"',
    )
    info = decode(data)
    assert [service.addresses[0] for service in info.services] == [
        "http://10.0.0.1/a",
        "http://10.0.0.1/s",
    ]
    assert info.scan_service_url == "http://10.0.0.1/s"


def test_missing_this_device_fields_and_identity_from_host() -> None:
    """Only ThisModel's required parts: the rest is None; the Host EPR names the device."""
    data = get_response(
        '<mex:MetadataSection Dialect="http://schemas.xmlsoap.org/ws/2006/02/devprof/ThisModel">'
        "<wsdp:ThisModel><wsdp:Manufacturer>Acme</wsdp:Manufacturer>"
        "<wsdp:ModelName>  Scan\n  9000  </wsdp:ModelName></wsdp:ThisModel></mex:MetadataSection>"
        '<mex:MetadataSection Dialect="http://schemas.xmlsoap.org/ws/2006/02/devprof/ThisDevice">'
        "<wsdp:ThisDevice><wsdp:FriendlyName/></wsdp:ThisDevice></mex:MetadataSection>"
        + relationship(),
        host="urn:uuid:ABCDEF00-0000-4000-8000-000000000001",
    )
    info = decode(data, None)
    assert info.uuid == "abcdef00-0000-4000-8000-000000000001"
    by_url = decode(data, "http://10.0.0.7/wsd", source_url="http://10.0.0.7/wsd")
    assert by_url.uuid == info.uuid
    assert (info.manufacturer, info.model) == ("Acme", "Scan 9000")
    assert info.friendly_name is None
    assert info.serial_number is None
    assert info.firmware_version is None
    assert info.presentation_url is None
    assert info.scan_service_url is None
    assert info.name == "Acme Scan 9000"


def test_localised_and_oversized_fields() -> None:
    """The first localised value wins; names are cut at DPWS MAX_FIELD_SIZE."""
    data = get_response(
        '<mex:MetadataSection><wsdp:ThisDevice xmlns:xml="http://www.w3.org/XML/1998/namespace">'
        '<wsdp:FriendlyName xml:lang="de">Büro</wsdp:FriendlyName>'
        '<wsdp:FriendlyName xml:lang="en">Office</wsdp:FriendlyName>'
        f"<wsdp:SerialNumber>{'9' * 5000}</wsdp:SerialNumber>"
        "</wsdp:ThisDevice></mex:MetadataSection>"
    )
    info = decode(data)
    assert info.friendly_name == "Büro"
    assert info.serial_number == "9" * 256


@pytest.mark.parametrize(
    ("presentation", "expected"),
    [
        ("/web/index.html", "http://10.0.0.7:80/web/index.html"),
        ("https://10.0.0.7/", "https://10.0.0.7/"),
        ("javascript:alert(1)", None),
        ("http://", None),
        ("http://[::1", None),
    ],
)
def test_presentation_url(presentation: str, expected: str | None) -> None:
    """Relative URLs resolve against the answering XAddr; only http(s) URLs are kept."""
    data = get_response(
        "<mex:MetadataSection><wsdp:ThisModel>"
        f"<wsdp:PresentationUrl>{presentation}</wsdp:PresentationUrl>"
        "</wsdp:ThisModel></mex:MetadataSection>"
    )
    info = decode(data, source_url="http://10.0.0.7:80/wsd/device")
    assert info.presentation_url == expected


def test_unparseable_source_url_changes_nothing() -> None:
    """A broken source URL neither crashes nor reorders anything."""
    info = decode(KYOCERA, KYOCERA_UUID, source_url="http://[fe80::1")
    assert info.scan_service_url == "http://192.168.1.102:5358/WSDScanner"


def test_answers_without_metadata_or_identity_are_protocol_errors() -> None:
    """A GetResponse must carry DPWS metadata and name the device somehow."""
    with pytest.raises(WsdError, match="holds no DPWS metadata") as caught:
        decode(get_response(""))
    assert caught.value.kind is ErrorKind.PROTOCOL
    with pytest.raises(WsdError, match="identity"):
        decode(get_response(relationship()), None)
    with pytest.raises(WsdError, match="identity"):
        decode(get_response(relationship()), "urn:uuid:")
    # A URL with no Host in the metadata: the URL is all the identity there is.
    assert (
        decode(get_response(relationship()), "http://10.0.0.7/").uuid
        == "http://10.0.0.7/"
    )


def test_get_request_shape() -> None:
    """wsa:To is the endpoint address (a bare UUID as urn:uuid:), empty Body."""
    for endpoint, to in (
        ("1234", "urn:uuid:1234"),
        ("uuid:1234", "uuid:1234"),
        (" urn:uuid:1234 ", "urn:uuid:1234"),
    ):
        request = parse_envelope(get_request(endpoint))
        assert text(request.header, "wsa:To") == to
        assert request.action == ACTION_GET
        assert find(request.header, "wsa:ReplyTo/wsa:Address") is not None
        assert request.payload is None


# --- fuzzing ---------------------------------------------------------------------------------


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(KYOCERA)), st.binary(max_size=24)), max_size=6
    )
)
def test_damaged_metadata_raises_only_wsd_error(edits: list[tuple[int, bytes]]) -> None:
    """Mutated Kyocera metadata decodes or raises WsdError; nothing else escapes."""
    data = bytearray(KYOCERA)
    for position, insert in edits:
        data[position : position + len(insert)] = insert
    try:
        decode(bytes(data), None, source_url="http://[fe80::1%25eth0]:5358/x")
    except WsdError as err:
        kind = err.kind
    else:
        kind = None
    assert kind in (None, ErrorKind.PROTOCOL)
