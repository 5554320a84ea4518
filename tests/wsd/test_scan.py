"""Scan jobs against the simulator over loopback: pages, end-of-feeder variants, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import aiohttp
from aiohttp import web
from PIL import Image
import pytest

from custom_components.wsd_scan.wsd.eventing import SCAN_AVAILABLE_EVENT, EventingClient
from custom_components.wsd_scan.wsd.exceptions import ErrorKind, WsdError
from custom_components.wsd_scan.wsd.metadata import get_device_info
from custom_components.wsd_scan.wsd.models import (
    ColorMode,
    DocumentFormat,
    ImageFormat,
    InputSource,
    PaperSize,
    ScanDestination,
    ScannedPage,
    ScanSettings,
    ScanSource,
    ScanTicket,
    Size,
)
from custom_components.wsd_scan.wsd.quirks import quirks_for
from custom_components.wsd_scan.wsd.scan import RetryPolicy, ScanClient, ScanJobError
from custom_components.wsd_scan.wsd.ticket import build_ticket
from simulator import Quirk, Settings, SimulatedScanner
from tests.loopback import DeviceFactory

pytestmark = pytest.mark.usefixtures("socket_enabled")

#: Small pages keep the tests fast.
SMALL = {"resolution": 75}


class RecordingSleep:
    """Stands in for asyncio.sleep: records the delays, never waits."""

    def __init__(self) -> None:
        """Start with no delays."""
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        """Record `delay`."""
        self.delays.append(delay)


class Device(NamedTuple):
    """A simulated scanner and a client of it that never sleeps for real."""

    sim: SimulatedScanner
    client: ScanClient
    sleep: RecordingSleep


type StartDevice = Callable[..., Awaitable[Device]]


@pytest.fixture
async def device(session: aiohttp.ClientSession) -> AsyncIterator[StartDevice]:
    """Start simulated scanners, each with its client; stop them after the test."""
    async with contextlib.AsyncExitStack() as running:

        async def start(
            profile: str = "office_mfp",
            *,
            quirks: set[Quirk] | None = None,
            settings: Settings | None = None,
            retry: RetryPolicy | None = None,
        ) -> Device:
            sim = await running.enter_async_context(
                SimulatedScanner(
                    profile, quirks=quirks or set(), discovery=False, settings=settings
                )
            )
            sleep = RecordingSleep()
            client = ScanClient(
                session, sim.scan_url, retry=retry or RetryPolicy(), sleep=sleep
            )
            return Device(sim, client, sleep)

        yield start


async def ticket_for(client: ScanClient, **settings: object) -> ScanTicket:
    """Build a ticket from the device's capabilities and the client's quirks."""
    elements = await client.get_elements()
    assert elements.capabilities is not None
    return build_ticket(
        elements.capabilities,
        ScanSettings(**(SMALL | settings)),  # type: ignore[arg-type]
        status=elements.status,
        quirks=client.quirks,
    )


async def scan_failure(
    client: ScanClient, scans: Path, **settings: object
) -> ScanJobError:
    """Scan with a ticket from the device's capabilities; return how the job failed."""
    ticket = await ticket_for(client, **settings)
    with pytest.raises(ScanJobError) as err:
        await client.scan(ticket, scans)
    return err.value


def actions(sim: SimulatedScanner) -> list[str]:
    """Return the WS-Scan operations the device received, in order."""
    return [action.rpartition("/")[2] for action, _ in sim.requests if action]


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    """Return a directory for page files; the job creates it."""
    return tmp_path / "scans"


async def test_platen_scan(device: StartDevice, scans: Path) -> None:
    """One JPEG page from the platen; the job completes without a CancelJob."""
    sim, client, _ = await device()
    ticket = await ticket_for(client)
    seen: list[ScannedPage] = []
    result = await client.scan(ticket, scans, on_page=seen.append)
    assert sim.jobs[int(result.job_id)].state == "Completed"
    assert "CancelJob" not in actions(sim)
    (page,) = result.pages
    assert seen == [page]
    assert page.format is ImageFormat.JPEG
    assert page.path == scans / "page-001.jpg"
    assert page.size == page.path.stat().st_size > 0
    with Image.open(page.path) as image:
        assert image.format == "JPEG"
    assert list(scans.iterdir()) == [page.path]


async def test_feeder_scan_of_n_sheets(device: StartDevice, scans: Path) -> None:
    """Three sheets, one page each, then the standard end-of-feeder fault."""
    sim, client, _ = await device()
    sim.load_feeder(3)
    ticket = await ticket_for(client, source=ScanSource.FEEDER)
    result = await client.scan(ticket, scans)
    assert sim.feeder == 0
    assert "CancelJob" not in actions(sim)
    assert [p.index for p in result.pages] == [1, 2, 3]
    assert [p.path.name for p in result.pages] == [
        "page-001.jpg",
        "page-002.jpg",
        "page-003.jpg",
    ]
    assert sorted(scans.iterdir()) == [p.path for p in result.pages]


async def test_duplex_scan(device: StartDevice, scans: Path) -> None:
    """Two sheets both sides: four images in device order."""
    sim, client, _ = await device()
    sim.load_feeder(2)
    ticket = await ticket_for(
        client, source=ScanSource.FEEDER_DUPLEX, color=ColorMode.GRAY
    )
    result = await client.scan(ticket, scans)
    assert len(result.pages) == 4
    with Image.open(result.pages[1].path) as image:
        assert image.mode == "L"


@pytest.mark.parametrize(
    "quirk",
    [
        None,
        Quirk.END_OF_FEEDER_JOB_ID_NOT_FOUND,
        Quirk.END_OF_FEEDER_EMPTY_IMAGE,
        Quirk.FAULT_IN_HTTP_200,
    ],
)
async def test_end_of_feeder_variants_are_success(
    device: StartDevice, scans: Path, quirk: Quirk | None
) -> None:
    """Every way devices say "feeder empty" ends a job that delivered pages normally."""
    sim, client, _ = await device(quirks={quirk} if quirk else set())
    sim.load_feeder(2)
    ticket = await ticket_for(client, source=ScanSource.FEEDER)
    result = await client.scan(ticket, scans)
    assert len(result.pages) == 2
    # No leftover partial or empty files.
    assert sorted(scans.iterdir()) == [p.path for p in result.pages]


@pytest.mark.parametrize(
    "quirks",
    [set(), {Quirk.EMPTY_FEEDER_NOT_ACCEPTING_JOBS}, {Quirk.FAULT_IN_HTTP_200}],
)
async def test_empty_feeder(
    device: StartDevice, scans: Path, quirks: set[Quirk]
) -> None:
    """An empty feeder is FEEDER_EMPTY, also the Canon MF410 way (NotAcceptingJobs, Idle)."""
    sim, client, sleep = await device(quirks=quirks)
    sim.load_feeder(0)
    error = await scan_failure(client, scans, source=ScanSource.FEEDER)
    assert error.kind is ErrorKind.FEEDER_EMPTY
    assert error.pages == ()
    assert sleep.delays == []


async def test_jam_mid_job_keeps_pages(device: StartDevice, scans: Path) -> None:
    """A jam after the first page: JAM, explained from ScannerStatus, page 1 kept."""
    sim, client, _ = await device()
    sim.load_feeder(3)
    ticket = await ticket_for(client, source=ScanSource.FEEDER)

    def jam_after_first(page: ScannedPage) -> None:
        sim.raise_condition("MediaJam")

    with pytest.raises(ScanJobError) as err:
        await client.scan(ticket, scans, on_page=jam_after_first)
    assert actions(sim)[-2:] == ["GetScannerElements", "CancelJob"]
    assert err.value.kind is ErrorKind.JAM
    assert [p.index for p in err.value.pages] == [1]
    assert err.value.pages[0].path.exists()
    assert "jam" in str(err.value)


async def test_disk_error_mid_job_is_storage_and_cancels(
    device: StartDevice, scans: Path
) -> None:
    """A page that cannot be written: STORAGE (not 'unreachable'), job cancelled."""
    sim, client, _ = await device()
    sim.load_feeder(3)
    ticket = await ticket_for(client, source=ScanSource.FEEDER)

    def folder_vanishes(page: ScannedPage) -> None:
        scans.rename(scans.with_name("moved"))
        scans.write_text("now a file")

    with pytest.raises(ScanJobError) as err:
        await client.scan(ticket, scans, on_page=folder_vanishes)
    assert actions(sim)[-1] == "CancelJob"
    assert err.value.kind is ErrorKind.STORAGE
    assert [p.index for p in err.value.pages] == [1]
    # The system's error stays reachable (disk full or not).
    assert isinstance(err.value.__cause__, NotADirectoryError)
    assert (scans.with_name("moved") / err.value.pages[0].path.name).exists()


async def test_jam_before_the_job(device: StartDevice, scans: Path) -> None:
    """A stopped scanner refuses the job: the status explains why (cover open)."""
    sim, client, sleep = await device()
    sim.raise_condition("CoverOpen")
    error = await scan_failure(client, scans)
    assert error.kind is ErrorKind.COVER_OPEN
    assert error.subcode == "ServerErrorNotAcceptingJobs"
    assert sleep.delays == []


async def test_calibrating_is_retried_then_succeeds(
    device: StartDevice, scans: Path
) -> None:
    """Calibrating after wake-up: CreateScanJob is retried with backoff."""
    sim, client, sleep = await device(
        quirks={Quirk.CALIBRATING_WARMUP},
        settings=Settings(calibration_faults=3),
        retry=RetryPolicy(attempts=5, initial_delay=1.0, factor=2.0, max_delay=3.0),
    )
    ticket = await ticket_for(client)
    result = await client.scan(ticket, scans)
    assert actions(sim).count("CreateScanJob") == 4
    assert len(result.pages) == 1
    assert sleep.delays == [1.0, 2.0, 3.0]


async def test_retry_cap_reached_is_busy(device: StartDevice, scans: Path) -> None:
    """Still calibrating after the last attempt: BUSY."""
    sim, client, sleep = await device(
        quirks={Quirk.CALIBRATING_WARMUP},
        settings=Settings(calibration_faults=10),
        retry=RetryPolicy(attempts=3),
    )
    error = await scan_failure(client, scans)
    assert actions(sim).count("CreateScanJob") == 3
    assert error.kind is ErrorKind.BUSY
    assert len(sleep.delays) == 2


async def test_panel_start_only_needs_action_on_the_device(
    device: StartDevice, scans: Path
) -> None:
    """Kyocera in WSD mode refuses client-started jobs: ACTION_NEEDED, not BUSY."""
    _, client, _ = await device(quirks={Quirk.PANEL_START_ONLY})
    error = await scan_failure(client, scans)
    assert error.kind is ErrorKind.ACTION_NEEDED
    assert "panel" in str(error)


async def test_explicit_cancel_mid_job(device: StartDevice, scans: Path) -> None:
    """cancel() after page 1: CancelJob is sent, CANCELLED carries page 1."""
    sim, client, _ = await device()
    sim.load_feeder(3)
    ticket = await ticket_for(client, source=ScanSource.FEEDER)

    def cancel_twice(page: ScannedPage) -> None:
        job.cancel()
        job.cancel()

    job = client.job(ticket, scans, on_page=cancel_twice)
    with pytest.raises(ScanJobError) as err:
        await job.run()
    assert job.job_id is not None
    assert sim.jobs[int(job.job_id)].state == "Canceled"
    assert actions(sim)[-1] == "CancelJob"
    assert err.value.kind is ErrorKind.CANCELLED
    assert [p.index for p in err.value.pages] == [1]
    assert [p.index for p in job.pages] == [1]


async def test_task_cancellation_sends_cancel_job(
    device: StartDevice, scans: Path
) -> None:
    """Cancelling the task running the job: CancelJob, CancelledError, pages kept."""
    sim, client, _ = await device()
    sim.load_feeder(3)
    ticket = await ticket_for(client, source=ScanSource.FEEDER)
    task: asyncio.Task[object] | None = None

    def cancel_task(page: ScannedPage) -> None:
        assert task is not None
        task.cancel()

    job = client.job(ticket, scans, on_page=cancel_task)
    task = asyncio.ensure_future(job.run())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert job.job_id is not None
    assert sim.jobs[int(job.job_id)].state == "Canceled"
    assert [p.path.exists() for p in job.pages] == [True]


async def test_platen_page_done_is_not_cancelled(
    device: StartDevice, scans: Path
) -> None:
    """Cancelling after the only platen page: no CancelJob (Xerox VersaLink B405)."""
    sim, client, _ = await device()
    ticket = await ticket_for(client)
    job = client.job(ticket, scans, on_page=lambda page: job.cancel())
    result = await job.run()
    assert "CancelJob" not in actions(sim)
    assert len(result.pages) == 1


@pytest.mark.parametrize(
    "quirks",
    [
        {Quirk.STRICT_PREFIXES, Quirk.STRICT_WSA_TO},
        {Quirk.REQUIRE_JOB_INFORMATION},
        {Quirk.MIME_NO_INCLUDE_CID, Quirk.MIME_HEADER_NO_SPACE},
    ],
)
async def test_picky_devices_accept_our_requests(
    device: StartDevice, scans: Path, quirks: set[Quirk]
) -> None:
    """Windows prefixes, wsa:To = service URL and JobInformation satisfy strict firmware."""
    _, client, _ = await device(quirks=quirks)
    ticket = await ticket_for(client)
    result = await client.scan(ticket, scans)
    assert len(result.pages) == 1


async def test_format_that_lies_is_sniffed(device: StartDevice, scans: Path) -> None:
    """PNG asked, JPEG sent (Pantum M7100DN): the file is named and typed as JPEG."""
    _, client, _ = await device(quirks={Quirk.FORMAT_LIES})
    ticket = await ticket_for(client, format=DocumentFormat.PNG)
    assert ticket.format == "png"
    result = await client.scan(ticket, scans)
    assert result.pages[0].format is ImageFormat.JPEG
    assert result.pages[0].path.suffix == ".jpg"


async def test_kyocera_scan_with_prefixes_and_swapped_sizes(
    device: StartDevice, scans: Path
) -> None:
    """The simulated M2040dn scans a Legal page after the swap fix."""
    _, client, _ = await device("kyocera_m2040dn")
    ticket = await ticket_for(client, paper=PaperSize.LEGAL, resolution=200)
    result = await client.scan(ticket, scans)
    assert ticket.size.height == 14000
    assert len(result.pages) == 1


async def test_multi_page_format_is_one_retrieve(
    device: StartDevice, scans: Path
) -> None:
    """A device offering only PDF/A gives the whole batch in one RetrieveImage."""
    sim, client, _ = await device()
    sim.load_feeder(2)
    ticket = await ticket_for(client, source=ScanSource.FEEDER)
    result = await client.scan(replace(ticket, format="pdf-a"), scans)
    assert actions(sim).count("RetrieveImage") == 1
    (page,) = result.pages
    assert page.format is ImageFormat.PDF


async def test_unreachable_scanner(
    session: aiohttp.ClientSession, scans: Path, closed_port: int
) -> None:
    """Nothing listens: UNREACHABLE, no retries."""
    sleep = RecordingSleep()
    client = ScanClient(session, f"http://127.0.0.1:{closed_port}/scan", sleep=sleep)
    with pytest.raises(WsdError) as err:
        await client.get_status()
    assert err.value.kind is ErrorKind.UNREACHABLE


# --- scripted devices for answers the simulator does not give ----------------------------

ENVELOPE = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:sca="http://schemas.microsoft.com/windows/2006/08/wdp/scan"'
    ' xmlns:xop="http://www.w3.org/2004/08/xop/include"><s:Body>{}</s:Body></s:Envelope>'
)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def soap_answer(body: str, status: int = 200) -> web.Response:
    """Return a SOAP envelope around `body`."""
    return web.Response(
        status=status,
        body=ENVELOPE.format(body).encode(),
        content_type="application/soap+xml",
    )


def fault(subcode: str) -> web.Response:
    """Return a SOAP fault with `subcode`."""
    return soap_answer(
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode>"
        f"<s:Value>sca:{subcode}</s:Value></s:Subcode></s:Code>"
        "<s:Reason><s:Text>scripted</s:Text></s:Reason></s:Fault>",
        500,
    )


def plain(status: int, text: str = "") -> web.Response:
    """Return a bare HTTP error answer."""
    return web.Response(status=status, text=text, content_type="text/plain")


def status(state: str, *reasons: str) -> web.Response:
    """Return a GetScannerElementsResponse with a ScannerStatus."""
    listed = "".join(
        f"<sca:ScannerStateReason>{r}</sca:ScannerStateReason>" for r in reasons
    )
    return soap_answer(
        "<sca:GetScannerElementsResponse><sca:ScannerElements>"
        '<sca:ElementData Name="sca:ScannerStatus" Valid="true"><sca:ScannerStatus>'
        f"<sca:ScannerState>{state}</sca:ScannerState>"
        f"<sca:ScannerStateReasons>{listed}</sca:ScannerStateReasons><sca:ActiveConditions/>"
        "</sca:ScannerStatus></sca:ElementData></sca:ScannerElements>"
        "</sca:GetScannerElementsResponse>"
    )


CREATED = (
    "<sca:CreateScanJobResponse><sca:JobId>1</sca:JobId><sca:JobToken>t</sca:JobToken>"
    "</sca:CreateScanJobResponse>"
)


def image(data: bytes) -> web.Response:
    """Return an MTOM RetrieveImageResponse carrying `data`."""
    root = ENVELOPE.format(
        '<sca:RetrieveImageResponse><sca:ScanData><xop:Include href="cid:img"/>'
        "</sca:ScanData></sca:RetrieveImageResponse>"
    ).encode()
    body = (
        b'--b1\r\nContent-Type: application/xop+xml; type="application/soap+xml"\r\n'
        b"Content-ID: <root>\r\n\r\n"
        + root
        + b"\r\n--b1\r\nContent-Type: image/jpeg\r\n"
        b"Content-ID: <img>\r\n\r\n" + data + b"\r\n--b1--\r\n"
    )
    response = web.Response(body=body)
    response.headers["Content-Type"] = (
        'multipart/related; type="application/xop+xml"; boundary="b1"; start="<root>"'
    )
    return response


type Script = dict[str, list[web.Response]]


def operation_of(request: str) -> str:
    """Return the WS-Scan operation a request asks for (its wsa:Action's last segment)."""
    return request.split("<wsa:Action>", 1)[1].split("<", 1)[0].rpartition("/")[2]


async def scripted(http_device: DeviceFactory, script: Script) -> str:
    """Start a device answering each operation with the next scripted response."""

    async def answer(request: web.Request) -> web.Response:
        operation = operation_of(await request.text())
        replies = script[operation]
        return replies.pop(0) if len(replies) > 1 else replies[0]

    return await http_device(answer)


@pytest.fixture
def scripted_client(
    session: aiohttp.ClientSession, http_device: DeviceFactory
) -> Callable[[Script], Awaitable[ScanClient]]:
    """Start scripted devices, each with a client that tries once and never sleeps."""

    async def start(script: Script) -> ScanClient:
        url = await scripted(http_device, script)
        return ScanClient(
            session, url, retry=RetryPolicy(attempts=1), sleep=RecordingSleep()
        )

    return start


PLATEN = ScanTicket("jfif", InputSource.PLATEN, 1, "RGB24", 75, Size(1000, 1000))
FEEDER = replace(PLATEN, input_source=InputSource.ADF, images_to_transfer=0)


@pytest.mark.parametrize(
    ("ticket", "script", "kind", "pages"),
    [
        # Canon MF244dw and friends: WSD scanning switched off in the web UI.
        (PLATEN, {"CreateScanJob": [fault("OperationFailed")], "GetScannerElements": [status("Idle")]}, ErrorKind.SCANNING_DISABLED, 0),
        # The status cannot be read either: the fault alone decides.
        (PLATEN, {"CreateScanJob": [fault("ServerErrorNotAcceptingJobs")], "GetScannerElements": [fault("ServerErrorInternalError")]}, ErrorKind.BUSY, 0),
        (PLATEN, {"CreateScanJob": [fault("ClientErrorFormatNotSupported")]}, ErrorKind.UNSUPPORTED, 0),
        (PLATEN, {"CreateScanJob": [fault("Unheard")]}, ErrorKind.DEVICE_ERROR, 0),
        (PLATEN, {"CreateScanJob": [soap_answer("<sca:CreateScanJobResponse/>")]}, ErrorKind.PROTOCOL, 0),
        (PLATEN, {"CreateScanJob": [soap_answer("")]}, ErrorKind.PROTOCOL, 0),
        (PLATEN, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [image(b"")], "CancelJob": [soap_answer("")]}, ErrorKind.DEVICE_ERROR, 0),
        (FEEDER, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [image(b"")], "CancelJob": [soap_answer("")]}, ErrorKind.FEEDER_EMPTY, 0),
        (FEEDER, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [fault("ClientErrorNoImagesAvailable")], "CancelJob": [fault("ClientErrorJobIdNotFound")]}, ErrorKind.FEEDER_EMPTY, 0),
        (FEEDER, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [image(JPEG), fault("ClientErrorJobCancelled")], "CancelJob": [soap_answer("")]}, ErrorKind.CANCELLED, 1),
        (PLATEN, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [fault("ServerErrorInternalError")], "GetScannerElements": [status("Stopped", "LampError")], "CancelJob": [soap_answer("")]}, ErrorKind.DEVICE_ERROR, 0),
        (PLATEN, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [fault("ClientErrorInvalidJobToken")], "GetScannerElements": [status("Idle", "None")], "CancelJob": [soap_answer("")]}, ErrorKind.DEVICE_ERROR, 0),
        # Canon MF410 with nothing scanned: the feeder was empty.
        (FEEDER, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [fault("ServerErrorNotAcceptingJobs")], "GetScannerElements": [status("Idle", "None")]}, ErrorKind.FEEDER_EMPTY, 0),
        # NotAcceptingJobs while still Processing is no end of batch.
        (FEEDER, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [image(JPEG), fault("ServerErrorNotAcceptingJobs")], "GetScannerElements": [status("Processing", "None")], "CancelJob": [soap_answer("")]}, ErrorKind.BUSY, 1),
        (FEEDER, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [plain(410)]}, ErrorKind.FEEDER_EMPTY, 0),
        (PLATEN, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [plain(404, "<html><body><h1>No such job</h1></body></html>")]}, ErrorKind.DEVICE_ERROR, 0),
        (FEEDER, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [image(JPEG), plain(503)], "CancelJob": [soap_answer("")]}, ErrorKind.BUSY, 1),
        (FEEDER, {"CreateScanJob": [soap_answer(CREATED)], "RetrieveImage": [image(JPEG), plain(409, "Conflict: duplex is off\nmore")], "CancelJob": [soap_answer("")]}, ErrorKind.INVALID_ARGUMENT, 1),
        (PLATEN, {"CreateScanJob": [plain(500, "Internal Server Error")]}, ErrorKind.DEVICE_ERROR, 0),
        (PLATEN, {"CreateScanJob": [plain(409, "paper size and source conflict")]}, ErrorKind.INVALID_ARGUMENT, 0),
    ],
)  # fmt: skip
async def test_scripted_failures(
    scripted_client: Callable[[Script], Awaitable[ScanClient]],
    scans: Path,
    *,
    ticket: ScanTicket,
    script: Script,
    kind: ErrorKind,
    pages: int,
) -> None:
    """Faults, bare HTTP errors and odd answers map to the kinds users act on.

    The pages received before the failure are kept, and no partial file remains.
    """
    client = await scripted_client(script)
    with pytest.raises(ScanJobError) as err:
        await client.scan(ticket, scans)
    assert err.value.kind is kind
    assert len(err.value.pages) == pages
    assert not any(p.suffix == ".part" for p in scans.glob("*"))


async def test_busy_with_another_job_is_retried(
    session: aiohttp.ClientSession, http_device: DeviceFactory, scans: Path
) -> None:
    """NotAcceptingJobs while Processing: retried, then the job runs."""
    url = await scripted(
        http_device,
        {
            "CreateScanJob": [fault("ServerErrorNotAcceptingJobs"), fault("ServerErrorTemporaryError"), soap_answer(CREATED)],
            "GetScannerElements": [status("Processing", "None")],
            "RetrieveImage": [image(JPEG)],
        },
    )  # fmt: skip
    sleep = RecordingSleep()
    client = ScanClient(session, url, sleep=sleep)
    result = await client.scan(PLATEN, scans)
    assert [p.format for p in result.pages] == [ImageFormat.JPEG]
    assert len(sleep.delays) == 2


async def test_status_must_be_reported(
    session: aiohttp.ClientSession, http_device: DeviceFactory
) -> None:
    """A GetScannerElements answer without the asked status is a protocol error."""
    url = await scripted(
        http_device,
        {"GetScannerElements": [soap_answer("<sca:GetScannerElementsResponse/>")]},
    )
    with pytest.raises(WsdError) as err:
        await ScanClient(session, url).get_status()
    assert err.value.kind is ErrorKind.PROTOCOL


async def test_truncated_image_keeps_earlier_pages(
    device: StartDevice, scans: Path
) -> None:
    """A transfer that breaks off is a PROTOCOL error; no partial file remains."""
    sim, client, _ = await device(quirks={Quirk.HOSTILE_TRUNCATED_MIME})
    error = await scan_failure(client, scans)
    assert "CancelJob" in actions(sim)
    assert error.kind is ErrorKind.PROTOCOL
    assert list(scans.iterdir()) == []


async def test_cancel_before_run(device: StartDevice, scans: Path) -> None:
    """A job cancelled before it starts sends nothing."""
    sim, client, _ = await device()
    ticket = await ticket_for(client)
    job = client.job(ticket, scans)
    job.cancel()
    with pytest.raises(ScanJobError) as err:
        await job.run()
    assert "CreateScanJob" not in actions(sim)
    assert err.value.kind is ErrorKind.CANCELLED


# --- devices we did not write ----------------------------------------------------------


async def device_client(
    session: aiohttp.ClientSession, sim: SimulatedScanner, **options: object
) -> ScanClient:
    """Describe the simulated device as a caller does: metadata, then its quirks."""
    device = await get_device_info(session, sim.uuid, [sim.device_url])
    assert device.scan_service_url is not None
    return ScanClient(
        session,
        device.scan_service_url,
        quirks=quirks_for(device.manufacturer, device.model),
        **options,  # type: ignore[arg-type]
    )


async def test_canon_mf410_end_of_feeder_is_the_end_of_the_batch(
    device: StartDevice, session: aiohttp.ClientSession, scans: Path
) -> None:
    """NotAcceptingJobs + Idle at RetrieveImage after pages: all pages, no CancelJob."""
    sim = (await device("canon_mf410")).sim
    sim.load_feeder(3)
    client = await device_client(session, sim)
    result = await client.scan(
        await ticket_for(client, source=ScanSource.FEEDER), scans
    )
    assert "CancelJob" not in actions(sim)
    # The scanner's status decided it (Idle), after the fault.
    assert actions(sim)[-2:] == ["RetrieveImage", "GetScannerElements"]
    assert [p.index for p in result.pages] == [1, 2, 3]
    assert sorted(scans.iterdir()) == [p.path for p in result.pages]


async def test_canon_mf410_empty_feeder(
    device: StartDevice, session: aiohttp.ClientSession, scans: Path
) -> None:
    """The same device with nothing in the feeder: FEEDER_EMPTY, never BUSY."""
    sim = (await device("canon_mf410")).sim
    sim.load_feeder(0)
    client = await device_client(session, sim, sleep=RecordingSleep())
    error = await scan_failure(client, scans, source=ScanSource.FEEDER)
    assert error.kind is ErrorKind.FEEDER_EMPTY
    assert error.pages == ()


async def test_ricoh_mp201_scans_every_sheet(
    device: StartDevice, session: aiohttp.ClientSession, scans: Path
) -> None:
    """The quirk table asks the Ricoh for 100 images: 3 sheets give 3 pages."""
    sim = (await device("ricoh_mp201")).sim
    sim.load_feeder(3)
    client = await device_client(session, sim)
    assert client.quirks.names == ("feeder_images_to_transfer_100",)
    ticket = await ticket_for(client, source=ScanSource.FEEDER)
    assert ticket.images_to_transfer == 100
    result = await client.scan(ticket, scans)
    assert "CancelJob" not in actions(sim)
    assert [p.index for p in result.pages] == [1, 2, 3]


async def test_ricoh_mp201_without_the_quirk_table_loses_sheets(
    device: StartDevice, session: aiohttp.ClientSession, scans: Path
) -> None:
    """What the table prevents: ImagesToTransfer=0 scans one sheet of three."""
    sim = (await device("ricoh_mp201")).sim
    sim.load_feeder(3)
    client = ScanClient(session, sim.scan_url)
    result = await client.scan(
        await ticket_for(client, source=ScanSource.FEEDER), scans
    )
    assert len(result.pages) == 1


async def test_ricoh_count_is_no_limit(
    session: aiohttp.ClientSession, http_device: DeviceFactory, scans: Path
) -> None:
    """The quirk's 100 stands for "until empty": the device ends the batch, not us."""
    quirks = quirks_for("RICOH", "Aficio MP 201")
    assert quirks.feeder_images is not None
    url = await scripted(
        http_device,
        {
            "CreateScanJob": [soap_answer(CREATED), soap_answer(CREATED)],
            "RetrieveImage": [image(JPEG), image(JPEG), image(JPEG), fault("ClientErrorJobIdNotFound")],
        },
    )  # fmt: skip
    ticket = replace(FEEDER, images_to_transfer=1)
    # A real page count stops the job after it...
    assert len((await ScanClient(session, url).scan(ticket, scans)).pages) == 1
    # ...the quirk's stand-in does not.
    client = ScanClient(session, url, quirks=replace(quirks, feeder_images=1))
    assert len((await client.scan(ticket, scans / "2")).pages) == 2


async def test_one_request_per_connection_serves_a_whole_job(
    device: StartDevice, session: aiohttp.ClientSession, scans: Path
) -> None:
    """One request per connection: a whole job and a push registration, none lost.

    Metadata, a 4-page duplex job and a ScanDestinations subscription (renewed, ended)
    without one failed or dropped request.
    """
    sim = (await device(quirks={Quirk.ONE_REQUEST_PER_CONNECTION})).sim
    sim.load_feeder(2)
    client = await device_client(session, sim)
    ticket = await ticket_for(client, source=ScanSource.FEEDER_DUPLEX)
    result = await client.scan(ticket, scans)
    eventing = EventingClient(session, client.url)
    subscription = await eventing.subscribe(
        "http://127.0.0.1:9/notify",
        [SCAN_AVAILABLE_EVENT],
        destinations=[ScanDestination("Home Assistant", client_context="ha")],
    )
    assert set(subscription.destination_tokens) == {"ha"}
    await eventing.renew(subscription)
    await eventing.unsubscribe(subscription)
    assert sim.dropped_requests == 0
    assert len(sim.requests) >= 10
    assert len(result.pages) == 4


async def test_one_request_per_connection_catches_a_reused_connection(
    device: StartDevice, session: aiohttp.ClientSession
) -> None:
    """The quirk is real: a client reusing the connection loses its second request."""
    sim = (await device(quirks={Quirk.ONE_REQUEST_PER_CONNECTION})).sim
    async with session.post(sim.scan_url, data=b"<x/>") as response:
        assert "Connection" not in response.headers
        await response.read()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with session.post(sim.scan_url, data=b"<x/>") as response:
            await response.read()
    assert sim.dropped_requests == 1


@pytest.mark.parametrize(
    "quirk",
    [Quirk.END_OF_FEEDER_NOT_ACCEPTING_JOBS, Quirk.HTTP_ERRORS_WITHOUT_SOAP],
)
async def test_more_end_of_feeder_variants(
    device: StartDevice, scans: Path, quirk: Quirk
) -> None:
    """NotAcceptingJobs with Idle (Canon MF410), HTTP 404 (a web server in front)."""
    sim, client, _ = await device(quirks={quirk})
    sim.load_feeder(2)
    ticket = await ticket_for(client, source=ScanSource.FEEDER)
    result = await client.scan(ticket, scans)
    assert "CancelJob" not in actions(sim)
    assert len(result.pages) == 2
    assert sorted(scans.iterdir()) == [p.path for p in result.pages]


async def test_http_404_at_create_is_an_empty_feeder(
    device: StartDevice, scans: Path
) -> None:
    """An empty feeder answered at CreateScanJob with a bare 404 is "feeder empty"."""
    sim, client, sleep = await device(quirks={Quirk.HTTP_ERRORS_WITHOUT_SOAP})
    error = await scan_failure(client, scans, source=ScanSource.FEEDER)
    assert actions(sim).count("CreateScanJob") == 1
    assert error.kind is ErrorKind.FEEDER_EMPTY
    assert "the document feeder is empty" in str(error)
    assert "HTTP 404" in str(error)
    assert sleep.delays == []


async def test_http_503_is_retried_like_not_accepting_jobs(
    device: StartDevice, scans: Path
) -> None:
    """Busy as a bare HTTP 503 while the lamp warms: retried, then the job runs."""
    sim, client, sleep = await device(
        quirks={Quirk.HTTP_ERRORS_WITHOUT_SOAP, Quirk.CALIBRATING_WARMUP},
        settings=Settings(calibration_faults=2),
    )
    result = await client.scan(await ticket_for(client), scans)
    assert actions(sim).count("CreateScanJob") == 3
    assert len(result.pages) == 1
    assert len(sleep.delays) == 2


async def test_http_400_is_invalid_settings_with_the_reason(
    device: StartDevice, scans: Path
) -> None:
    """A ticket refused with a bare HTTP 400: INVALID_ARGUMENT naming the reason."""
    _, client, sleep = await device(
        quirks={Quirk.HTTP_ERRORS_WITHOUT_SOAP, Quirk.REQUIRE_JOB_INFORMATION}
    )
    ticket = replace(await ticket_for(client), job_information="")
    with pytest.raises(ScanJobError) as err:
        await client.scan(ticket, scans)
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT
    assert "HTTP 400: Bad Request: JobInformation missing" in str(err.value)
    assert sleep.delays == []


async def test_no_cancel_for_a_job_the_device_ended(
    session: aiohttp.ClientSession, http_device: DeviceFactory, scans: Path
) -> None:
    """A job the device says is gone, or an idle device: no CancelJob; else one."""
    calls: list[str] = []
    replies = {
        "CreateScanJob": lambda: soap_answer(CREATED),
        "GetScannerElements": lambda: status("Idle", "None"),
        "CancelJob": lambda: soap_answer(""),
    }
    retrieve: list[web.Response] = []

    async def answer(request: web.Request) -> web.Response:
        operation = operation_of(await request.text())
        calls.append(operation)
        return retrieve.pop(0) if operation == "RetrieveImage" else replies[operation]()

    url = await http_device(answer)
    client = ScanClient(session, url, retry=RetryPolicy(attempts=1))
    for failure, cancelled in (
        (fault("ClientErrorJobCancelled"), False),
        (plain(410), False),
        (fault("ServerErrorInternalError"), False),  # the status says Idle
        (plain(500), True),
    ):
        calls.clear()
        retrieve[:] = [failure]
        with pytest.raises(ScanJobError):
            await client.scan(PLATEN, scans)
        assert ("CancelJob" in calls) is cancelled, failure


def test_retry_policy_backs_off_to_a_cap() -> None:
    """Delays grow by the factor and stop at the maximum."""
    policy = RetryPolicy(attempts=5, initial_delay=1.0, max_delay=3.0, factor=2.0)
    assert [policy.delay(n) for n in range(1, 5)] == [1.0, 2.0, 3.0, 3.0]


async def test_connection_lost_mid_job_keeps_pages(
    session: aiohttp.ClientSession, http_device: DeviceFactory, scans: Path
) -> None:
    """A device that drops the connection during RetrieveImage: unreachable, page kept."""
    pages = [image(JPEG)]

    async def answer(request: web.Request) -> web.StreamResponse:
        operation = operation_of(await request.text())
        if operation == "CreateScanJob":
            return soap_answer(CREATED)
        if operation == "RetrieveImage" and pages:
            return pages.pop()
        if operation == "RetrieveImage":
            assert request.transport is not None
            request.transport.close()
        return soap_answer("")

    url = await http_device(answer)
    client = ScanClient(session, url, retry=RetryPolicy(attempts=1))
    with pytest.raises(ScanJobError) as err:
        await client.scan(FEEDER, scans)
    assert err.value.kind is ErrorKind.UNREACHABLE
    assert [page.path.exists() for page in err.value.pages] == [True]
