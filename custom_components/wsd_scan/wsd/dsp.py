"""WS-DSP client: hand finished scans to a post-scan endpoint (a distributed scan server).

Protocol reference: Microsoft's Distributed Scan Management pages ("WS-DSP
Operations" and the pages it links), in MicrosoftDocs/windows-driver-docs under
windows-driver-docs-pr/image/ before commit e0ea114c49ee removed them. This library plays
the DSM device: one post-scan job per document set, CreatePostScanJob → SendImage (one MTOM
request per file, streamed from disk) → EndPostScanJob, then GetPostScanJobElements for the
job's final status. A failed or cancelled upload sends CancelPostScanJob, so the server
does not keep a half-received job; the local files are never touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
import logging
from pathlib import Path
import ssl as ssl_module
from typing import BinaryIO, Final
import uuid

import aiohttp
from lxml import etree

from . import soap
from .discovery import locate
from .document import sniff_image_format
from .exceptions import ErrorKind, WsdError, WsdFault
from .models import ImageFormat
from .scan import RetryPolicy, Sleep
from .xml import DSP, Element, Envelope, build_envelope, element, parse, sub, text

_LOGGER = logging.getLogger(__name__)

#: WS-Scan format keywords a scan server expects in DocumentDescription/Format.
FORMAT_KEYWORDS: Final[dict[ImageFormat, str]] = {
    ImageFormat.JPEG: "jfif",
    ImageFormat.PNG: "png",
    ImageFormat.TIFF: "tiff-multi-uncompressed",
    ImageFormat.BMP: "dib",
    ImageFormat.PDF: "pdf-a",
}
#: Time for one file upload: a 100-page PDF crosses a slow Wi-Fi link in well under this.
UPLOAD_TIMEOUT: Final = 600.0
#: Time the best-effort CancelPostScanJob of an abandoned job may take, retries included.
CANCEL_TIMEOUT: Final = 10.0
#: ServerErrorTemporaryError means "retry the same request later" (DSM page "Common
#: Distributed Scan Processing Web Service Operation Error Codes").
POST_SCAN_RETRY: Final = RetryPolicy(
    attempts=5, initial_delay=1.0, max_delay=8.0, factor=2.0
)
_TEMPORARY_ERROR: Final = "ServerErrorTemporaryError"
_FAULT_KINDS: Final = {
    "InvalidArgs": ErrorKind.INVALID_ARGUMENT,
    "ActionNotSupported": ErrorKind.UNSUPPORTED,
    _TEMPORARY_ERROR: ErrorKind.BUSY,
    "OperationFailed": ErrorKind.DEVICE_ERROR,
    "ServerErrorInternalError": ErrorKind.DEVICE_ERROR,
}
_ROOT_ID: Final = "root@wsd-scan"
_SNIFF_SIZE: Final = 16
#: Home Assistant is no Active Directory user: it submits as the null SID ("nobody").
NULL_SID: Final = "S-1-0-0"
#: Strong references to shielded CancelPostScanJob tasks of abandoned jobs.
_CANCELLING: Final[set[asyncio.Task[None]]] = set()


def _filter_element(entry: str) -> Element:
    """Build a `psp:Filter` from a FiltersToProcess entry (see `PostScanSettings`)."""
    value = entry.strip()
    if not value.startswith("<"):
        if "://" not in value and not value.startswith("urn:"):
            raise WsdError(
                ErrorKind.INVALID_ARGUMENT,
                f"filter {entry!r} is neither a dialect URI nor an XML instruction",
            )
        dialect, instructions = value, None
    else:
        try:
            instructions = parse(value.encode())
        except WsdError as err:
            raise WsdError(
                ErrorKind.INVALID_ARGUMENT, f"filter instruction is not XML: {err}"
            ) from err
        dialect = etree.QName(instructions).namespace or ""
        if not dialect:
            raise WsdError(
                ErrorKind.INVALID_ARGUMENT,
                f"filter instruction <{etree.QName(instructions).localname}> has no "
                "namespace: the namespace is the filter's dialect",
            )
    node = element("psp:Filter")
    sub(node, "psp:Dialect", dialect)
    if instructions is not None:
        sub(node, "psp:Instructions").append(instructions)
    return node


@dataclass(frozen=True, slots=True)
class PostScanSettings:
    r"""What CreatePostScanJob says about the job (its response, "WS-DSP Operations").

    `filters` are the FiltersToProcess entries. Each is either a filter's instruction
    element as XML, e.g. `<fsf:FileShareConfig xmlns:fsf="…/postscan/filter/fileshare">
    <fsf:FileShares><fsf:ShareUNC>\\server\scans</fsf:ShareUNC></fsf:FileShares>
    </fsf:FileShareConfig>` (the dialect is its namespace), or a bare dialect URI for a
    filter whose instructions the server keeps. Invalid entries raise `WsdError`
    (INVALID_ARGUMENT) on construction.
    """

    user_identifier: str = NULL_SID
    #: PSP_Identifier, the scan process GUID; a fresh GUID when None.
    scan_process_id: str | None = None
    document_root_name: str = "scan"
    filters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse filters that cannot be sent."""
        for entry in self.filters:
            _filter_element(entry)


@dataclass(frozen=True, slots=True)
class PostScanJobStatus:
    """The scan server's view of a post-scan job (GetPostScanJobElements).

    While files are uploading, `post_scan` reports the client's view: `Pending` after
    CreatePostScanJob, `Processing` with the images the server has confirmed so far.
    The JobDescription fields are None when the server did not describe the job.
    """

    job_token: str
    state: str
    reasons: tuple[str, ...] = ()
    images_received: int | None = None
    scan_process_id: str | None = None
    scan_process_name: str | None = None
    user_name: str | None = None


def post_scan_ssl(
    *, ca_file: Path | None = None, verify: bool = True
) -> ssl_module.SSLContext | bool:
    """Return the `ssl` argument of `post_scan` for an https endpoint.

    Certificates are verified against the system's roots by default; `ca_file` (PEM) adds
    a CA to trust, e.g. an enterprise or self-signed one. `verify=False` turns
    verification off and logs a warning. Reads files: run it in an executor.
    """
    if not verify:
        if ca_file is not None:
            raise WsdError(
                ErrorKind.INVALID_ARGUMENT,
                "a CA file makes no sense with certificate verification off",
            )
        _LOGGER.warning(
            "TLS certificate verification of the post-scan endpoint is off: anyone on "
            "the network path can read and change the scans"
        )
        return False
    if ca_file is None:
        return True
    context = ssl_module.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_file)
    except (OSError, ssl_module.SSLError) as err:
        raise WsdError(
            ErrorKind.INVALID_ARGUMENT, f"cannot use {ca_file} as a CA file: {err}"
        ) from err
    return context


async def find_post_scan_endpoint(
    session: aiohttp.ClientSession,
    target: str,
    *,
    ssl: ssl_module.SSLContext | bool = True,
) -> str:
    """Return the WS-DSP service URL of `target`.

    A URL is the endpoint itself. A host or host:port is located (`discovery.locate`: a
    directed probe and a metadata Get); its hosted service with a type in the WS-DSP
    namespace is the endpoint (the type's local name is not documented).
    """
    if "://" in target:
        return target
    located = await locate(session, target, ssl=ssl)
    endpoint = next(
        (
            service.addresses[0]
            for service in located.info.services
            if service.addresses
            and any(namespace == DSP for namespace, _local in service.types)
        ),
        None,
    )
    if endpoint is None:
        raise WsdError(ErrorKind.UNSUPPORTED, f"{target} hosts no WS-DSP service")
    return endpoint


def _mtom_package(
    envelope: bytes, file: BinaryIO, content_id: str
) -> aiohttp.MultipartWriter:
    """Package an envelope (root part) and a file (the part it references) as MTOM/XOP."""
    package = aiohttp.MultipartWriter("related", f"wsd-scan-{uuid.uuid4().hex}")
    package.append(
        envelope,
        {
            "Content-Type": 'application/xop+xml; charset=UTF-8; type="application/soap+xml"',
            "Content-Transfer-Encoding": "binary",
            "Content-ID": f"<{_ROOT_ID}>",
        },
    )
    package.append(
        file,
        {
            "Content-Type": "application/octet-stream",
            "Content-Transfer-Encoding": "binary",
            "Content-ID": f"<{content_id}>",
        },
    )
    return package


def _open_image(path: Path) -> tuple[BinaryIO, str]:
    """Open a file to upload and return it with its format keyword (blocking)."""
    file = path.open("rb")
    image_format = sniff_image_format(file.read(_SNIFF_SIZE))
    if image_format not in FORMAT_KEYWORDS:
        file.close()
        raise WsdError(
            ErrorKind.INVALID_ARGUMENT, f"{path.name} is not an image or PDF"
        )
    file.seek(0)
    return file, FORMAT_KEYWORDS[image_format]


def _server_fault(operation: str, fault: WsdFault, attempts: int) -> WsdFault:
    """Name the operation and give the fault the kind a user acts on."""
    reason = f"{operation} failed: {fault.reason or fault.subcode}"
    if fault.subcode == _TEMPORARY_ERROR:
        reason += f" (a temporary error still after {attempts} attempts)"
    return WsdFault(
        fault.subcode,
        reason,
        code=fault.code,
        detail=fault.detail,
        kind=_FAULT_KINDS.get(fault.subcode, ErrorKind.DEVICE_ERROR),
    )


def _attribute(node: Element, local: str) -> str | None:
    """Read an attribute by local name: ElementData's Name/Valid come prefixed or not."""
    return next(
        (
            value
            for name, value in node.attrib.items()
            if etree.QName(name).localname == local
        ),
        None,
    )


def _count(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise WsdError(ErrorKind.PROTOCOL, f"{name} is not a count: {value!r}")
    return int(value)


def parse_job_elements(answer: Element, job_token: str) -> PostScanJobStatus:
    """Decode a GetPostScanJobElementsResponse (JobStatus required, JobDescription not)."""
    found: dict[str, Element] = {}
    for data in answer.iterfind("dsp:JobElements/dsp:ElementData", {"dsp": DSP}):
        name = (_attribute(data, "Name") or "").rpartition(":")[2]
        content = data.find(f"dsp:{name}", {"dsp": DSP}) if name else None
        if _attribute(data, "Valid") != "false" and content is not None:
            found[name] = content
    status = found.get("JobStatus")
    if status is None:
        raise WsdError(
            ErrorKind.PROTOCOL, "GetPostScanJobElements answer has no valid JobStatus"
        )
    state = text(status, "dsp:JobState")
    if state is None:
        raise WsdError(ErrorKind.PROTOCOL, "the post-scan job status has no JobState")
    description = found.get("JobDescription")
    return PostScanJobStatus(
        job_token=text(status, "dsp:JobToken") or job_token,
        state=state,
        reasons=tuple(
            reason
            for node in status.iterfind(
                "dsp:JobStateReasons/dsp:JobStateReason", {"dsp": DSP}
            )
            if (reason := text(node))
        ),
        images_received=_count(text(status, "dsp:ImagesReceived"), "ImagesReceived"),
        scan_process_id=text(description, "dsp:PSP_Identifier"),
        scan_process_name=text(description, "dsp:PSP_DisplayName"),
        user_name=text(description, "dsp:JobOriginatingUserName"),
    )


class PostScanClient:
    """Talks WS-DSP to one post-scan endpoint URL.

    A ServerErrorTemporaryError is retried with backoff (`retry`): the fault says the
    server did not act on the request, so repeating it is safe for every operation.
    Other faults raise `WsdFault` with a kind: InvalidArgs is INVALID_ARGUMENT,
    OperationFailed and ServerErrorInternalError are DEVICE_ERROR.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoint: str,
        *,
        timeout: float = soap.REQUEST_TIMEOUT,
        ssl: ssl_module.SSLContext | bool = True,
        retry: RetryPolicy = POST_SCAN_RETRY,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Remember the session and the endpoint; nothing is sent yet."""
        self._session = session
        self.endpoint = endpoint
        self._timeout = timeout
        self._ssl = ssl
        self._retry = retry
        self._sleep = sleep

    async def _retrying(
        self, operation: str, send: Callable[[], Awaitable[Envelope | None]]
    ) -> Element | None:
        """Run `send` until it is not answered by a temporary error; return the payload."""
        attempt = 1
        while True:
            try:
                envelope = await send()
            except WsdFault as fault:
                if fault.subcode != _TEMPORARY_ERROR or attempt >= self._retry.attempts:
                    raise _server_fault(operation, fault, attempt) from fault
                _LOGGER.debug("%s attempt %d: %s; retrying", operation, attempt, fault)
            else:
                return envelope.payload if envelope is not None else None
            await self._sleep(self._retry.delay(attempt))
            attempt += 1

    async def _call(self, operation: str, body: Element) -> Element | None:
        """Send one operation; return the response's body element, if any."""
        message = build_envelope(f"{DSP}/{operation}", self.endpoint, body)
        return await self._retrying(
            operation,
            lambda: soap.post(
                self._session,
                self.endpoint,
                message,
                timeout=self._timeout,
                ssl=self._ssl,
            ),
        )

    async def _answer(self, operation: str, body: Element) -> Element:
        """Send one operation whose answer carries data; return the response element."""
        if (payload := await self._call(operation, body)) is None:
            raise WsdError(ErrorKind.PROTOCOL, f"{operation} answer is empty")
        return payload

    async def create_job(self, settings: PostScanSettings) -> str:
        """Create a post-scan job; return its JobToken."""
        request = element("dsp:CreatePostScanJobRequest")
        sub(request, "dsp:UserIdentifier", settings.user_identifier)
        sub(
            request,
            "dsp:PSP_Identifier",
            settings.scan_process_id or str(uuid.uuid4()).upper(),
        )
        instructions = sub(request, "dsp:PostScanInstructions")
        sub(instructions, "psp:ContinueOnError", "false")
        sub(instructions, "psp:DocumentRootName", settings.document_root_name)
        filters = sub(instructions, "psp:FiltersToProcess")
        for entry in settings.filters:
            filters.append(_filter_element(entry))
        token = text(await self._answer("CreatePostScanJob", request), "dsp:JobToken")
        if not token:
            raise WsdError(
                ErrorKind.PROTOCOL, "CreatePostScanJob answer has no JobToken"
            )
        return token

    async def send_image(self, job_token: str, document_id: int, path: Path) -> None:
        """Upload one file as an MTOM SendImage request, streamed from disk."""
        content_id = f"document-{document_id}@wsd-scan"

        async def send() -> Envelope | None:
            file, format_keyword = await asyncio.to_thread(_open_image, path)
            try:
                request = element("dsp:SendImageRequest")
                sub(request, "dsp:JobToken", job_token)
                description = sub(request, "dsp:DocumentDescription")
                sub(description, "dsp:DocumentId", str(document_id))
                sub(description, "dsp:Format", format_keyword)
                sub(sub(request, "dsp:ImageData"), "xop:Include").set(
                    "href", f"cid:{content_id}"
                )
                envelope = build_envelope(f"{DSP}/SendImage", self.endpoint, request)
                package = _mtom_package(envelope, file, content_id)
                return await soap.post(
                    self._session,
                    self.endpoint,
                    package,
                    timeout=UPLOAD_TIMEOUT,
                    ssl=self._ssl,
                    content_type=(
                        f'multipart/related; type="application/xop+xml"; '
                        f'boundary="{package.boundary}"; start="<{_ROOT_ID}>"; '
                        'start-info="application/soap+xml"'
                    ),
                )
            finally:
                await asyncio.to_thread(file.close)

        await self._retrying("SendImage", send)

    async def end_job(self, job_token: str) -> None:
        """Tell the server every document has arrived."""
        request = element("dsp:EndPostScanJobRequest")
        sub(request, "dsp:JobToken", job_token)
        await self._call("EndPostScanJob", request)

    async def cancel_job(self, job_token: str) -> None:
        """Cancel a job (best effort on the server's side)."""
        request = element("dsp:CancelPostScanJobRequest")
        sub(request, "dsp:JobToken", job_token)
        await self._call("CancelPostScanJob", request)

    async def job_status(self, job_token: str) -> PostScanJobStatus:
        """Read the job's JobStatus and JobDescription elements."""
        request = element("dsp:GetPostScanJobElementsRequest")
        sub(request, "dsp:JobToken", job_token)
        names = sub(request, "dsp:RequestedElements")
        sub(names, "dsp:Name", "dsp:JobStatus")
        sub(names, "dsp:Name", "dsp:JobDescription")
        answer = await self._answer("GetPostScanJobElements", request)
        return parse_job_elements(answer, job_token)

    async def abandon(self, job_token: str) -> None:
        """Cancel a job best effort, within CANCEL_TIMEOUT, even if the caller is cancelled.

        The request runs in its own task, shielded: a second cancellation of the caller
        does not cut it off half-sent.
        """

        async def cancel() -> None:
            try:
                async with asyncio.timeout(CANCEL_TIMEOUT):
                    await self.cancel_job(job_token)
            except WsdError, TimeoutError:
                _LOGGER.debug("CancelPostScanJob %s failed", job_token, exc_info=True)

        task = asyncio.create_task(cancel())
        _CANCELLING.add(task)
        task.add_done_callback(_CANCELLING.discard)
        await asyncio.shield(task)


async def post_scan(
    session: aiohttp.ClientSession,
    endpoint: str,
    files: Sequence[Path],
    settings: PostScanSettings = PostScanSettings(),  # noqa: B008 - immutable
    *,
    ssl: ssl_module.SSLContext | bool = True,
    on_status: Callable[[PostScanJobStatus], None] | None = None,
    retry: RetryPolicy = POST_SCAN_RETRY,
) -> PostScanJobStatus:
    """Upload `files` as one post-scan job and return the job's final status.

    `endpoint` is the WS-DSP service URL (`find_post_scan_endpoint`); `ssl` comes from
    `post_scan_ssl`. `on_status` sees the job advance: after CreatePostScanJob, after each
    SendImage, and the final status. If an upload fails or the calling task is cancelled,
    the job is cancelled on the server (best effort) and the error or cancellation
    propagates; the files themselves are never touched, so nothing is lost.
    """
    if not files:
        raise WsdError(ErrorKind.INVALID_ARGUMENT, "no files to send")
    client = PostScanClient(session, endpoint, ssl=ssl, retry=retry)

    def report(status: PostScanJobStatus) -> None:
        if on_status is not None:
            on_status(status)

    token = await client.create_job(settings)
    report(PostScanJobStatus(token, "Pending", images_received=0))
    try:
        for document_id, path in enumerate(files, start=1):
            await client.send_image(token, document_id, path)
            report(PostScanJobStatus(token, "Processing", images_received=document_id))
        await client.end_job(token)
    except BaseException:
        await client.abandon(token)
        raise
    status = await client.job_status(token)
    report(status)
    return status
