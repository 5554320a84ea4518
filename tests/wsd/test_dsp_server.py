"""WS-DSP scan server, driven by the library's own WS-DSP client over loopback."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
import errno
import io
import json
import os
from pathlib import Path
import tracemalloc
from typing import Any

import aiohttp
from aiohttp import web
from lxml import etree
from PIL import Image
import pytest

from custom_components.wsd_scan.wsd import (
    ErrorKind,
    ImageFormat,
    PostScanClient,
    PostScanLimits,
    PostScanServer,
    PostScanSettings,
    ReceivedJob,
    RetryPolicy,
    WsdError,
    WsdFault,
    cli,
    post_scan,
)
from custom_components.wsd_scan.wsd.xml import (
    DSP,
    Envelope,
    build_envelope,
    element,
    parse_envelope,
    sub,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

#: Retries without pauses: tests never wait for time to pass.
NO_PAUSE = RetryPolicy(attempts=3, initial_delay=0.0, max_delay=0.0)
SCAN_PROCESS = "7D0C51E2-3B8A-4F6E-9A41-2C5E0B7D9F10"
FILESHARE = (
    "http://schemas.microsoft.com/windows/2007/10/imaging/postscan/filter/fileshare"
)


def _image(kind: str, shade: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (shade, 20, 20)).save(buffer, kind)
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        """Start at zero."""
        self.now = 0.0

    def __call__(self) -> float:
        """Return the time."""
        return self.now


@dataclass
class Served:
    """A running server, its URL, and what its `on_job` received."""

    server: PostScanServer
    url: str
    clock: Clock
    #: Each job with the bytes of its documents, read while they were in the spool.
    jobs: list[tuple[ReceivedJob, list[bytes]]] = field(default_factory=list)
    #: What `on_job` raises next, once each.
    failures: list[BaseException] = field(default_factory=list)

    def spooled(self) -> list[Path]:
        """Files left in the spool folder."""
        return [path for path in self.server.spool.rglob("*") if path.is_file()]


type Serve = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    """Start post-scan servers on loopback; each call returns a `Served`."""
    runners: list[web.AppRunner] = []
    servers: list[PostScanServer] = []

    async def start(
        limits: PostScanLimits = PostScanLimits(),  # noqa: B008 - immutable
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> Served:
        clock = Clock()
        served: Served

        async def on_job(job: ReceivedJob) -> None:
            if served.failures:
                raise served.failures.pop(0)
            data = [document.path.read_bytes() for document in job.documents]
            served.jobs.append((job, data))

        server = PostScanServer(
            tmp_path / f"spool-{len(servers)}",
            on_job,
            clock=clock,
            limits=limits,
            sleep=sleep,
        )
        await server.start()
        servers.append(server)
        app = web.Application()
        app.router.add_post("/dsp", server.aiohttp_handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/dsp"
        served = Served(server, url, clock)
        return served

    yield start
    for runner in runners:
        await runner.cleanup()
    # aiohttp reads the rest of a body refused early ("lingering close", up to 10 s)
    # and misses the client hanging up meanwhile: end those reads.
    lingering = [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "RequestHandler.start"
    ]
    for task in lingering:
        task.cancel()
    await asyncio.gather(*lingering, return_exceptions=True)
    for server in servers:
        await server.close()


@pytest.fixture
async def served(serve: Serve) -> Served:
    """One server with the default limits."""
    return await serve()


def _files(tmp_path: Path) -> list[Path]:
    contents = {
        "page.jpg": _image("JPEG"),
        "page.png": _image("PNG", 200),
        "scan.pdf": PDF,
    }
    paths = []
    for name, data in contents.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    return paths


async def _call(
    session: aiohttp.ClientSession,
    url: str,
    operation: str,
    payload: etree._Element | None,
) -> tuple[int, Envelope]:
    """Send one raw request; return the HTTP status and the answer's envelope."""
    message = build_envelope(f"{DSP}/{operation}", url, payload)
    return await _post(session, url, message)


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    data: bytes,
    content_type: str = "application/soap+xml; charset=utf-8",
) -> tuple[int, Envelope]:
    async with session.post(
        url, data=data, headers={"Content-Type": content_type}
    ) as response:
        return response.status, parse_envelope(await response.read())


def _fault(envelope: Envelope) -> WsdFault:
    fault = envelope.fault()
    assert fault is not None
    return fault


def _subcode(envelope: Envelope) -> str:
    return _fault(envelope).subcode


def _create_request(
    user: str | None = "S-1-5-21-1-2-3-1104",
    scan_process: str | None = SCAN_PROCESS,
    root_name: str | None = "Invoices",
    continue_on_error: str = "false",
) -> etree._Element:
    request = element("dsp:CreatePostScanJobRequest")
    if user is not None:
        sub(request, "dsp:UserIdentifier", user)
    if scan_process is not None:
        sub(request, "dsp:PSP_Identifier", scan_process)
    instructions = sub(request, "dsp:PostScanInstructions")
    sub(instructions, "psp:ContinueOnError", continue_on_error)
    if root_name is not None:
        sub(instructions, "psp:DocumentRootName", root_name)
    return request


def _send_image_request(
    token: str, document_id: str = "1", keyword: str = "jfif", inline: bytes = b""
) -> etree._Element:
    request = element("dsp:SendImageRequest")
    sub(request, "dsp:JobToken", token)
    description = sub(request, "dsp:DocumentDescription")
    sub(description, "dsp:DocumentId", document_id)
    sub(description, "dsp:Format", keyword)
    sub(request, "dsp:ImageData", base64.b64encode(inline).decode())
    return request


def _token_request(operation: str, token: str) -> etree._Element:
    request = element(f"dsp:{operation}Request")
    sub(request, "dsp:JobToken", token)
    return request


async def test_a_job_arrives_byte_identical(
    session: aiohttp.ClientSession, served: Served, tmp_path: Path
) -> None:
    """JPEG, PNG and PDF in one job reach `on_job` unchanged, in order; spool emptied."""
    files = _files(tmp_path)
    status = await post_scan(
        session,
        served.url,
        files,
        PostScanSettings(
            user_identifier="S-1-5-21-7-1104",
            scan_process_id=SCAN_PROCESS,
            document_root_name="Invoices",
            filters=(FILESHARE,),
        ),
    )

    assert status.state == "Completed"
    assert status.reasons == ("PostScanJobCompletedSuccessfully",)
    assert status.images_received == 3
    assert status.scan_process_id == SCAN_PROCESS
    assert status.scan_process_name == "Invoices"
    assert status.user_name == "S-1-5-21-7-1104"
    [(job, data)] = served.jobs
    assert job.job_token == status.job_token
    assert job.document_root_name == "Invoices"
    assert job.filters == (FILESHARE,)
    assert data == [path.read_bytes() for path in files]
    assert [d.image_format for d in job.documents] == [
        ImageFormat.JPEG,
        ImageFormat.PNG,
        ImageFormat.PDF,
    ]
    assert [d.format_keyword for d in job.documents] == ["jfif", "png", "pdf-a"]
    assert [d.document_id for d in job.documents] == [1, 2, 3]
    assert served.spooled() == []


async def test_job_tokens_are_fresh_guids(
    session: aiohttp.ClientSession, served: Served
) -> None:
    """Every CreatePostScanJob gets its own JobToken."""
    client = PostScanClient(session, served.url)
    tokens = {await client.create_job(PostScanSettings()) for _ in range(3)}
    assert len(tokens) == 3
    assert all(len(token) == 36 for token in tokens)


async def test_two_jobs_at_once(
    session: aiohttp.ClientSession, served: Served, tmp_path: Path
) -> None:
    """Concurrent jobs keep their documents apart."""
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    statuses = await asyncio.gather(
        post_scan(session, served.url, _files(first)),
        post_scan(session, served.url, _files(second)[:1]),
    )
    assert [s.images_received for s in statuses] == [3, 1]
    assert sorted(len(data) for _job, data in served.jobs) == [1, 3]


async def test_cancel_mid_job_leaves_nothing(
    session: aiohttp.ClientSession, served: Served, tmp_path: Path
) -> None:
    """A cancelled job's documents are removed and never handed over."""
    client = PostScanClient(session, served.url, retry=NO_PAUSE)
    token = await client.create_job(PostScanSettings())
    await client.send_image(token, 1, _files(tmp_path)[0])
    assert len(served.spooled()) == 1

    await client.cancel_job(token)

    assert served.spooled() == []
    assert served.jobs == []
    status = await client.job_status(token)
    assert (status.state, status.reasons) == ("Canceled", ("PostScanJobCanceled",))
    with pytest.raises(WsdFault) as fault:
        await client.send_image(token, 2, _files(tmp_path)[1])
    assert fault.value.subcode == "OperationFailed"
    assert served.spooled() == []
    with pytest.raises(WsdFault, match="OperationFailed"):
        await client.end_job(token)


async def test_a_job_without_documents_completes_empty(
    session: aiohttp.ClientSession, served: Served
) -> None:
    """EndPostScanJob right after CreatePostScanJob completes; nothing is handed over."""
    client = PostScanClient(session, served.url)
    token = await client.create_job(PostScanSettings())
    await client.end_job(token)
    assert (await client.job_status(token)).state == "Completed"
    assert served.jobs == []


@pytest.mark.parametrize(
    ("request_body", "argument"),
    [
        (_create_request(user=None), "UserIdentifier"),
        (_create_request(user="S-1\t5"), "UserIdentifier"),
        (_create_request(scan_process=None), "PSP_Identifier"),
        (_create_request(scan_process=" "), "PSP_Identifier"),
        (_create_request(root_name=None), "DocumentRootName"),
        (_create_request(root_name="x" * 256), "DocumentRootName"),
        (_create_request(continue_on_error="maybe"), "ContinueOnError"),
        (element("dsp:CreatePostScanJobRequest"), "UserIdentifier"),
    ],
)
async def test_create_validates_its_arguments(
    session: aiohttp.ClientSession,
    served: Served,
    request_body: etree._Element,
    argument: str,
) -> None:
    """Missing or malformed arguments are InvalidArgs faults naming the argument."""
    status, answer = await _call(session, served.url, "CreatePostScanJob", request_body)
    fault = answer.fault()
    assert status == 400
    assert fault is not None
    assert (fault.code, fault.subcode, fault.detail) == (
        "Sender",
        "InvalidArgs",
        argument,
    )
    assert served.server.job_statuses == []


async def test_create_without_instructions_or_with_a_bad_filter(
    session: aiohttp.ClientSession, served: Served
) -> None:
    """PostScanInstructions is required; each Filter needs a dialect URI."""
    request = _create_request()
    request.remove(request[-1])
    _status, answer = await _call(session, served.url, "CreatePostScanJob", request)
    assert _subcode(answer) == "InvalidArgs"

    request = _create_request()
    entry = sub(sub(request[-1], "psp:FiltersToProcess"), "psp:Filter")
    sub(entry, "psp:Dialect", "fileshare")
    _status, answer = await _call(session, served.url, "CreatePostScanJob", request)
    assert _subcode(answer) == "InvalidArgs"


async def test_send_image_validates_the_document(
    session: aiohttp.ClientSession, served: Served
) -> None:
    """DocumentId an unused integer, Format a WS-Scan keyword, bytes an image."""
    jpeg = _image("JPEG")
    _status, answer = await _call(
        session, served.url, "CreatePostScanJob", _create_request()
    )
    assert answer.payload is not None
    token = answer.payload[0].text or ""

    async def send(document_id: str, keyword: str, data: bytes) -> str | None:
        _status, answer = await _call(
            session,
            served.url,
            "SendImage",
            _send_image_request(token, document_id, keyword, data),
        )
        fault = answer.fault()
        return None if fault is None else fault.detail

    assert await send("one", "jfif", jpeg) == "DocumentId"
    assert await send("1", "gif", jpeg) == "Format"
    assert await send("1", "jfif", b"GIF89a not an image we take") == "ImageData"
    assert await send("1", "jfif", b"") == "ImageData"
    assert served.spooled() == []
    # Inline base64 is accepted; the format is what the bytes are, not what was said.
    assert await send("1", "png", jpeg) is None
    assert await send("1", "jfif", jpeg) == "DocumentId"
    _status, answer = await _call(
        session, served.url, "EndPostScanJob", _token_request("EndPostScanJob", token)
    )
    assert answer.fault() is None
    [(job, data)] = served.jobs
    assert data == [jpeg]
    assert job.documents[0].image_format is ImageFormat.JPEG
    assert job.documents[0].format_keyword == "png"


async def test_unknown_jobs_and_operations(
    session: aiohttp.ClientSession, served: Served
) -> None:
    """An unknown JobToken is InvalidArgs, an unknown action ActionNotSupported."""
    for operation in ("EndPostScanJob", "CancelPostScanJob", "GetPostScanJobElements"):
        _status, answer = await _call(
            session, served.url, operation, _token_request(operation, "nope")
        )
        assert _subcode(answer) == "InvalidArgs"
    status, answer = await _call(
        session, served.url, "CreateScanJob", element("dsp:CreateScanJobRequest")
    )
    assert (status, _subcode(answer)) == (400, "ActionNotSupported")
    _status, answer = await _call(
        session, served.url, "EndPostScanJob", _token_request("CancelPostScanJob", "x")
    )
    assert _subcode(answer) == "InvalidArgs"


async def test_answers_relate_to_the_request(
    session: aiohttp.ClientSession, served: Served
) -> None:
    """Each answer's RelatesTo is the request's MessageID, its action ...Response."""
    message = build_envelope(
        f"{DSP}/CreatePostScanJob",
        served.url,
        _create_request(),
        message_id="urn:uuid:0b7a8c1e-0000-4000-8000-000000000001",
    )
    _status, answer = await _post(session, served.url, message)
    assert answer.relates_to == "urn:uuid:0b7a8c1e-0000-4000-8000-000000000001"
    assert answer.action == f"{DSP}/CreatePostScanJobResponse"


async def test_job_elements_accept_any_name_form_and_answer_prefixed(
    session: aiohttp.ClientSession, served: Served
) -> None:
    """Names are matched by local name; ElementData's attributes are `dsp:` prefixed."""
    client = PostScanClient(session, served.url)
    token = await client.create_job(PostScanSettings(filters=(FILESHARE,)))
    request = _token_request("GetPostScanJobElements", token)
    names = sub(request, "dsp:RequestedElements")
    sub(names, "dsp:Name", "JobStatus")
    sub(names, "dsp:Name", "other:JobDescription")
    sub(names, "dsp:Name", "dsp:JobHistory")
    _status, answer = await _call(
        session, served.url, "GetPostScanJobElements", request
    )
    assert answer.payload is not None
    data = answer.payload.findall(f"{{{DSP}}}JobElements/{{{DSP}}}ElementData")
    assert [
        (node.get(f"{{{DSP}}}Name"), node.get(f"{{{DSP}}}Valid")) for node in data
    ] == [
        ("dsp:JobStatus", "true"),
        ("dsp:JobDescription", "true"),
        ("dsp:JobHistory", "false"),
    ]
    assert data[0].findtext(f".//{{{DSP}}}FilterState") == "Pending"
    assert data[0].findtext(f".//{{{DSP}}}JobCreatedTime", "").endswith("Z")

    _status, answer = await _call(
        session,
        served.url,
        "GetPostScanJobElements",
        _token_request("GetPostScanJobElements", token),
    )
    assert _subcode(answer) == "InvalidArgs"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<not xml", "application/soap+xml"),
        (b"", "application/soap+xml"),
        (
            (
                b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><lol>&b;</lol>'
            ),
            "application/soap+xml",
        ),
        (b"<x/>" + b" " * (9 * 1024**2), "application/soap+xml"),
        (b"--b\r\n\r\n<x/>", "multipart/related"),
        (
            b"--b\r\nContent-Type: application/xop+xml\r\n\r\n<broken",
            'multipart/related; boundary="b"',
        ),
        (
            (
                b"--b\r\nContent-Type: application/xop+xml\r\n\r\n"
                b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'>"
                b"<s:Body/></s:Envelope>\r\n--b--"
            ),
            'multipart/related; boundary="b"',
        ),
    ],
    ids=[
        "malformed",
        "empty",
        "entities",
        "oversized",
        "no-boundary",
        "truncated",
        "no-image",
    ],
)
async def test_hostile_requests_are_faults(
    session: aiohttp.ClientSession, served: Served, body: bytes, content_type: str
) -> None:
    """Malformed or hostile XML, oversized bodies, broken MIME: InvalidArgs, no files."""
    status, answer = await _post(session, served.url, body, content_type)
    assert (status, _subcode(answer)) == (400, "InvalidArgs")
    assert served.spooled() == []


async def test_mtom_with_another_operation_is_refused(
    session: aiohttp.ClientSession, served: Served
) -> None:
    """Only SendImage carries a document; the part is not kept."""
    envelope = build_envelope(f"{DSP}/CreatePostScanJob", served.url, _create_request())
    body = (
        b"--b\r\nContent-Type: application/xop+xml\r\n\r\n"
        + envelope
        + b"\r\n--b\r\nContent-Type: image/jpeg\r\n\r\n"
        + _image("JPEG")
        + b"\r\n--b--\r\n"
    )
    _status, answer = await _post(
        session, served.url, body, 'multipart/related; boundary="b"'
    )
    assert _subcode(answer) == "InvalidArgs"
    assert served.spooled() == []
    assert served.server.job_statuses == []


async def test_mtom_with_the_image_inline(
    session: aiohttp.ClientSession, served: Served
) -> None:
    """An MTOM package whose ImageData holds base64 text instead of xop:Include."""
    client = PostScanClient(session, served.url)
    token = await client.create_job(PostScanSettings())
    png = _image("PNG")
    envelope = build_envelope(
        f"{DSP}/SendImage", served.url, _send_image_request(token, "4", "png", png)
    )
    body = b"--b\r\nContent-Type: application/xop+xml\r\n\r\n" + envelope + b"\r\n--b--"
    _status, answer = await _post(
        session, served.url, body, 'multipart/related; boundary="b"'
    )
    assert answer.fault() is None
    await client.end_job(token)
    [(job, data)] = served.jobs
    assert (job.documents[0].document_id, data) == (4, [png])


async def test_an_oversized_document_is_refused_with_bounded_memory(
    session: aiohttp.ClientSession, serve: Serve, tmp_path: Path
) -> None:
    """A document past the cap is a fault; nothing is stored; memory stays small."""
    served = await serve(limits=PostScanLimits(max_document_size=1024**2))
    big = tmp_path / "big.jpg"
    size = 48 * 1024**2
    with big.open("wb") as file:
        file.write(b"\xff\xd8\xff\xe0")
        file.truncate(size)
    tracemalloc.start()
    try:
        with pytest.raises(WsdFault) as fault:
            await post_scan(session, served.url, [big], retry=NO_PAUSE)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert fault.value.subcode == "InvalidArgs"
    assert fault.value.kind is ErrorKind.INVALID_ARGUMENT
    assert served.spooled() == []
    assert served.jobs == []
    [status] = served.server.job_statuses
    assert status.state == "Canceled"  # the client gave the job up
    # Client and server share the process: a few MiB for both, far below the upload.
    assert peak < size / 8, f"peak {peak} bytes for {size} sent"


async def test_a_job_past_its_size_cap_is_refused(
    session: aiohttp.ClientSession, serve: Serve, tmp_path: Path
) -> None:
    """The document that would make the job too large is refused and not kept."""
    files = _files(tmp_path)
    cap = files[0].stat().st_size + files[1].stat().st_size - 1
    served = await serve(limits=PostScanLimits(max_job_size=cap, max_documents=5))
    client = PostScanClient(session, served.url)
    token = await client.create_job(PostScanSettings())
    await client.send_image(token, 1, files[0])
    with pytest.raises(WsdFault, match="exceeds"):
        await client.send_image(token, 2, files[1])
    assert len(served.spooled()) == 1


async def test_a_job_holds_a_bounded_number_of_documents(
    session: aiohttp.ClientSession, serve: Serve, tmp_path: Path
) -> None:
    """The document past `max_documents` is refused."""
    served = await serve(limits=PostScanLimits(max_documents=1))
    client = PostScanClient(session, served.url)
    token = await client.create_job(PostScanSettings())
    await client.send_image(token, 1, _files(tmp_path)[0])
    with pytest.raises(WsdFault, match="at most 1 documents"):
        await client.send_image(token, 2, _files(tmp_path)[1])


async def test_every_job_slot_taken_is_a_temporary_error(
    session: aiohttp.ClientSession, serve: Serve
) -> None:
    """One job too many: ServerErrorTemporaryError, retried, then BUSY; a slot frees."""
    served = await serve(limits=PostScanLimits(max_jobs=1))
    client = PostScanClient(session, served.url, retry=NO_PAUSE)
    token = await client.create_job(PostScanSettings())
    with pytest.raises(WsdFault) as fault:
        await client.create_job(PostScanSettings())
    assert fault.value.subcode == "ServerErrorTemporaryError"
    assert fault.value.kind is ErrorKind.BUSY
    await client.end_job(token)
    await client.create_job(PostScanSettings())


async def test_busy_storage_keeps_the_job_for_a_retry(
    session: aiohttp.ClientSession, served: Served, tmp_path: Path
) -> None:
    """`on_job` reporting BUSY: temporary fault, the client repeats EndPostScanJob."""
    served.failures.append(WsdError(ErrorKind.BUSY, "the media folder is busy"))
    status = await post_scan(session, served.url, _files(tmp_path), retry=NO_PAUSE)
    assert status.state == "Completed"
    [(_job, data)] = served.jobs
    assert len(data) == 3
    assert served.spooled() == []


@pytest.mark.parametrize(
    "failure",
    [
        WsdError(ErrorKind.STORAGE, "the media folder is read-only"),
        OSError(errno.EACCES, "Permission denied"),
    ],
)
async def test_failing_storage_aborts_the_job(
    session: aiohttp.ClientSession,
    served: Served,
    tmp_path: Path,
    failure: Exception,
) -> None:
    """A lasting storage failure: ServerErrorInternalError, job Aborted, files removed."""
    served.failures.append(failure)
    client = PostScanClient(session, served.url, retry=NO_PAUSE)
    token = await client.create_job(PostScanSettings())
    await client.send_image(token, 1, _files(tmp_path)[0])
    with pytest.raises(WsdFault) as fault:
        await client.end_job(token)
    assert fault.value.subcode == "ServerErrorInternalError"
    status = await client.job_status(token)
    assert (status.state, status.reasons) == (
        "Aborted",
        ("PostScanJobProcessingFailed",),
    )
    assert served.spooled() == []


async def test_an_unexpected_error_is_an_internal_fault(
    session: aiohttp.ClientSession,
    served: Served,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug in `on_job` is logged and answered; the client's cancel cleans up."""
    served.failures.append(RuntimeError("bug"))
    with pytest.raises(WsdFault) as fault:
        await post_scan(session, served.url, _files(tmp_path), retry=NO_PAUSE)
    assert fault.value.subcode == "ServerErrorInternalError"
    assert "failed unexpectedly" in caplog.text
    assert served.spooled() == []


async def test_a_document_that_cannot_be_stored_is_an_internal_error(
    session: aiohttp.ClientSession, served: Served, tmp_path: Path
) -> None:
    """The job's folder is gone: ServerErrorInternalError; the upload is not left."""
    client = PostScanClient(session, served.url, retry=NO_PAUSE)
    token = await client.create_job(PostScanSettings())
    job_folder = served.server.spool / token
    job_folder.rmdir()
    job_folder.write_bytes(b"")
    with pytest.raises(WsdFault) as fault:
        await client.send_image(token, 1, _files(tmp_path)[0])
    assert fault.value.subcode == "ServerErrorInternalError"
    assert [path.name for path in served.spooled()] == [token]


async def test_a_full_disk_is_a_temporary_error(
    session: aiohttp.ClientSession,
    served: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No room left (the disk is outside our control: faked): a temporary error."""

    def full(source: Path, target: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    client = PostScanClient(session, served.url, retry=NO_PAUSE)
    token = await client.create_job(PostScanSettings())
    monkeypatch.setattr(os, "rename", full)
    with pytest.raises(WsdFault) as fault:
        await client.send_image(token, 1, _files(tmp_path)[0])
    assert fault.value.subcode == "ServerErrorTemporaryError"
    assert fault.value.kind is ErrorKind.BUSY
    assert served.spooled() == []


async def test_idle_jobs_are_cancelled_then_forgotten(
    session: aiohttp.ClientSession, served: Served, tmp_path: Path
) -> None:
    """Past the idle timeout a job is cancelled, its files removed; later forgotten."""
    client = PostScanClient(session, served.url)
    idle = await client.create_job(PostScanSettings())
    await client.send_image(idle, 1, _files(tmp_path)[0])
    served.clock.now += served.server.limits.idle_timeout / 2
    busy = await client.create_job(PostScanSettings())

    assert await served.server.expire_idle() == []
    served.clock.now += served.server.limits.idle_timeout / 2
    assert await served.server.expire_idle() == [idle]

    assert served.spooled() == []
    assert (await client.job_status(idle)).state == "Canceled"
    assert (await client.job_status(busy)).state == "Pending"
    served.clock.now += served.server.limits.idle_timeout
    assert await served.server.expire_idle() == [busy]
    served.clock.now += served.server.limits.idle_timeout
    assert await served.server.expire_idle() == []
    assert served.server.job_statuses == []


async def test_the_reaper_expires_jobs_on_its_own(
    session: aiohttp.ClientSession, serve: Serve
) -> None:
    """`start` runs `expire_idle` every quarter timeout (`sleep` is injected)."""
    ticks: asyncio.Queue[None] = asyncio.Queue()
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)
        await ticks.get()

    served = await serve(sleep=sleep)
    client = PostScanClient(session, served.url)
    token = await client.create_job(PostScanSettings())
    served.clock.now += served.server.limits.idle_timeout
    ticks.put_nowait(None)
    async with asyncio.timeout(30):
        while (
            status := served.server.job_status(token)
        ) and status.state != "Canceled":
            await asyncio.sleep(0)
    assert slept[0] == served.server.limits.idle_timeout / 4


async def test_start_removes_what_a_stopped_server_left(tmp_path: Path) -> None:
    """Files of jobs cut off by a restart are removed when the server starts."""
    spool = tmp_path / "spool"
    (spool / "job").mkdir(parents=True)
    (spool / "job" / "document-1.jpg").write_bytes(b"partial")
    (spool / "upload-1.part").write_bytes(b"partial")

    async def on_job(job: ReceivedJob) -> None:
        raise AssertionError(job)

    server = PostScanServer(spool, on_job)
    await server.start()
    assert list(spool.iterdir()) == []
    await server.close()


async def test_close_cancels_open_jobs(
    session: aiohttp.ClientSession, served: Served, tmp_path: Path
) -> None:
    """Closing drops every open job and its files."""
    client = PostScanClient(session, served.url)
    token = await client.create_job(PostScanSettings())
    await client.send_image(token, 1, _files(tmp_path)[0])
    await served.server.close()
    assert served.spooled() == []
    assert served.server.job_status(token) is None


async def test_inline_documents_are_bounded_and_decoded(
    session: aiohttp.ClientSession, serve: Serve
) -> None:
    """An inline document past the cap, or not base64, is InvalidArgs."""
    served = await serve(limits=PostScanLimits(max_document_size=100))
    client = PostScanClient(session, served.url)
    token = await client.create_job(PostScanSettings())
    request = _send_image_request(token, inline=_image("PNG"))
    _status, answer = await _call(session, served.url, "SendImage", request)
    assert "exceeds 100 bytes" in _fault(answer).reason
    request = _send_image_request(token)
    request[-1].text = "abcde"
    _status, answer = await _call(session, served.url, "SendImage", request)
    fault = _fault(answer)
    assert ("undecodable" in fault.reason, fault.detail) == (True, "ImageData")
    assert served.spooled() == []


async def test_serve_post_scan_command(
    session: aiohttp.ClientSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`scripts/wsd serve-post-scan` prints its endpoint, then each job kept in DIR."""
    out = tmp_path / "out"
    command = asyncio.create_task(
        cli.run(["serve-post-scan", "--out", str(out), "--count", "1"])
    )
    lines: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while not lines:
            await asyncio.sleep(0.01)
            lines += [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    files = _files(tmp_path)
    client = PostScanClient(session, lines[0]["endpoint"])
    token = await client.create_job(PostScanSettings())
    for document_id, path in enumerate(files, start=1):
        await client.send_image(token, document_id, path)
    await client.end_job(token)
    assert await command == 0

    [job] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert job["job_token"] == token
    assert [Path(name).read_bytes() for name in job["files"]] == [
        path.read_bytes() for path in files
    ]
    assert list((out / ".incoming").iterdir()) == []
