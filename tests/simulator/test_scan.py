"""WS-Scan operations, job state machine and image transfer of the simulator."""

from __future__ import annotations

import asyncio
import io

import aiohttp
from lxml import etree
from PIL import Image
import pytest

from simulator import Quirk, SimulatedScanner

from .conftest import NS, Client, envelope, fault_subcode, image_part, ticket

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_get_scanner_elements_returns_requested_sections(client: Client) -> None:
    """Each requested section comes back as valid ElementData; unknown names are invalid."""
    names = "".join(
        f"<sca:Name>sca:{name}</sca:Name>"
        for name in (
            "ScannerDescription",
            "ScannerConfiguration",
            "ScannerStatus",
            "DefaultScanTicket",
            "Bogus",
        )
    )
    status, reply = await client.call(
        "GetScannerElements",
        f"<sca:GetScannerElementsRequest><sca:RequestedElements>{names}</sca:RequestedElements></sca:GetScannerElementsRequest>",
    )
    assert status == 200
    data = reply.findall(".//sca:ElementData", NS)
    assert [(d.get("Name"), d.get("Valid")) for d in data] == [
        ("sca:ScannerDescription", "true"),
        ("sca:ScannerConfiguration", "true"),
        ("sca:ScannerStatus", "true"),
        ("sca:DefaultScanTicket", "true"),
        ("sca:Bogus", "false"),
    ]
    assert reply.findtext(".//sca:ScannerState", namespaces=NS) == "Idle"
    assert reply.findtext(".//sca:ADFSupportsDuplex", namespaces=NS) == "true"


async def test_platen_scan_png(client: Client, sim: SimulatedScanner) -> None:
    """CreateScanJob then RetrieveImage yields a PNG of the announced size; job completes."""
    job_id, token = await client.create_job(ticket(doc_format="png", dpi=75))
    status, body, content_type = await client.retrieve(job_id, token)
    assert status == 200
    assert content_type.startswith("multipart/related")
    image = Image.open(io.BytesIO(image_part(body, content_type)))
    assert image.format == "PNG"
    assert image.size == (150, 225)
    assert sim.jobs[int(job_id)].state == "Completed"
    status, body, _ = await client.retrieve(job_id, token)
    assert status == 400


async def job_of(client: Client, **kwargs: object) -> tuple[str, str]:
    """Create a job from `ticket(**kwargs)`."""
    return await client.create_job(ticket(**kwargs))  # type: ignore[arg-type]


async def fault_of(
    client: Client, operation: str, body: str, **kwargs: object
) -> tuple[int, str | None]:
    """Call and return (HTTP status, fault subcode)."""
    status, reply = await client.call(operation, body, **kwargs)
    return status, fault_subcode(reply)


async def retrieve_all(
    client: Client, job_id: str, token: str
) -> tuple[list[bytes], str | None]:
    """RetrieveImage until a fault; return the images and the ending fault."""
    images = []
    while True:
        status, body, content_type = await client.retrieve(job_id, token)
        if not content_type.startswith("multipart/related"):
            return images, fault_subcode(etree.fromstring(body))
        images.append(image_part(body, content_type))
        assert status == 200


async def test_adf_duplex_odd_images_and_end_of_feeder(
    client: Client, sim: SimulatedScanner
) -> None:
    """ADFDuplex counts sides; an odd ImagesToTransfer drops the last back; then NoImagesAvailable."""
    sim.load_feeder(3)
    job_id, token = await job_of(client, source="ADFDuplex", images=5, back=True)
    images, end = await retrieve_all(client, job_id, token)
    assert len(images) == 5
    assert end == "ClientErrorNoImagesAvailable"
    assert sim.feeder == 0
    job = sim.jobs[int(job_id)]
    assert [p.side for p in job.planned] == ["front", "back"] * 2 + ["front"]
    assert job.state == "Completed" and job.reasons == ["JobCompletedSuccessfully"]


@pytest.mark.parametrize(
    ("quirk", "end"),
    [
        (None, "ClientErrorNoImagesAvailable"),
        (Quirk.END_OF_FEEDER_JOB_ID_NOT_FOUND, "ClientErrorJobIdNotFound"),
        (Quirk.END_OF_FEEDER_EMPTY_IMAGE, "ClientErrorNoImagesAvailable"),
    ],
)
async def test_end_of_feeder_variants(
    quirk: Quirk | None, end: str, session: aiohttp.ClientSession
) -> None:
    """Each real device's way of saying 'feeder empty'."""
    async with SimulatedScanner(
        "office_mfp", discovery=False, quirks={quirk} if quirk else ()
    ) as sim:
        sim.load_feeder(2)
        client = Client(session, sim)
        job_id, token = await job_of(client, source="ADF", images=0)
        images, fault = await retrieve_all(client, job_id, token)
    assert fault == end
    assert [len(i) > 0 for i in images] == (
        [True, True, False]
        if quirk is Quirk.END_OF_FEEDER_EMPTY_IMAGE
        else [True, True]
    )


@pytest.mark.parametrize(
    ("quirks", "status", "subcode"),
    [
        ((), 400, "ClientErrorNoImagesAvailable"),
        ((Quirk.EMPTY_FEEDER_NOT_ACCEPTING_JOBS,), 500, "ServerErrorNotAcceptingJobs"),
        ((Quirk.FAULT_IN_HTTP_200,), 200, "ClientErrorNoImagesAvailable"),
    ],
)
async def test_empty_feeder_at_create(
    quirks: tuple[Quirk, ...], status: int, subcode: str, session: aiohttp.ClientSession
) -> None:
    """An empty ADF faults at CreateScanJob (Canon MF410 says NotAcceptingJobs, Lexmark uses HTTP 200)."""
    async with SimulatedScanner("office_mfp", discovery=False, quirks=quirks) as sim:
        result = await fault_of(
            Client(session, sim),
            "CreateScanJob",
            f"<sca:CreateScanJobRequest>{ticket(source='ADF')}</sca:CreateScanJobRequest>",
        )
    assert result == (status, subcode)


async def test_zero_images_scans_one_sheet(session: aiohttp.ClientSession) -> None:
    """Ricoh Aficio MP 201: ImagesToTransfer 0 on the ADF scans only one sheet."""
    async with SimulatedScanner(
        "office_mfp", discovery=False, quirks={Quirk.ZERO_IMAGES_SCANS_ONE_SHEET}
    ) as sim:
        sim.load_feeder(3)
        client = Client(session, sim)
        images, _ = await retrieve_all(
            client, *await job_of(client, source="ADF", images=0)
        )
        assert len(images) == 1 and sim.feeder == 2


@pytest.mark.parametrize(
    ("doc_format", "pil_format", "color"),
    [
        ("jfif", "JPEG", "RGB24"),
        ("exif", "JPEG", "Grayscale8"),
        ("dib", "BMP", "BlackAndWhite1"),
        ("tiff-single-uncompressed", "TIFF", "RGB24"),
        ("tiff-single-g4", "TIFF", "BlackAndWhite1"),
    ],
)
async def test_formats_and_colors(
    client: Client, doc_format: str, pil_format: str, color: str
) -> None:
    """Every format decodes; colour modes map to image modes."""
    job_id, token = await job_of(client, doc_format=doc_format, color=color)
    _status, body, content_type = await client.retrieve(job_id, token)
    image = Image.open(io.BytesIO(image_part(body, content_type)))
    assert image.format == pil_format
    assert (
        image.mode == {"RGB24": "RGB", "Grayscale8": "L", "BlackAndWhite1": "1"}[color]
        or pil_format == "JPEG"
    )


@pytest.mark.parametrize(
    ("doc_format", "pil_format"), [("pdf-a", None), ("tiff-multi-g4", "TIFF")]
)
async def test_multi_page_formats_return_every_page_at_once(
    client: Client, sim: SimulatedScanner, doc_format: str, pil_format: str | None
) -> None:
    """Multi-page formats: one RetrieveImage carries the whole feeder."""
    sim.load_feeder(3)
    images, end = await retrieve_all(
        client, *await job_of(client, source="ADF", images=0, doc_format=doc_format)
    )
    assert len(images) == 1 and end == "ClientErrorNoImagesAvailable"
    if pil_format is None:
        assert (
            images[0].startswith(b"%PDF")
            and images[0].count(b"/Type /Page\n") + images[0].count(b"/Type /Page ")
            >= 1
        )
    else:
        assert Image.open(io.BytesIO(images[0])).n_frames == 3


async def test_ticket_substitution_and_validation(client: Client) -> None:
    """Unsupported values are substituted and marked Override; ValidateScanTicket reports it."""
    body = f"<sca:ValidateScanTicketRequest>{ticket(dpi=123, color='RGB48')}</sca:ValidateScanTicketRequest>"
    _status, reply = await client.call("ValidateScanTicket", body)
    assert reply.findtext(".//sca:ValidTicket", namespaces=NS) == "false"
    valid = reply.find(".//sca:ValidScanTicket", NS)
    assert valid is not None
    assert valid.findtext(".//sca:Resolution/sca:Width", namespaces=NS) == "100"
    assert (
        valid.find(".//sca:ColorProcessing", NS).get(f"{{{NS['sca']}}}Override")
        == "true"
    )  # type: ignore[union-attr]
    _status, ok = await client.call(
        "ValidateScanTicket",
        f"<sca:ValidateScanTicketRequest>{ticket()}</sca:ValidateScanTicketRequest>",
    )
    assert ok.findtext(".//sca:ValidTicket", namespaces=NS) == "true"
    assert (
        ok.findtext(".//sca:MediaFrontImageInfo/sca:PixelsPerLine", namespaces=NS)
        == "150"
    )


@pytest.mark.parametrize(
    ("body", "subcode"),
    [
        (ticket(doc_format="jbig"), "ClientErrorFormatNotSupported"),
        (
            ticket(extra_front="")
            .replace("<sca:Resolution>", '<sca:Resolution sca:MustHonor="true">')
            .replace(">75<", ">123<"),
            "ClientErrorConflictingRequiredParameters",
        ),
        ("<sca:ScanTicket/>", "InvalidArgs"),
        ("", "InvalidArgs"),
        (
            ticket().replace(
                "<sca:Width>75</sca:Width>", "<sca:Width>many</sca:Width>"
            ),
            "InvalidArgs",
        ),
    ],
)
async def test_create_scan_job_faults(client: Client, body: str, subcode: str) -> None:
    """The fault catalogue of CreateScanJob."""
    _status, got = await fault_of(
        client,
        "CreateScanJob",
        f"<sca:CreateScanJobRequest>{body}</sca:CreateScanJobRequest>",
    )
    assert got == subcode


async def test_job_operations(client: Client, sim: SimulatedScanner) -> None:
    """One job at a time; GetJobElements/ActiveJobs/History; CancelJob; token checks."""
    sim.load_feeder(2)
    job_id, token = await job_of(client, source="ADF", images=0)
    assert (
        await fault_of(
            client,
            "CreateScanJob",
            f"<sca:CreateScanJobRequest>{ticket()}</sca:CreateScanJobRequest>",
        )
    )[1] == "ServerErrorNotAcceptingJobs"
    status, body, _ = await client.retrieve(job_id, "wrong")
    assert fault_subcode(etree.fromstring(body)) == "ClientErrorInvalidJobToken"
    await client.retrieve(job_id, token)
    names = "".join(
        f"<sca:Name>{n}</sca:Name>"
        for n in ("sca:JobStatus", "sca:ScanTicket", "Documents", "sca:Other")
    )
    _status, elements = await client.call(
        "GetJobElements",
        f"<sca:GetJobElementsRequest><sca:JobId>{job_id}</sca:JobId><sca:RequestedElements>{names}</sca:RequestedElements></sca:GetJobElementsRequest>",
    )
    assert [d.get("Valid") for d in elements.findall(".//sca:ElementData", NS)] == [
        "true",
        "true",
        "true",
        "false",
    ]
    assert elements.findtext(".//sca:JobState", namespaces=NS) == "Processing"
    assert elements.findtext(".//sca:DocumentName", namespaces=NS) == "img"
    _status, active = await client.call("GetActiveJobs", "<sca:GetActiveJobsRequest/>")
    assert (
        active.findtext(".//sca:ActiveJobs/sca:JobSummary/sca:JobId", namespaces=NS)
        == job_id
    )
    _status, reply = await client.call(
        "CancelJob",
        f"<sca:CancelJobRequest><sca:JobId>{job_id}</sca:JobId></sca:CancelJobRequest>",
    )
    assert fault_subcode(reply) is None
    status, body, _ = await client.retrieve(job_id, token)
    assert fault_subcode(etree.fromstring(body)) == "ClientErrorJobCancelled"
    assert (
        await fault_of(
            client,
            "CancelJob",
            f"<sca:CancelJobRequest><sca:JobId>{job_id}</sca:JobId></sca:CancelJobRequest>",
        )
    )[1] == "ClientErrorJobIdNotFound"
    assert (
        await fault_of(
            client,
            "CancelJob",
            "<sca:CancelJobRequest><sca:JobId>999</sca:JobId></sca:CancelJobRequest>",
        )
    )[1] == "ClientErrorJobIdNotFound"
    _status, history = await client.call("GetJobHistory", "<sca:GetJobHistoryRequest/>")
    assert (
        history.findtext(".//sca:JobHistory/sca:JobSummary/sca:JobState", namespaces=NS)
        == "Canceled"
    )


async def test_sixty_second_rule(client: Client, sim: SimulatedScanner) -> None:
    """No RetrieveImage in time: the job is Aborted with JobTimedOut."""
    sim.settings.retrieve_timeout = 0.05
    job_id, token = await job_of(client)
    await asyncio.sleep(0.1)
    assert sim.jobs[int(job_id)].reasons == ["JobTimedOut"]
    _status, body, _ = await client.retrieve(job_id, token)
    assert fault_subcode(etree.fromstring(body)) == "OperationFailed"


async def test_conditions_stop_the_scanner(
    client: Client, sim: SimulatedScanner
) -> None:
    """A critical condition aborts the active job and refuses new ones until cleared."""
    job_id, _token = await job_of(client)
    sim.raise_condition("MediaJam")
    sim.raise_condition("MediaJam")  # idempotent
    assert sim.jobs[int(job_id)].state == "Aborted"
    assert (
        await fault_of(
            client,
            "CreateScanJob",
            f"<sca:CreateScanJobRequest>{ticket()}</sca:CreateScanJobRequest>",
        )
    )[1] == "ServerErrorNotAcceptingJobs"
    sim.clear_condition("MediaJam")
    sim.clear_condition("MediaJam")
    _status, reply = await client.call(
        "GetScannerElements",
        "<sca:GetScannerElementsRequest><sca:RequestedElements><sca:Name>sca:ScannerStatus</sca:Name></sca:RequestedElements></sca:GetScannerElementsRequest>",
    )
    assert reply.findtext(".//sca:ScannerState", namespaces=NS) == "Idle"
    assert (
        reply.findtext(".//sca:ConditionHistoryEntry/sca:Name", namespaces=NS)
        == "MediaJam"
    )


@pytest.mark.parametrize(
    ("quirk", "first_fault"),
    [
        (Quirk.CALIBRATING_WARMUP, "ServerErrorNotAcceptingJobs"),
        (Quirk.PANEL_START_ONLY, "ServerErrorNotAcceptingJobs"),
        (Quirk.REQUIRE_JOB_INFORMATION, "InvalidArgs"),
    ],
)
async def test_create_refusing_quirks(
    quirk: Quirk, first_fault: str, session: aiohttp.ClientSession
) -> None:
    """Warm-up, panel-only and JobInformation-required devices."""
    async with SimulatedScanner("office_mfp", discovery=False, quirks={quirk}) as sim:
        client = Client(session, sim)
        body = f"<sca:CreateScanJobRequest>{ticket(job_information=None)}</sca:CreateScanJobRequest>"
        assert (await fault_of(client, "CreateScanJob", body))[1] == first_fault
        if quirk is Quirk.CALIBRATING_WARMUP:
            assert sim.service.summary() == ("Processing", ("Calibrating",))
            assert (await fault_of(client, "CreateScanJob", body))[1] == first_fault
            assert (await fault_of(client, "CreateScanJob", body))[1] is None
            assert sim.service.summary()[1] == ()


async def test_request_shape_quirks(session: aiohttp.ClientSession) -> None:
    """Strict prefixes and wsa:To; 2006/01 namespace and missing Action are accepted otherwise."""
    request = "<sca:GetScannerElementsRequest><sca:RequestedElements><sca:Name>sca:ScannerDescription</sca:Name></sca:RequestedElements></sca:GetScannerElementsRequest>"
    async with SimulatedScanner("office_mfp", discovery=False) as sim:
        client = Client(session, sim)
        old = "http://schemas.microsoft.com/windows/2006/01/wdp/scan"
        _status, reply = await client.call(
            "GetScannerElements", request, namespace=old, scan_namespace=old
        )
        assert (
            reply.findtext(".//sca:ScannerName", namespaces=NS) == "Office MFP scanner"
        )
        assert (await fault_of(client, "Frobnicate", "<sca:X/>"))[
            1
        ] == "ActionNotSupported"
        status, data, _ = await client.post(
            sim.scan_url, envelope("", request, to=sim.scan_url)
        )
        assert status == 200 and b"ScannerName" in data
        status, data, _ = await client.post(sim.scan_url, b"<a>not soap</a>")
        assert status == 400
    async with SimulatedScanner(
        "office_mfp",
        discovery=False,
        quirks={Quirk.STRICT_PREFIXES, Quirk.STRICT_WSA_TO},
    ) as sim:
        client = Client(session, sim)
        assert (
            await fault_of(
                client,
                "GetScannerElements",
                request.replace("sca:", "scan:").replace(
                    "scan:ScannerDescription", "scan:ScannerDescription"
                ),
                prefixes=("s", "a", "scan"),
            )
        )[1] == "InvalidArgs"
        status, data, _ = await client.post(
            sim.scan_url,
            envelope(
                f"{NS['sca']}/GetScannerElements",
                request,
                to="http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",
            ),
        )
        assert fault_subcode(etree.fromstring(data)) == "DestinationUnreachable"
        assert (await fault_of(client, "GetScannerElements", request))[1] is None


async def test_full_ticket_round_trip(client: Client) -> None:
    """Every ticket parameter is read (any order) and echoed in DocumentFinalParameters."""
    params = (
        "<sca:Rotation>90</sca:Rotation><sca:Scaling><sca:ScalingWidth>100</sca:ScalingWidth>"
        "<sca:ScalingHeight>100</sca:ScalingHeight></sca:Scaling>"
        "<sca:Exposure><sca:AutoExposure>true</sca:AutoExposure></sca:Exposure>"
        "<sca:ContentType>Bogus</sca:ContentType><sca:CompressionQualityFactor>200</sca:CompressionQualityFactor>"
    )
    region = (
        "<sca:ScanRegion><sca:ScanRegionXOffset>100</sca:ScanRegionXOffset><sca:ScanRegionYOffset>0"
        "</sca:ScanRegionYOffset><sca:ScanRegionWidth>1000</sca:ScanRegionWidth>"
        "<sca:ScanRegionHeight>2000</sca:ScanRegionHeight></sca:ScanRegion>"
    )
    body = ticket(doc_format="jfif", extra_front=region, size=(99999, 99999)).replace(
        "<sca:InputSource>", params + "<sca:InputSource>"
    )
    _status, reply = await client.call(
        "CreateScanJob", f"<sca:CreateScanJobRequest>{body}</sca:CreateScanJobRequest>"
    )
    final = reply.find(".//sca:DocumentFinalParameters", NS)
    assert final is not None
    assert (
        final.findtext("sca:Rotation", namespaces=NS) == "0"
    )  # not supported → overridden
    assert final.findtext("sca:ContentType", namespaces=NS) == "Auto"
    assert final.findtext("sca:CompressionQualityFactor", namespaces=NS) == "100"
    assert final.findtext(".//sca:InputMediaSize/sca:Width", namespaces=NS) == "8268"
    assert final.findtext(".//sca:AutoExposure", namespaces=NS) == "true"
    assert (
        reply.findtext(".//sca:MediaFrontImageInfo/sca:PixelsPerLine", namespaces=NS)
        == "75"
    )


async def test_photo_flatbed_has_no_feeder(session: aiohttp.ClientSession) -> None:
    """An ADF request on a flatbed-only device is substituted with the platen (Override)."""
    async with SimulatedScanner("photo_flatbed", discovery=False) as sim:
        client = Client(session, sim)
        _status, reply = await client.call(
            "CreateScanJob",
            f"<sca:CreateScanJobRequest>{ticket(source='ADF')}</sca:CreateScanJobRequest>",
        )
        source = reply.find(".//sca:DocumentFinalParameters/sca:InputSource", NS)
        assert source is not None and source.text == "Platen"
        assert source.get(f"{{{NS['sca']}}}Override") == "true"


async def test_advertised_but_unrendered_format_faults(
    session: aiohttp.ClientSession,
) -> None:
    """Kyocera advertises xps (captured); the simulator refuses it cleanly at CreateScanJob."""
    async with SimulatedScanner("kyocera_m2040dn", discovery=False) as sim:
        body = f"<sca:CreateScanJobRequest>{ticket(doc_format='xps', dpi=300)}</sca:CreateScanJobRequest>"
        assert (await fault_of(Client(session, sim), "CreateScanJob", body)) == (
            500,
            "ServerErrorInternalError",
        )
