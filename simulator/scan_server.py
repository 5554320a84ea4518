"""`ScanServer`: a WS-DSP post-scan endpoint (Distributed Scan Processing, ws-dsp.md §3).

Records every received document; jobs go Pending → Processing (images arriving) →
Completed on EndPostScanJob, or Canceled. Faults can be injected per operation (also
"N times, then success"), an operation can be made to hang, and the server can speak
HTTPS. Like a Windows scan server (ws-dsp.md §3.6) it answers a directed probe and a
metadata Get at `/ScanServer` naming its WS-DSP service; the service's type QName is not
documented, the simulator's `dsp:ScanProcessingServiceType` is invented.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import re
import ssl
import time
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote
import uuid

from aiohttp import BodyPartReader, web
from lxml import etree

from .discovery import AppSequence, Endpoint, discovery_message, probe_matches
from .elements import timestamp
from .soap import (
    DSP,
    MEX,
    WINDOWS_PREFIXES,
    WSA,
    WSDP,
    WXF,
    SoapFault,
    SoapRequest,
    Writer,
    child,
    children,
    parse_request,
    serialize,
    sub,
    text,
)

_PREFIXES = {**WINDOWS_PREFIXES, "dsp": DSP}
PROBE_PATH = "/StableWSDiscoveryEndpoint/schemas-xmlsoap-org_ws_2005_04_discovery"
METADATA_PATH = "/ScanServer"
SERVICE_TYPE = (DSP, "ScanProcessingServiceType")
_HANDSHAKE_FAILURE = "Error on transport creation for incoming connection"
type _ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]
OPERATIONS = (
    "CreatePostScanJob",
    "SendImage",
    "EndPostScanJob",
    "CancelPostScanJob",
    "GetPostScanJobElements",
)


@dataclass(frozen=True)
class Attachment:
    """One MIME part of an MTOM request (its bytes only if the server keeps them)."""

    content_type: str
    size: int
    sha256: str
    data: bytes


@dataclass(frozen=True)
class ReceivedDocument:
    """One SendImage payload (`data` is empty when the server does not keep bytes)."""

    document_id: str
    format: str
    content_type: str
    data: bytes
    size: int
    sha256: str


@dataclass
class PostScanJob:
    """A post-scan job on the server."""

    token: str
    user: str
    psp_identifier: str
    document_root_name: str | None
    filters: list[str]
    created: datetime
    state: str = "Pending"
    reasons: list[str] = field(default_factory=lambda: ["None"])
    documents: list[ReceivedDocument] = field(default_factory=list)
    completed: datetime | None = None

    @property
    def terminal(self) -> bool:
        """Whether the job ended."""
        return self.state in ("Completed", "Canceled", "Aborted")


class ScanServer:
    """A WS-DSP scan server on loopback."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        prefixed_attributes: bool = True,
        keep_data: bool = True,
    ) -> None:
        """Configure; nothing listens before `start()`.

        `ssl_context` makes it serve HTTPS. `prefixed_attributes` writes ElementData's
        Name/Valid as `dsp:Name`/`dsp:Valid` (the [DSM] example), else unprefixed.
        Without `keep_data` documents are recorded by size and SHA-256 only, streamed,
        so a large upload costs the server no memory.
        """
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.prefixed_attributes = prefixed_attributes
        self.keep_data = keep_data
        self.uuid = str(uuid.uuid4())
        self.path = f"{METADATA_PATH}/{self.uuid}"
        self.jobs: dict[str, PostScanJob] = {}
        self.requests: list[tuple[str, bytes]] = []
        self.injected_faults: dict[str, list[SoapFault]] = {}
        self.hanging: dict[str, asyncio.Event] = {}
        self.writer = Writer(_PREFIXES)
        self.sequence = AppSequence(int(time.time()))
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        #: Set when a client refused the certificate and reset the connection.
        self.handshake_refused = asyncio.Event()
        self._loop_handler: _ExceptionHandler | None = None

    @property
    def base_url(self) -> str:
        """`scheme://host:port` of the server."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The WS-DSP service URL."""
        return f"{self.base_url}{self.path}"

    @property
    def metadata_url(self) -> str:
        """The XAddr answering the metadata Get."""
        return f"{self.base_url}{METADATA_PATH}"

    async def start(self) -> None:
        """Start listening."""
        self._stopping.clear()
        if self.ssl_context is not None:
            loop = asyncio.get_running_loop()
            self._loop_handler = loop.get_exception_handler()
            loop.set_exception_handler(self._ignore_refused_handshakes)
        app = web.Application(client_max_size=1024**3)
        app.router.add_post(self.path, self._handle)
        app.router.add_post(PROBE_PATH, self._handle_probe)
        app.router.add_post(METADATA_PATH, self._handle_metadata)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.host, self.port, ssl_context=self.ssl_context
        )
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.ssl_context is not None:
            asyncio.get_running_loop().set_exception_handler(self._loop_handler)

    def _ignore_refused_handshakes(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        """Drop the reset of a client that refused the certificate, as a server does."""
        if context.get("message") == _HANDSHAKE_FAILURE and isinstance(
            context.get("exception"), (ConnectionResetError, ssl.SSLError)
        ):
            self.handshake_refused.set()
            return
        if self._loop_handler is not None:
            self._loop_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    async def __aenter__(self) -> Self:
        """Start on entering the context."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop on leaving the context."""
        await self.stop()

    def inject_fault(
        self, operation: str, subcode: str, *, receiver: bool = True, times: int = 1
    ) -> None:
        """Make the next `times` calls of `operation` fail with `dsp:<subcode>`."""
        factory = SoapFault.receiver if receiver else SoapFault.sender
        self.injected_faults[operation] = [
            factory(DSP, subcode, f"injected {subcode}") for _ in range(times)
        ]

    def hang(self, operation: str) -> asyncio.Event:
        """Never answer calls of `operation`; the event is set when one arrives."""
        self.hanging[operation] = asyncio.Event()
        return self.hanging[operation]

    def _endpoint(self) -> Endpoint:
        return Endpoint(
            address=f"urn:uuid:{self.uuid}",
            types=[(WSDP, "Device")],
            xaddrs=[self.metadata_url],
            metadata_version=1,
        )

    async def _handle_probe(self, request: web.Request) -> web.Response:
        """Answer a directed probe (discovery.md §5): ProbeMatches, or 202 if no match."""
        soap = parse_request(await request.read())
        self.requests.append((soap.action, b""))
        if soap.payload is None or not probe_matches(soap.payload, self._endpoint()):
            return web.Response(status=202)
        return web.Response(
            body=discovery_message(
                self.writer,
                self.sequence,
                "ProbeMatches",
                "ProbeMatches",
                [("ProbeMatch", self._endpoint())],
                relates_to=soap.message_id,
            ),
            content_type="application/soap+xml",
            charset="utf-8",
        )

    async def _handle_metadata(self, request: web.Request) -> web.Response:
        """Answer the metadata Get: the host and its hosted WS-DSP service."""
        soap = parse_request(await request.read())
        self.requests.append((soap.action, b""))
        root, _header, body = self.writer.envelope(
            f"{WXF}/GetResponse",
            relates_to=soap.message_id,
            extra_namespaces={"dsp": DSP},
        )
        section = sub(sub(body, MEX, "Metadata"), MEX, "MetadataSection")
        section.set("Dialect", f"{WSDP}/Relationship")
        relationship = sub(section, WSDP, "Relationship")
        relationship.set("Type", f"{WSDP}/host")
        host = sub(relationship, WSDP, "Host")
        address = f"urn:uuid:{self.uuid}"
        sub(sub(host, WSA, "EndpointReference"), WSA, "Address", address)
        sub(host, WSDP, "Types", self.writer.qname_text(WSDP, "Device"))
        sub(host, WSDP, "ServiceId", address)
        hosted = sub(relationship, WSDP, "Hosted")
        sub(sub(hosted, WSA, "EndpointReference"), WSA, "Address", self.url)
        sub(hosted, WSDP, "Types", self.writer.qname_text(*SERVICE_TYPE))
        sub(hosted, WSDP, "ServiceId", f"uri:{self.uuid}/processing")
        return web.Response(
            body=serialize(root), content_type="application/soap+xml", charset="utf-8"
        )

    async def _handle(self, request: web.Request) -> web.Response:
        relates_to = None
        try:
            if request.content_type.lower() == "multipart/related":
                envelope, attachments = await _read_multipart(request, self.keep_data)
            else:
                envelope, attachments = await request.read(), {}
            soap = parse_request(envelope)
            relates_to = soap.message_id
            operation = (
                soap.action.rsplit("/", 1)[-1] if soap.action.startswith(DSP) else ""
            )
            self.requests.append((soap.action, envelope))
            if operation not in OPERATIONS:
                raise SoapFault.sender(
                    WSA,
                    "ActionNotSupported",
                    f"{soap.action!r} not supported",
                    soap.action,
                )
            if self.injected_faults.get(operation):
                raise self.injected_faults[operation].pop(0)
            if operation in self.hanging:
                self.hanging[operation].set()
                await self._stopping.wait()
                raise SoapFault.receiver(DSP, "ServerErrorInternalError", "stopped")
            root = self._operate(operation, soap, attachments)
        except SoapFault as fault:
            return web.Response(
                status=fault.http_status,
                body=serialize(self.writer.fault(fault, relates_to)),
                content_type="application/soap+xml",
                charset="utf-8",
            )
        return web.Response(
            body=serialize(root), content_type="application/soap+xml", charset="utf-8"
        )

    def _job(self, payload: etree._Element, *, active: bool = True) -> PostScanJob:
        token = text(payload, "JobToken") or ""
        job = self.jobs.get(token)
        if job is None:
            raise SoapFault.sender(DSP, "InvalidArgs", "unknown JobToken", "JobToken")
        if active and job.terminal:
            raise SoapFault.receiver(DSP, "OperationFailed", f"job is {job.state}")
        return job

    def _operate(
        self,
        operation: str,
        soap: SoapRequest,
        attachments: dict[str, Attachment],
    ) -> etree._Element:
        payload = soap.payload
        if payload is None:
            raise SoapFault.sender(DSP, "InvalidArgs", "empty Body")
        root, _header, body = self.writer.envelope(
            f"{DSP}/{operation}Response", relates_to=soap.message_id
        )
        response = sub(body, DSP, f"{operation}Response")
        now = datetime.now(UTC)
        if operation == "CreatePostScanJob":
            user, psp = text(payload, "UserIdentifier"), text(payload, "PSP_Identifier")
            if not user or not psp:
                raise SoapFault.sender(
                    DSP, "InvalidArgs", "UserIdentifier and PSP_Identifier are required"
                )
            instructions = child(payload, "PostScanInstructions")
            filters = child(instructions, "FiltersToProcess")
            job = PostScanJob(
                token=str(uuid.uuid4()),
                user=user,
                psp_identifier=psp,
                document_root_name=text(instructions, "DocumentRootName"),
                filters=[text(f, "Dialect") or "" for f in children(filters, "Filter")]
                if filters is not None
                else [],
                created=now,
            )
            self.jobs[job.token] = job
            sub(response, DSP, "JobToken", job.token)
        elif operation == "SendImage":
            job = self._job(payload)
            description = child(payload, "DocumentDescription")
            href = ""
            include = child(payload, "ImageData", "Include")
            if include is not None:
                href = include.get("href", "")
            content_id = _cid(href)
            part = attachments.get(content_id) or next(iter(attachments.values()), None)
            if part is None:
                raise SoapFault.sender(
                    DSP, "InvalidArgs", "no image attachment", "ImageData"
                )
            job.documents.append(
                ReceivedDocument(
                    document_id=text(description, "DocumentId")
                    or str(len(job.documents) + 1),
                    format=text(description, "Format") or "",
                    content_type=part.content_type,
                    data=part.data,
                    size=part.size,
                    sha256=part.sha256,
                )
            )
            job.state, job.reasons = "Processing", ["None"]
        elif operation == "EndPostScanJob":
            job = self._job(payload)
            job.state, job.reasons, job.completed = (
                "Completed",
                ["PostScanJobCompletedSuccessfully"],
                now,
            )
        elif operation == "CancelPostScanJob":
            job = self._job(payload)
            job.state, job.reasons, job.completed = (
                "Canceled",
                ["PostScanJobCanceled"],
                now,
            )
        else:
            job = self._job(payload, active=False)
            elements = sub(response, DSP, "JobElements")
            names = child(payload, "RequestedElements")
            for name in (
                [(n.text or "").strip() for n in children(names, "Name")]
                if names is not None
                else []
            ):
                local = name.rpartition(":")[2]
                data = sub(elements, DSP, "ElementData")
                attribute = f"{{{DSP}}}" if self.prefixed_attributes else ""
                data.set(f"{attribute}Name", name)
                data.set(
                    f"{attribute}Valid",
                    "true" if local in ("JobStatus", "JobDescription") else "false",
                )
                if local == "JobStatus":
                    _write_job_status(data, job)
                elif local == "JobDescription":
                    described = sub(data, DSP, "JobDescription")
                    sub(described, DSP, "PSP_Identifier", job.psp_identifier)
                    sub(
                        described,
                        DSP,
                        "PSP_DisplayName",
                        job.document_root_name or job.psp_identifier,
                    )
                    sub(described, DSP, "JobOriginatingUserName", job.user)
        return root


def _write_job_status(parent: etree._Element, job: PostScanJob) -> None:
    status = sub(parent, DSP, "JobStatus")
    sub(status, DSP, "JobToken", job.token)
    sub(status, DSP, "JobState", job.state)
    reasons = sub(status, DSP, "JobStateReasons")
    for reason in job.reasons:
        sub(reasons, DSP, "JobStateReason", reason)
    statuses = sub(status, DSP, "FilterStatuses")
    filter_state = {"Completed": "CompletedSuccessfully", "Canceled": "Canceled"}.get(
        job.state, "Pending"
    )
    for dialect in job.filters:
        item = sub(statuses, DSP, "FilterStatus")
        sub(item, DSP, "Dialect", dialect)
        sub(item, DSP, "FilterState", filter_state)
    sub(status, DSP, "ImagesReceived", len(job.documents))
    sub(status, DSP, "JobCreatedTime", timestamp(job.created))
    if job.completed is not None:
        sub(status, DSP, "JobCompletedTime", timestamp(job.completed))


def _cid(value: str) -> str:
    value = unquote(value.strip())
    value = value.removeprefix("cid:")
    return value.strip("<> ")


async def _read_multipart(
    request: web.Request, keep_data: bool
) -> tuple[bytes, dict[str, Attachment]]:
    """Return the root part and the other parts by Content-ID (streamed, hashed)."""
    reader = await request.multipart()
    match = re.search(
        r'start="?(<[^>"]*>|[^;"\s]+)', request.headers.get("Content-Type", "")
    )
    start = _cid(match.group(1)) if match else ""
    root: bytes | None = None
    parts: dict[str, Attachment] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        assert isinstance(part, BodyPartReader)
        content_id = _cid(part.headers.get("Content-ID", ""))
        if root is None and (not start or content_id == start):
            root = bytes(await part.read())
            continue
        digest, size, kept = hashlib.sha256(), 0, bytearray()
        while chunk := await part.read_chunk():
            digest.update(chunk)
            size += len(chunk)
            if keep_data:
                kept += chunk
        parts[content_id or f"part-{len(parts)}"] = Attachment(
            content_type=part.headers.get("Content-Type", "application/octet-stream"),
            size=size,
            sha256=digest.hexdigest(),
            data=bytes(kept),
        )
    if root is None:
        raise SoapFault.sender(
            DSP, "InvalidArgs", "multipart request without a root part"
        )
    return root, parts
