"""WS-DSP scan server: receive post-scan jobs (the DSM Scan Server role).

Protocol reference: Microsoft's Distributed Scan Management pages ("WS-DSP Operations",
"Common Distributed Scan Processing Web Service Operation Error Codes" and the pages they
link), in MicrosoftDocs/windows-driver-docs under windows-driver-docs-pr/image/ before
commit e0ea114c49ee removed them. `dsp.py` plays the other role, the DSM device.

Transport-agnostic: `PostScanServer.handle` takes a request's Content-Type and body stream
and returns a `ServerAnswer`; `aiohttp_handler` mounts it in an aiohttp.web application.

A job: CreatePostScanJob → Pending, with a fresh JobToken; each SendImage streams one
document to `<spool>/<JobToken>/` (MTOM, or base64 inline for small documents) →
Processing; EndPostScanJob hands the documents to `on_job` → Completed, and removes the
spool files (`on_job` moves or copies what it keeps); CancelPostScanJob → Canceled, the
files removed. `expire_idle` (run by `start`'s reaper) cancels jobs idle for
`PostScanLimits.idle_timeout` and forgets ended jobs after as long.

Faults: InvalidArgs for a request that does not name a job, a document or a valid
argument; OperationFailed for an operation the job's state forbids;
ServerErrorTemporaryError when every job slot is taken, the disk is full or `on_job`
reports busy storage (the client retries); ServerErrorInternalError when storing fails
for good. Hostile input (malformed or hostile XML, oversized or broken MIME) gets a
fault; nothing of it stays on disk.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
import errno
import logging
import os
from pathlib import Path
import shutil
import time
from typing import Final
import uuid

import aiohttp
from aiohttp import hdrs, web
from aiohttp.helpers import parse_mimetype
from lxml import etree

from .document import sniff_image_format
from .dsp import PostScanJobStatus
from .exceptions import ErrorKind, WsdError, WsdFault
from .models import ImageFormat
from .mtom import STALL_TIMEOUT, read_mtom_request
from .scan import Sleep
from .soap import CONTENT_TYPE
from .xml import (
    ANONYMOUS,
    DSP,
    MAX_MESSAGE_SIZE,
    Element,
    Envelope,
    build_envelope,
    element,
    find,
    findall,
    local_name,
    parse_envelope,
    sub,
    text,
)

_LOGGER = logging.getLogger(__name__)

#: WS-Scan DocumentFormat keywords, the values of SendImage's Format ("SendImageRequest
#: DocumentDescription Format").
FORMAT_KEYWORD_VALUES: Final = frozenset(
    {
        "dib",
        "exif",
        "jbig",
        "jfif",
        "jpeg2k",
        "pdf-a",
        "png",
        "xps",
        *(
            f"tiff-{count}-{compression}"
            for count in ("single", "multi")
            for compression in ("uncompressed", "g4", "g3mh", "jpeg-tn2")
        ),
    }
)
_FAULT_ACTION: Final = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault"
_XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
_INLINE_IMAGE: Final = ".//dsp:ImageData"
_SNIFF_SIZE: Final = 16
#: Longest UserIdentifier (a SID is under 200 characters) and DocumentRootName kept.
_MAX_NAME: Final = 255
_DISK_FULL: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
_BOOLEANS: Final = (None, "true", "false", "1", "0")

PENDING: Final = "Pending"
PROCESSING: Final = "Processing"
COMPLETED: Final = "Completed"
CANCELED: Final = "Canceled"
ABORTED: Final = "Aborted"
_ACTIVE: Final = frozenset({PENDING, PROCESSING})


@dataclass(frozen=True, slots=True)
class PostScanLimits:
    """Bounds on what one server accepts (DSM documents no limits of its own)."""

    max_document_size: int = 512 * 1024**2
    max_job_size: int = 2 * 1024**3
    max_documents: int = 1000
    #: Jobs receiving at once; one more gets ServerErrorTemporaryError.
    max_jobs: int = 4
    #: Time without a request before a job is cancelled (DSM sets no bound between
    #: SendImage calls); also how long an ended job's status stays readable.
    idle_timeout: float = 600.0
    #: Silence tolerated while a request body arrives.
    stall_timeout: float = STALL_TIMEOUT
    #: A request that is not MTOM, a document inline as base64 included.
    max_message_size: int = 8 * 1024**2


@dataclass(frozen=True, slots=True)
class ReceivedDocument:
    """One document of a post-scan job, in the server's spool until `on_job` returns."""

    document_id: int
    #: The Format keyword the client declared (not trusted: `image_format` is sniffed).
    format_keyword: str
    image_format: ImageFormat
    path: Path
    size: int


@dataclass(frozen=True, slots=True)
class ReceivedJob:
    """A post-scan job: what CreatePostScanJob said, the documents received."""

    job_token: str
    user_identifier: str
    scan_process_id: str
    document_root_name: str
    #: The dialect URIs of FiltersToProcess.
    filters: tuple[str, ...]
    created: datetime
    #: By DocumentId.
    documents: tuple[ReceivedDocument, ...]


type JobHandler = Callable[[ReceivedJob], Awaitable[None]]
type RequestObserver = Callable[[str, Envelope], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ServerAnswer:
    """What to answer one request: an HTTP status and a SOAP envelope."""

    status: int
    body: bytes
    content_type: str = CONTENT_TYPE


@dataclass(slots=True)
class _Job:
    token: str
    user_identifier: str
    scan_process_id: str
    document_root_name: str
    filters: tuple[str, ...]
    created: datetime
    directory: Path
    touched: float
    state: str = PENDING
    reason: str = "None"
    documents: dict[int, ReceivedDocument] = field(default_factory=dict)
    size: int = 0
    completed: datetime | None = None
    ending: bool = False

    def received(self) -> ReceivedJob:
        return ReceivedJob(
            job_token=self.token,
            user_identifier=self.user_identifier,
            scan_process_id=self.scan_process_id,
            document_root_name=self.document_root_name,
            filters=self.filters,
            created=self.created,
            documents=tuple(
                document for _id, document in sorted(self.documents.items())
            ),
        )

    def status(self) -> PostScanJobStatus:
        return PostScanJobStatus(
            job_token=self.token,
            state=self.state,
            reasons=(self.reason,),
            images_received=len(self.documents),
            scan_process_id=self.scan_process_id,
            scan_process_name=self.document_root_name,
            user_name=self.user_identifier,
        )


@dataclass(frozen=True, slots=True)
class _Upload:
    """A document received into a temporary spool file, its job not yet checked."""

    path: Path
    size: int
    image_format: ImageFormat


def _invalid(reason: str, argument: str = "") -> WsdFault:
    return WsdFault("InvalidArgs", reason, code="Sender", detail=argument)


def _failed(reason: str) -> WsdFault:
    return WsdFault("OperationFailed", reason, code="Receiver")


def _temporary(reason: str) -> WsdFault:
    return WsdFault("ServerErrorTemporaryError", reason, code="Receiver")


def _internal(reason: str) -> WsdFault:
    return WsdFault("ServerErrorInternalError", reason, code="Receiver")


def _storage_fault(err: OSError) -> WsdFault:
    """Return a temporary fault for a full disk (it may empty), else an internal one."""
    reason = f"cannot store the document: {err.strerror or err}"
    return _temporary(reason) if err.errno in _DISK_FULL else _internal(reason)


def _timestamp(value: datetime) -> str:
    return (
        value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _required(payload: Element, path: str, argument: str) -> str:
    value = text(payload, path)
    if value is None:
        raise _invalid(f"{argument} is missing", argument)
    if len(value) > _MAX_NAME or not value.isprintable():
        raise _invalid(f"{argument} is not a short printable text", argument)
    return value


def _remove(path: Path) -> None:
    """Remove a file or a folder tree, if it exists (blocking)."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _clear(spool: Path) -> None:
    """Create the spool folder, empty: what a stopped server left is incomplete."""
    spool.mkdir(parents=True, exist_ok=True)
    for leftover in spool.iterdir():
        _LOGGER.info("Removing an unfinished post-scan upload: %s", leftover)
        _remove(leftover)


def _write_new(path: Path, data: bytes) -> None:
    with path.open("xb") as file:
        file.write(data)


class PostScanServer:
    """Receives WS-DSP post-scan jobs into a spool folder it owns alone.

    `on_job` gets each completed job's documents; a `WsdError` of kind BUSY from it
    becomes ServerErrorTemporaryError (the job stays open: the client repeats
    EndPostScanJob), any other `WsdError` or `OSError` aborts the job. `clock` (seconds,
    monotonic) and `sleep` drive the idle timeout. `on_request` sees each well-formed
    request (its operation and envelope) before it runs, and may refuse it by raising a
    `WsdFault` (the simulator injects faults this way).
    """

    def __init__(
        self,
        spool: Path,
        on_job: JobHandler,
        *,
        limits: PostScanLimits = PostScanLimits(),  # noqa: B008 - immutable
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        on_request: RequestObserver | None = None,
    ) -> None:
        """Configure; call `start` before serving."""
        self.spool = spool
        self.limits = limits
        self._on_job = on_job
        self._on_request = on_request
        self._clock = clock
        self._sleep = sleep
        self._jobs: dict[str, _Job] = {}
        #: Uploads streaming in: their job is known only once they are complete.
        self._receiving = 0
        self._reaper: asyncio.Task[None] | None = None
        self._operations: dict[
            str, Callable[[Element, Element, _Upload | None], Awaitable[None]]
        ] = {
            "CreatePostScanJob": self._create,
            "SendImage": self._send_image,
            "EndPostScanJob": self._end,
            "CancelPostScanJob": self._cancel,
            "GetPostScanJobElements": self._elements,
        }

    async def start(self) -> None:
        """Empty the spool folder and start cancelling idle jobs."""
        await asyncio.to_thread(_clear, self.spool)
        self._reaper = asyncio.create_task(self._reap())

    async def close(self) -> None:
        """Stop: cancel every open job and empty the spool folder."""
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
            self._reaper = None
        for job in self._jobs.values():
            if job.state in _ACTIVE:
                job.state, job.reason = CANCELED, "PostScanJobCanceled"
        self._jobs.clear()
        await asyncio.to_thread(_clear, self.spool)

    def job_status(self, job_token: str) -> PostScanJobStatus | None:
        """Return a job's status, None once it is unknown or forgotten."""
        job = self._jobs.get(job_token)
        return None if job is None else job.status()

    def job(self, job_token: str) -> ReceivedJob | None:
        """Return what a job said and the documents received so far (spooled)."""
        job = self._jobs.get(job_token)
        return None if job is None else job.received()

    @property
    def job_statuses(self) -> list[PostScanJobStatus]:
        """Every known job's status, oldest first."""
        return [job.status() for job in self._jobs.values()]

    async def _reap(self) -> None:
        while True:
            await self._sleep(self.limits.idle_timeout / 4)
            await self.expire_idle()

    async def expire_idle(self) -> list[str]:
        """Cancel jobs idle past the timeout, forget old ended ones; return the cancelled.

        A job is not idle while any upload streams in (its job is not known before it
        is complete) or while `on_job` runs.
        """
        now = self._clock()
        cancelled = []
        for job in list(self._jobs.values()):
            if now - job.touched < self.limits.idle_timeout:
                continue
            if job.state not in _ACTIVE:
                del self._jobs[job.token]
            elif not self._receiving and not job.ending:
                _LOGGER.info("Cancelling post-scan job %s: idle", job.token)
                await self._drop(job, CANCELED, "PostScanJobCanceled")
                cancelled.append(job.token)
        return cancelled

    async def aiohttp_handler(self, request: web.Request) -> web.Response:
        """Serve WS-DSP with aiohttp.web."""
        answer = await self.handle(
            request.headers.get(hdrs.CONTENT_TYPE, ""), request.content
        )
        return web.Response(
            status=answer.status,
            body=answer.body,
            headers={hdrs.CONTENT_TYPE: answer.content_type},
        )

    async def handle(
        self, content_type: str, content: aiohttp.StreamReader
    ) -> ServerAnswer:
        """Answer one WS-DSP request; never raises for anything the client sent."""
        envelope: Envelope | None = None
        upload: _Upload | None = None
        try:
            envelope, upload = await self._read(content_type, content)
            action = envelope.action or ""
            if upload is None and action == f"{DSP}/SendImage":
                upload = await self._inline_document(envelope)
            body = await self._operate(envelope, upload)
            return ServerAnswer(200, _answer(f"{action}Response", body, envelope))
        except WsdFault as fault:
            return _fault_answer(fault, envelope)
        except OSError as err:
            _LOGGER.warning("Post-scan request failed: %s", err)
            return _fault_answer(_storage_fault(err), envelope)
        except Exception:
            _LOGGER.exception("Post-scan request failed unexpectedly")
            return _fault_answer(_internal("unexpected server error"), envelope)
        finally:
            if upload is not None:  # not moved into its job's folder
                await asyncio.to_thread(upload.path.unlink, missing_ok=True)

    async def _read(
        self, content_type: str, content: aiohttp.StreamReader
    ) -> tuple[Envelope, _Upload | None]:
        """Read a request: the envelope, and the document of an MTOM package."""
        if parse_mimetype(content_type).type != "multipart":
            body = bytearray()
            try:
                async with asyncio.timeout(self.limits.stall_timeout):
                    # One byte past the cap is enough to refuse the body.
                    while chunk := await content.read(
                        self.limits.max_message_size + 1 - len(body)
                    ):
                        body += chunk
            except TimeoutError as err:
                raise _invalid("the request stalled") from err
            try:
                return parse_envelope(
                    bytes(body), max_size=self.limits.max_message_size
                ), None
            except WsdError as err:
                raise _invalid(str(err)) from err
        path = self.spool / f"upload-{uuid.uuid4().hex}.part"
        self._receiving += 1
        try:
            result = await read_mtom_request(
                content_type,
                content,
                path,
                inline_image=_INLINE_IMAGE,
                max_soap_size=MAX_MESSAGE_SIZE,
                max_image_size=self.limits.max_document_size,
                stall_timeout=self.limits.stall_timeout,
            )
        except WsdError as err:
            raise _invalid(str(err), "ImageData") from err
        finally:
            self._receiving -= 1
        return result.envelope, _Upload(path, result.size, result.image_format)

    async def _operate(self, envelope: Envelope, upload: _Upload | None) -> Element:
        """Run one operation; return the response's body element."""
        action, payload = envelope.action or "", envelope.payload
        operation = action.removeprefix(f"{DSP}/")
        if operation == action or operation not in self._operations:
            raise WsdFault(
                "ActionNotSupported",
                f"{action!r} is no WS-DSP operation",
                code="Sender",
                detail=action,
            )
        if payload is None or etree.QName(payload).localname != f"{operation}Request":
            raise _invalid(f"the body is no {operation}Request")
        if upload is not None and operation != "SendImage":
            raise _invalid(f"{operation} carries no document")
        if self._on_request is not None:
            await self._on_request(operation, envelope)
        response = element(f"dsp:{operation}Response")
        await self._operations[operation](payload, response, upload)
        return response

    def _job(self, payload: Element, *, active: bool = True) -> _Job:
        token = text(payload, "dsp:JobToken")
        job = self._jobs.get(token or "")
        if job is None:
            raise _invalid("unknown JobToken", "JobToken")
        if active and job.state not in _ACTIVE:
            raise _failed(f"the job is {job.state}")
        if active and job.ending:
            raise _failed("the job is being stored")
        return job

    async def _create(
        self, payload: Element, response: Element, _upload: _Upload | None
    ) -> None:
        user = _required(payload, "dsp:UserIdentifier", "UserIdentifier")
        # A GUID in the DSM examples; any short text here, as the client sends it.
        scan_process_id = _required(payload, "dsp:PSP_Identifier", "PSP_Identifier")
        instructions = find(payload, "dsp:PostScanInstructions")
        if instructions is None:
            raise _invalid("PostScanInstructions is missing", "PostScanInstructions")
        if text(instructions, "psp:ContinueOnError") not in _BOOLEANS:
            raise _invalid("ContinueOnError is no boolean", "ContinueOnError")
        root_name = _required(instructions, "psp:DocumentRootName", "DocumentRootName")
        filters = []
        for entry in findall(instructions, "psp:FiltersToProcess/psp:Filter"):
            dialect = text(entry, "psp:Dialect")
            if not dialect or "://" not in dialect and not dialect.startswith("urn:"):
                raise _invalid("a Filter has no Dialect URI", "Dialect")
            filters.append(dialect)
        if sum(job.state in _ACTIVE for job in self._jobs.values()) >= (
            self.limits.max_jobs
        ):
            raise _temporary(f"{self.limits.max_jobs} jobs are receiving already")
        token = str(uuid.uuid4())
        directory = self.spool / token
        await asyncio.to_thread(directory.mkdir)
        self._jobs[token] = _Job(
            token=token,
            user_identifier=user,
            scan_process_id=scan_process_id,
            document_root_name=root_name,
            filters=tuple(filters),
            created=datetime.now(UTC),
            directory=directory,
            touched=self._clock(),
        )
        _LOGGER.debug("Post-scan job %s created for %s", token, user)
        sub(response, "dsp:JobToken", token)

    async def _send_image(
        self, payload: Element, _response: Element, upload: _Upload | None
    ) -> None:
        job = self._job(payload)
        description = find(payload, "dsp:DocumentDescription")
        number = text(description, "dsp:DocumentId") or ""
        if not number.isdigit():
            raise _invalid("DocumentId is no integer", "DocumentId")
        document_id = int(number)
        if document_id in job.documents:
            raise _invalid(f"document {document_id} was sent already", "DocumentId")
        keyword = text(description, "dsp:Format")
        if keyword not in FORMAT_KEYWORD_VALUES:
            raise _invalid(f"Format {keyword!r} is no WS-Scan format", "Format")
        if len(job.documents) >= self.limits.max_documents:
            raise _invalid(f"a job holds at most {self.limits.max_documents} documents")
        assert upload is not None  # `handle` decodes an inline document
        if upload.image_format is ImageFormat.UNKNOWN:
            raise _invalid("the document is no image or PDF", "ImageData")
        if job.size + upload.size > self.limits.max_job_size:
            raise _invalid(f"the job exceeds {self.limits.max_job_size} bytes")
        document = ReceivedDocument(
            document_id=document_id,
            format_keyword=keyword,
            image_format=upload.image_format,
            path=job.directory
            / f"document-{document_id}.{upload.image_format.extension}",
            size=upload.size,
        )
        job.documents[document_id] = document
        job.size += document.size
        try:
            await asyncio.to_thread(os.rename, upload.path, document.path)
        except OSError:
            del job.documents[document_id]
            job.size -= document.size
            if job.state not in _ACTIVE:  # cancelled, its folder removed
                raise _failed(f"the job is {job.state}") from None
            raise
        if job.state not in _ACTIVE:  # cancelled while the file moved
            await asyncio.to_thread(_remove, job.directory)
            raise _failed(f"the job is {job.state}")
        job.state, job.touched = PROCESSING, self._clock()

    async def _inline_document(self, envelope: Envelope) -> _Upload:
        """Write a document sent as base64 text into a spool file."""
        encoded = text(envelope.body, _INLINE_IMAGE)
        if encoded is None:
            raise _invalid("the request carries no document", "ImageData")
        try:
            data = base64.b64decode(encoded, validate=False)
        except binascii.Error as err:
            raise _invalid(f"undecodable document: {err}", "ImageData") from err
        if len(data) > self.limits.max_document_size:
            raise _invalid(
                f"the document exceeds {self.limits.max_document_size} bytes",
                "ImageData",
            )
        path = self.spool / f"upload-{uuid.uuid4().hex}.part"
        await asyncio.to_thread(_write_new, path, data)
        return _Upload(path, len(data), sniff_image_format(data[:_SNIFF_SIZE]))

    async def _end(
        self, payload: Element, _response: Element, _upload: _Upload | None
    ) -> None:
        job = self._job(payload)
        job.ending = True
        received = job.received()
        try:
            if received.documents:
                await self._on_job(received)
        except (WsdError, OSError) as err:
            if isinstance(err, WsdError) and err.kind is ErrorKind.BUSY:
                raise _temporary(str(err)) from err
            await self._drop(job, ABORTED, "PostScanJobProcessingFailed")
            raise _internal(f"cannot store the job: {err}") from err
        finally:
            job.ending = False
            job.touched = self._clock()
        await self._drop(job, COMPLETED, "PostScanJobCompletedSuccessfully")

    async def _cancel(
        self, payload: Element, _response: Element, _upload: _Upload | None
    ) -> None:
        await self._drop(self._job(payload), CANCELED, "PostScanJobCanceled")

    async def _drop(self, job: _Job, state: str, reason: str) -> None:
        """End a job and remove its files."""
        job.state, job.reason = state, reason
        job.completed, job.touched = datetime.now(UTC), self._clock()
        await asyncio.to_thread(_remove, job.directory)

    async def _elements(
        self, payload: Element, response: Element, _upload: _Upload | None
    ) -> None:
        job = self._job(payload, active=False)
        names = [
            local_name(node.text or "")
            for node in findall(payload, "dsp:RequestedElements/dsp:Name")
        ]
        if not names:
            raise _invalid("RequestedElements names nothing", "RequestedElements")
        elements = sub(response, "dsp:JobElements")
        for name in names:
            data = sub(elements, "dsp:ElementData")
            # Prefixed, as in the DSM example ("GetPostScanJobElementsResponse").
            data.set(f"{{{DSP}}}Name", f"dsp:{name}")
            data.set(f"{{{DSP}}}Valid", str(name in _ELEMENTS).lower())
            if name in _ELEMENTS:
                _ELEMENTS[name](sub(data, f"dsp:{name}"), job)


def _answer(action: str, body: Element, request: Envelope | None) -> bytes:
    """Serialise a response: anonymous To, RelatesTo the request's MessageID."""
    relates_to = request.message_id if request is not None else None
    return build_envelope(
        action,
        ANONYMOUS,
        body,
        reply_to=None,
        headers=[element("wsa:RelatesTo", relates_to)] if relates_to else (),
    )


def _fault_answer(fault: WsdFault, request: Envelope | None) -> ServerAnswer:
    """Answer a fault: SOAP 1.2, HTTP 400 for Sender faults, 500 for Receiver ones."""
    _LOGGER.debug("Post-scan request refused: %s", fault)
    node = element("soap:Fault")
    code = sub(node, "soap:Code")
    sub(code, "soap:Value", f"soap:{fault.code}")
    prefix = "wsa" if fault.subcode == "ActionNotSupported" else "dsp"
    sub(sub(code, "soap:Subcode"), "soap:Value", f"{prefix}:{fault.subcode}")
    sub(sub(node, "soap:Reason"), "soap:Text", fault.reason).set(_XML_LANG, "en")
    if fault.detail:
        sub(node, "soap:Detail", fault.detail)
    status = 400 if fault.code == "Sender" else 500
    return ServerAnswer(status, _answer(_FAULT_ACTION, node, request))


def _write_job_status(node: Element, job: _Job) -> None:
    sub(node, "dsp:JobToken", job.token)
    sub(node, "dsp:JobState", job.state)
    sub(sub(node, "dsp:JobStateReasons"), "dsp:JobStateReason", job.reason)
    if job.filters:
        filter_state = {COMPLETED: "CompletedSuccessfully", CANCELED: "Canceled"}.get(
            job.state, "Pending"
        )
        statuses = sub(node, "dsp:FilterStatuses")
        for dialect in job.filters:
            status = sub(statuses, "dsp:FilterStatus")
            sub(status, "dsp:Dialect", dialect)
            sub(status, "dsp:FilterState", filter_state)
    sub(node, "dsp:ImagesReceived", str(len(job.documents)))
    sub(node, "dsp:JobCreatedTime", _timestamp(job.created))
    if job.completed is not None:
        sub(node, "dsp:JobCompletedTime", _timestamp(job.completed))


def _write_job_description(node: Element, job: _Job) -> None:
    sub(node, "dsp:PSP_Identifier", job.scan_process_id)
    sub(node, "dsp:PSP_DisplayName", job.document_root_name)
    sub(node, "dsp:JobOriginatingUserName", job.user_identifier)


_ELEMENTS: Final[Mapping[str, Callable[[Element, _Job], None]]] = {
    "JobStatus": _write_job_status,
    "JobDescription": _write_job_description,
}
