"""WS-DSP client against the simulated scan server over loopback."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
from aiohttp import web
from PIL import Image
import pytest

from custom_components.wsd_scan.wsd import ErrorKind, WsdError, WsdFault
from custom_components.wsd_scan.wsd.dsp import PostScanClient, post_scan
from simulator import ScanServer
from tests.loopback import DeviceFactory

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _jpeg(path: Path, shade: int) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (shade, shade, shade)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


async def test_post_scan_uploads_every_file_in_order(tmp_path: Path) -> None:
    """CreatePostScanJob → SendImage × n → EndPostScanJob; the bytes arrive unchanged."""
    files = [_jpeg(tmp_path / f"page-{n}.jpg", 40 * n) for n in (1, 2, 3)]
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    files.append(pdf)
    async with ScanServer() as server, aiohttp.ClientSession() as session:
        status = await post_scan(
            session, server.url, files, document_root_name="Invoices"
        )

    job = server.jobs[status.job_token]
    assert job.state == "Completed"
    assert job.document_root_name == "Invoices"
    assert [document.data for document in job.documents] == [
        f.read_bytes() for f in files
    ]
    assert [document.format for document in job.documents] == ["jfif"] * 3 + ["pdf-a"]
    assert [document.document_id for document in job.documents] == ["1", "2", "3", "4"]
    assert status.state == "Completed"
    assert status.images_received == 4


async def test_failed_upload_cancels_the_job_and_keeps_the_files(
    tmp_path: Path,
) -> None:
    """A fault on SendImage cancels the server's job; the local files stay."""
    files = [_jpeg(tmp_path / "page-1.jpg", 10), _jpeg(tmp_path / "page-2.jpg", 20)]
    async with ScanServer() as server, aiohttp.ClientSession() as session:
        server.inject_fault("SendImage", "ServerErrorTemporaryError")
        with pytest.raises(WsdFault) as raised:
            await post_scan(session, server.url, files)

    assert raised.value.subcode == "ServerErrorTemporaryError"
    (job,) = server.jobs.values()
    assert job.state == "Canceled"
    assert all(path.exists() for path in files)


async def test_files_that_are_not_images_are_refused(tmp_path: Path) -> None:
    """Only images and PDFs can be sent; nothing reaches the server."""
    note = tmp_path / "note.txt"
    note.write_text("hello")
    async with ScanServer() as server, aiohttp.ClientSession() as session:
        client = PostScanClient(session, server.url)
        token = await client.create_job("notes")
        with pytest.raises(WsdError) as raised:
            await client.send_image(token, 1, note)
        assert raised.value.kind is ErrorKind.INVALID_ARGUMENT
        assert server.jobs[token].documents == []
        with pytest.raises(WsdError) as empty:
            await post_scan(session, server.url, [])
        assert empty.value.kind is ErrorKind.INVALID_ARGUMENT


async def test_status_of_an_unknown_job_is_a_fault(tmp_path: Path) -> None:
    """The server's fault for an unknown token reaches the caller as a WsdFault."""
    async with ScanServer() as server, aiohttp.ClientSession() as session:
        with pytest.raises(WsdFault):
            await PostScanClient(session, server.url).job_status("no-such-job")


async def test_unreachable_endpoint() -> None:
    """A closed port is UNREACHABLE, not a crash."""
    server = ScanServer()
    await server.start()
    url = server.url
    await server.stop()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(WsdError) as raised:
            await PostScanClient(session, url).create_job("x")
    assert raised.value.kind is ErrorKind.UNREACHABLE


_EMPTY_ANSWER = (
    b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">'
    b"<soap:Body>%s</soap:Body></soap:Envelope>"
)


@pytest.mark.parametrize(
    ("body", "call"),
    [
        (b"", "create"),
        (_EMPTY_ANSWER % b"<CreatePostScanJobResponse/>", "create"),
        (_EMPTY_ANSWER % b"<GetPostScanJobElementsResponse/>", "status"),
    ],
)
async def test_answers_without_the_expected_data_are_protocol_errors(
    http_device: DeviceFactory, body: bytes, call: str
) -> None:
    """A server answering without JobToken / JobStatus gives a typed error."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, status=200 if body else 202)

    url = await http_device(answer)
    async with aiohttp.ClientSession() as session:
        client = PostScanClient(session, url)
        request = client.create_job("x") if call == "create" else client.job_status("t")
        with pytest.raises(WsdError) as raised:
            await request
    assert raised.value.kind is ErrorKind.PROTOCOL
