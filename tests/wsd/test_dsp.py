"""WS-DSP client against the simulated scan server over loopback."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from pathlib import Path
import tracemalloc

import aiohttp
from aiohttp import web
from lxml import etree
from PIL import Image
import pytest

from custom_components.wsd_scan.wsd import (
    ErrorKind,
    PostScanJobStatus,
    PostScanSettings,
    RetryPolicy,
    WsdError,
    WsdFault,
    find_post_scan_endpoint,
    post_scan,
    post_scan_ssl,
)
from custom_components.wsd_scan.wsd.dsp import PostScanClient
from simulator import ScanServer, SimulatedScanner
from tests.loopback import DeviceFactory

from .conftest import Tls

pytestmark = pytest.mark.usefixtures("socket_enabled")

DSP = "http://schemas.microsoft.com/windows/2008/12/wdp/distributedscan/processing"
PSP = "http://schemas.microsoft.com/windows/2008/02/imaging/postscan/psp"
FILESHARE = (
    "http://schemas.microsoft.com/windows/2007/10/imaging/postscan/filter/fileshare"
)
EMAIL = "http://schemas.microsoft.com/windows/2007/10/imaging/postscan/filter/email"
#: Retries without pauses: tests never wait for time to pass.
NO_PAUSE = RetryPolicy(attempts=3, initial_delay=0.0, max_delay=0.0)


def _jpeg(path: Path, shade: int) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (shade, shade, shade)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def _pages(tmp_path: Path, count: int = 2) -> list[Path]:
    return [_jpeg(tmp_path / f"page-{n}.jpg", 20 * n) for n in range(1, count + 1)]


def _snapshot(files: list[Path]) -> list[tuple[bytes, int]]:
    return [(path.read_bytes(), path.stat().st_mtime_ns) for path in files]


def _operations(server: ScanServer) -> list[str]:
    return [action.rpartition("/")[2] for action, _body in server.requests]


async def test_post_scan_uploads_every_file_in_order(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """CreatePostScanJob → SendImage × n → EndPostScanJob; the bytes arrive unchanged."""
    files = _pages(tmp_path, 3)
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    files.append(pdf)
    seen: list[PostScanJobStatus] = []
    async with ScanServer() as server:
        status = await post_scan(
            session,
            server.url,
            files,
            PostScanSettings(document_root_name="Invoices"),
            on_status=seen.append,
        )

    job = server.jobs[status.job_token]
    assert job.state == "Completed"
    assert job.document_root_name == "Invoices"
    assert [document.data for document in job.documents] == [
        f.read_bytes() for f in files
    ]
    assert [document.format for document in job.documents] == ["jfif"] * 3 + ["pdf-a"]
    assert [document.document_id for document in job.documents] == ["1", "2", "3", "4"]
    assert _operations(server) == [
        "CreatePostScanJob",
        *["SendImage"] * 4,
        "EndPostScanJob",
        "GetPostScanJobElements",
    ]
    assert (status.state, status.images_received) == ("Completed", 4)
    assert status.reasons == ("PostScanJobCompletedSuccessfully",)
    assert [(s.state, s.images_received) for s in seen] == [
        ("Pending", 0),
        ("Processing", 1),
        ("Processing", 2),
        ("Processing", 3),
        ("Processing", 4),
        ("Completed", 4),
    ]
    assert seen[-1] == status


async def test_create_request_carries_the_settings(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """UserIdentifier, PSP_Identifier and PostScanInstructions in schema order, filters too."""
    share = (
        f'<fsf:FileShareConfig xmlns:fsf="{FILESHARE}"><fsf:FileShares>'
        r"<fsf:ShareUNC>\\files\scans</fsf:ShareUNC></fsf:FileShares></fsf:FileShareConfig>"
    )
    settings = PostScanSettings(
        user_identifier="S-1-5-21-1-1104",
        scan_process_id="7D0C51E2-3B8A-4F6E-9A41-2C5E0B7D9F10",
        document_root_name="Invoices",
        filters=(share, EMAIL),
    )
    async with ScanServer() as server:
        status = await post_scan(session, server.url, _pages(tmp_path, 1), settings)

    job = server.jobs[status.job_token]
    assert (job.user, job.psp_identifier) == (
        settings.user_identifier,
        settings.scan_process_id,
    )
    assert job.filters == [FILESHARE, EMAIL]
    assert (status.scan_process_id, status.user_name) == (
        settings.scan_process_id,
        settings.user_identifier,
    )
    request = etree.fromstring(server.requests[0][1]).find(
        f".//{{{DSP}}}CreatePostScanJobRequest"
    )
    assert request is not None
    assert [etree.QName(node).localname for node in request] == [
        "UserIdentifier",
        "PSP_Identifier",
        "PostScanInstructions",
    ]
    assert [etree.QName(node).localname for node in request[2]] == [
        "ContinueOnError",
        "DocumentRootName",
        "FiltersToProcess",
    ]
    first, second = request[2][2]
    assert [etree.QName(node).localname for node in first] == [
        "Dialect",
        "Instructions",
    ]
    assert first.findtext(f"{{{PSP}}}Instructions//{{{FILESHARE}}}ShareUNC") == (
        r"\\files\scans"
    )
    assert [etree.QName(node).localname for node in second] == ["Dialect"]


async def test_a_fresh_scan_process_id_per_job(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Without a configured PSP_Identifier every job gets a new upper-case GUID."""
    files = _pages(tmp_path, 1)
    async with ScanServer() as server:
        first = await post_scan(session, server.url, files)
        second = await post_scan(session, server.url, files)
    identifiers = [first.scan_process_id, second.scan_process_id]
    assert identifiers[0] != identifiers[1]
    assert all(i and i == i.upper() and len(i) == 36 for i in identifiers)
    assert server.jobs[first.job_token].user == "S-1-0-0"


@pytest.mark.parametrize(
    "entry",
    [
        "<fsf:FileShareConfig",  # not XML
        "<FileShareConfig/>",  # no namespace, so no dialect
        "fileshare",  # neither XML nor a URI
    ],
)
def test_unusable_filters_are_refused(entry: str) -> None:
    """A filter that cannot be sent is an INVALID_ARGUMENT when the settings are made."""
    with pytest.raises(WsdError) as raised:
        PostScanSettings(filters=(entry,))
    assert raised.value.kind is ErrorKind.INVALID_ARGUMENT


@pytest.mark.parametrize("operation", ["CreatePostScanJob", "SendImage"])
async def test_temporary_errors_are_retried(
    session: aiohttp.ClientSession, tmp_path: Path, operation: str
) -> None:
    """ServerErrorTemporaryError twice, then success: one job, every page once."""
    files = _pages(tmp_path)
    async with ScanServer() as server:
        server.inject_fault(operation, "ServerErrorTemporaryError", times=2)
        status = await post_scan(session, server.url, files, retry=NO_PAUSE)

    assert status.state == "Completed"
    assert len(server.jobs) == 1
    assert [d.data for d in server.jobs[status.job_token].documents] == [
        f.read_bytes() for f in files
    ]
    assert (
        _operations(server).count(operation)
        == len(files if operation == "SendImage" else [1]) + 2
    )


async def test_a_lasting_temporary_error_gives_up_busy(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Attempts are bounded; then the job is cancelled and the error says BUSY."""
    files = _pages(tmp_path)
    async with ScanServer() as server:
        server.inject_fault("SendImage", "ServerErrorTemporaryError", times=10)
        with pytest.raises(WsdFault) as raised:
            await post_scan(session, server.url, files, retry=NO_PAUSE)

    assert raised.value.kind is ErrorKind.BUSY
    assert "3 attempts" in str(raised.value)
    assert _operations(server).count("SendImage") == NO_PAUSE.attempts
    (job,) = server.jobs.values()
    assert job.state == "Canceled"


@pytest.mark.parametrize(
    ("operation", "subcode", "kind"),
    [
        ("SendImage", "ServerErrorInternalError", ErrorKind.DEVICE_ERROR),
        ("EndPostScanJob", "OperationFailed", ErrorKind.DEVICE_ERROR),
        ("SendImage", "InvalidArgs", ErrorKind.INVALID_ARGUMENT),
    ],
)
async def test_failures_cancel_the_job_and_keep_the_files(
    session: aiohttp.ClientSession,
    tmp_path: Path,
    operation: str,
    subcode: str,
    kind: ErrorKind,
) -> None:
    """Lasting faults are not retried: the job is cancelled, the local files untouched."""
    files = _pages(tmp_path)
    before = _snapshot(files)
    async with ScanServer() as server:
        server.inject_fault(operation, subcode)
        with pytest.raises(WsdFault) as raised:
            await post_scan(session, server.url, files, retry=NO_PAUSE)

    assert (raised.value.subcode, raised.value.kind) == (subcode, kind)
    assert operation in str(raised.value)
    assert _operations(server).count(operation) == 1
    assert _operations(server)[-1] == "CancelPostScanJob"
    (job,) = server.jobs.values()
    assert job.state == "Canceled"
    assert _snapshot(files) == before


async def test_a_failing_cancel_does_not_hide_the_error(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """When CancelPostScanJob faults too, the caller still learns why the upload failed."""
    async with ScanServer() as server:
        server.inject_fault("SendImage", "ServerErrorInternalError")
        server.inject_fault("CancelPostScanJob", "ServerErrorInternalError")
        with pytest.raises(WsdFault) as raised:
            await post_scan(session, server.url, _pages(tmp_path), retry=NO_PAUSE)
    assert "SendImage" in str(raised.value)
    assert _operations(server)[-1] == "CancelPostScanJob"


async def test_cancelling_the_task_cancels_the_job(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Home Assistant's cancel: CancelPostScanJob reaches the server, CancelledError the caller."""
    files = _pages(tmp_path)
    before = _snapshot(files)
    async with ScanServer() as server:
        arrived = server.hang("SendImage")
        upload = asyncio.create_task(post_scan(session, server.url, files))
        await arrived.wait()
        upload.cancel()
        with pytest.raises(asyncio.CancelledError):
            await upload

        (job,) = server.jobs.values()
        assert job.state == "Canceled"
        assert _operations(server)[-1] == "CancelPostScanJob"
    assert _snapshot(files) == before


async def test_a_large_job_is_streamed_with_bounded_memory(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Pages are streamed from disk: peak memory stays far below the bytes sent."""
    page_size = 2 * 1024 * 1024
    files = []
    for number in range(1, 25):
        path = tmp_path / f"page-{number:02d}.jpg"
        path.write_bytes(b"\xff\xd8\xff\xe0" + bytes([number]) * (page_size - 4))
        files.append(path)
    total = page_size * len(files)
    async with ScanServer(keep_data=False) as server:
        tracemalloc.start()
        try:
            status = await post_scan(session, server.url, files)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert status.images_received == len(files)
    assert [d.sha256 for d in server.jobs[status.job_token].documents] == [
        hashlib.sha256(path.read_bytes()).hexdigest() for path in files
    ]
    # Client and server share the process: the peak (about 3.5 MiB) covers both sides.
    assert peak < total / 5, f"peak {peak} bytes for {total} sent"


async def test_https_with_a_trusted_ca_file(
    session: aiohttp.ClientSession, tmp_path: Path, tls: Tls
) -> None:
    """A self-signed CA given as a file is trusted; verification stays on."""
    ssl = post_scan_ssl(ca_file=tls.ca_file)
    async with ScanServer(ssl_context=tls.server_context) as server:
        status = await post_scan(session, server.url, _pages(tmp_path), ssl=ssl)
    assert server.url.startswith("https://")
    assert status.state == "Completed"


async def test_https_refuses_an_untrusted_certificate(
    session: aiohttp.ClientSession, tmp_path: Path, tls: Tls
) -> None:
    """By default the certificate is verified: an unknown CA is refused, nothing is sent."""
    async with ScanServer(ssl_context=tls.server_context) as server:
        with pytest.raises(WsdError) as raised:
            await post_scan(session, server.url, _pages(tmp_path))
        await server.handshake_refused.wait()
    assert raised.value.kind is ErrorKind.UNREACHABLE
    assert "certificate" in str(raised.value)
    assert server.jobs == {}


async def test_https_without_verification_warns(
    session: aiohttp.ClientSession,
    tmp_path: Path,
    tls: Tls,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Turning verification off works, and says loudly that it is off."""
    with caplog.at_level(logging.WARNING):
        ssl = post_scan_ssl(verify=False)
    assert "verification" in caplog.text
    async with ScanServer(ssl_context=tls.server_context) as server:
        status = await post_scan(session, server.url, _pages(tmp_path), ssl=ssl)
    assert status.state == "Completed"


def test_ssl_options_that_make_no_sense(tmp_path: Path, tls: Tls) -> None:
    """A missing or invalid CA file, or a CA file without verification, are refused."""
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    for options in (
        {"ca_file": tmp_path / "missing.pem"},
        {"ca_file": not_pem},
        {"ca_file": tls.ca_file, "verify": False},
    ):
        with pytest.raises(WsdError) as raised:
            post_scan_ssl(**options)  # type: ignore[arg-type]
        assert raised.value.kind is ErrorKind.INVALID_ARGUMENT
    assert post_scan_ssl() is True


@pytest.mark.parametrize("prefixed", [True, False])
async def test_job_elements_in_both_attribute_forms(
    session: aiohttp.ClientSession, tmp_path: Path, prefixed: bool
) -> None:
    """ElementData's Name/Valid are read prefixed (the DSM example) and unprefixed."""
    settings = PostScanSettings(document_root_name="Letters", scan_process_id="PSP-1")
    async with ScanServer(prefixed_attributes=prefixed) as server:
        status = await post_scan(session, server.url, _pages(tmp_path), settings)
    assert status == PostScanJobStatus(
        job_token=status.job_token,
        state="Completed",
        reasons=("PostScanJobCompletedSuccessfully",),
        images_received=2,
        scan_process_id="PSP-1",
        scan_process_name="Letters",
        user_name="S-1-0-0",
    )


async def test_find_the_endpoint_of_a_host(session: aiohttp.ClientSession) -> None:
    """host:port → directed probe → metadata Get → the hosted WS-DSP service; URLs pass."""
    async with ScanServer() as server:
        assert (
            await find_post_scan_endpoint(session, f"127.0.0.1:{server.port}")
            == server.url
        )
    assert await find_post_scan_endpoint(session, server.url) == server.url
    assert _operations(server) == ["Probe", "Get"]


async def test_a_host_without_a_post_scan_service(
    session: aiohttp.ClientSession, http_device: DeviceFactory
) -> None:
    """A scanner is no scan server; a host whose probe finds nothing is none either."""
    async with SimulatedScanner(discovery=False) as scanner:
        with pytest.raises(WsdError) as no_service:
            await find_post_scan_endpoint(session, f"127.0.0.1:{scanner.http_port}")
    assert no_service.value.kind is ErrorKind.UNSUPPORTED

    async def no_match(request: web.Request) -> web.Response:
        return web.Response(status=202)

    url = await http_device(no_match)
    with pytest.raises(WsdError) as nothing:
        await find_post_scan_endpoint(session, url.removeprefix("http://"))
    assert nothing.value.kind is ErrorKind.UNSUPPORTED


async def test_files_that_are_not_images_are_refused(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Only images and PDFs can be sent; nothing reaches the server."""
    note = tmp_path / "note.txt"
    note.write_text("hello")
    async with ScanServer() as server:
        client = PostScanClient(session, server.url)
        token = await client.create_job(PostScanSettings(document_root_name="notes"))
        with pytest.raises(WsdError) as raised:
            await client.send_image(token, 1, note)
        assert raised.value.kind is ErrorKind.INVALID_ARGUMENT
        assert server.jobs[token].documents == []
        with pytest.raises(WsdError) as empty:
            await post_scan(session, server.url, [])
        assert empty.value.kind is ErrorKind.INVALID_ARGUMENT


async def test_status_of_an_unknown_job_is_a_fault(
    session: aiohttp.ClientSession,
) -> None:
    """The server's InvalidArgs for an unknown token reaches the caller as a WsdFault."""
    async with ScanServer() as server:
        with pytest.raises(WsdFault) as raised:
            await PostScanClient(session, server.url).job_status("no-such-job")
    assert (raised.value.subcode, raised.value.kind) == (
        "InvalidArgs",
        ErrorKind.INVALID_ARGUMENT,
    )


async def test_unreachable_endpoint(session: aiohttp.ClientSession) -> None:
    """A closed port is UNREACHABLE, not a crash."""
    server = ScanServer()
    await server.start()
    url = server.url
    await server.stop()
    with pytest.raises(WsdError) as raised:
        await PostScanClient(session, url).create_job(PostScanSettings())
    assert raised.value.kind is ErrorKind.UNREACHABLE


def _answer(body: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:dsp="{DSP}"><soap:Body>{body}</soap:Body></soap:Envelope>'
    ).encode()


def _elements(status: str, *, valid: str = "true") -> bytes:
    return _answer(
        "<dsp:GetPostScanJobElementsResponse><dsp:JobElements>"
        f'<dsp:ElementData Name="dsp:JobStatus" Valid="{valid}">'
        f"<dsp:JobStatus>{status}</dsp:JobStatus></dsp:ElementData>"
        "</dsp:JobElements></dsp:GetPostScanJobElementsResponse>"
    )


async def test_a_status_without_optional_parts(
    session: aiohttp.ClientSession, http_device: DeviceFactory
) -> None:
    """Only JobState is required: no count, reasons or description are None and empty."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=_elements("<dsp:JobState>Pending</dsp:JobState>"))

    status = await PostScanClient(session, await http_device(answer)).job_status("t")
    assert status == PostScanJobStatus(job_token="t", state="Pending")


@pytest.mark.parametrize(
    ("body", "call"),
    [
        (b"", "create"),
        (_answer("<dsp:CreatePostScanJobResponse/>"), "create"),
        (b"<html>oops</html>", "create"),
        (_answer("<dsp:GetPostScanJobElementsResponse/>"), "status"),
        (_elements("<dsp:JobState>Completed</dsp:JobState>", valid="false"), "status"),
        (_elements("<dsp:ImagesReceived>2</dsp:ImagesReceived>"), "status"),
        (
            _elements(
                "<dsp:JobState>Completed</dsp:JobState>"
                "<dsp:ImagesReceived>many</dsp:ImagesReceived>"
            ),
            "status",
        ),
    ],
)
async def test_answers_without_the_expected_data_are_protocol_errors(
    session: aiohttp.ClientSession, http_device: DeviceFactory, body: bytes, call: str
) -> None:
    """No JobToken, no valid JobStatus, no JobState, a bad count: typed PROTOCOL errors."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, status=200 if body else 202)

    url = await http_device(answer)
    client = PostScanClient(session, url)
    request = (
        client.create_job(PostScanSettings())
        if call == "create"
        else client.job_status("t")
    )
    with pytest.raises(WsdError) as raised:
        await request
    assert raised.value.kind is ErrorKind.PROTOCOL
