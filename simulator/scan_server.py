"""`ScanServer`: a WS-DSP post-scan endpoint (Distributed Scan Processing) on loopback.

The protocol is the library's own server (`custom_components.wsd_scan.wsd.dsp_server`),
so one implementation is tested by the library's tests and by every client test that
uses this simulator. Around it, the simulator records what arrived (`jobs`, `requests`)
and adds switchable behaviour: faults injected per operation (also "N times, then
success"), an operation that hangs, unprefixed ElementData attributes, HTTPS. Like a
Windows scan server it answers a directed probe and a metadata Get at `/ScanServer`
naming its WS-DSP service; the service's type QName is not documented, the simulator's
`dsp:ScanProcessingServiceType` is invented.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
import hashlib
from pathlib import Path
import shutil
import ssl
import tempfile
import time
from typing import Any
import uuid

from aiohttp import web
from lxml import etree

from custom_components.wsd_scan.wsd import (
    PostScanServer,
    ReceivedDocument as SpooledDocument,
    ReceivedJob,
    WsdFault,
)
from custom_components.wsd_scan.wsd.xml import Envelope

from .discovery import AppSequence, Endpoint, discovery_message, probe_matches
from .lifecycle import Served
from .soap import (
    DSP,
    MEX,
    WINDOWS_PREFIXES,
    WSA,
    WSDP,
    WXF,
    Writer,
    parse_request,
    serialize,
    sub,
)

_PREFIXES = {**WINDOWS_PREFIXES, "dsp": DSP}
PROBE_PATH = "/StableWSDiscoveryEndpoint/schemas-xmlsoap-org_ws_2005_04_discovery"
METADATA_PATH = "/ScanServer"
SERVICE_TYPE = (DSP, "ScanProcessingServiceType")
_HANDSHAKE_FAILURE = "Error on transport creation for incoming connection"
_READ_CHUNK = 1024 * 1024
type _ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]
OPERATIONS = (
    "CreatePostScanJob",
    "SendImage",
    "EndPostScanJob",
    "CancelPostScanJob",
    "GetPostScanJobElements",
)


@dataclass(frozen=True)
class ReceivedDocument:
    """One document of a completed job (`data` is empty when the server keeps no bytes)."""

    document_id: str
    format: str
    data: bytes
    size: int
    sha256: str


@dataclass
class PostScanJob:
    """What the simulator recorded of a post-scan job (the server's view, kept after stop)."""

    token: str
    user: str
    psp_identifier: str
    document_root_name: str
    filters: list[str]
    created: datetime
    state: str = "Pending"
    reasons: list[str] = field(default_factory=lambda: ["None"])
    #: Handed over by EndPostScanJob.
    documents: list[ReceivedDocument] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        """Whether the job ended."""
        return self.state in ("Completed", "Canceled", "Aborted")


def _read_document(document: SpooledDocument, keep_data: bool) -> ReceivedDocument:
    """Record a spooled document: its bytes, or only its size and digest (blocking)."""
    digest, kept = hashlib.sha256(), bytearray()
    with document.path.open("rb") as file:
        while chunk := file.read(_READ_CHUNK):
            digest.update(chunk)
            if keep_data:
                kept += chunk
    return ReceivedDocument(
        document_id=str(document.document_id),
        format=document.format_keyword,
        data=bytes(kept),
        size=document.size,
        sha256=digest.hexdigest(),
    )


def _unprefix_element_data(body: bytes) -> bytes:
    """Rewrite `dsp:Name`/`dsp:Valid` of ElementData as unprefixed attributes."""
    root = etree.fromstring(body)
    for data in root.iter(f"{{{DSP}}}ElementData"):
        for name in ("Name", "Valid"):
            value = data.attrib.pop(f"{{{DSP}}}{name}", None)
            if value is not None:
                data.set(name, value)
    return serialize(root)


class ScanServer(Served):
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
        Name/Valid as `dsp:Name`/`dsp:Valid` (as the library does, after the DSM example
        "GetPostScanJobElementsResponse"), else unprefixed. Without `keep_data` documents are recorded by size and SHA-256
        only, read in chunks, so a large upload costs the server no memory.
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
        self.injected_faults: dict[str, list[WsdFault]] = {}
        self.hanging: dict[str, asyncio.Event] = {}
        self.writer = Writer(_PREFIXES)
        self.sequence = AppSequence(int(time.time()))
        self._runner: web.AppRunner | None = None
        self._server: PostScanServer | None = None
        self._spool: Path | None = None
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
        self._spool = Path(await asyncio.to_thread(tempfile.mkdtemp, "-scan-server"))
        self._server = PostScanServer(
            self._spool, self._record_documents, on_request=self._intercept
        )
        await self._server.start()
        app = web.Application()
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
        """Stop listening; the recorded jobs stay readable."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._server is not None:
            await self._server.close()
            self._server = None
        if self._spool is not None:
            await asyncio.to_thread(shutil.rmtree, self._spool, ignore_errors=True)
            self._spool = None
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

    def inject_fault(
        self, operation: str, subcode: str, *, receiver: bool = True, times: int = 1
    ) -> None:
        """Make the next `times` calls of `operation` fail with `dsp:<subcode>`."""
        code = "Receiver" if receiver else "Sender"
        self.injected_faults[operation] = [
            WsdFault(subcode, f"injected {subcode}", code=code) for _ in range(times)
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
        """Answer a Probe POSTed over HTTP (DPWS February 2006, R1015).

        ProbeMatches when it matches (R1021), else 202 with an empty body (R1022).
        """
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
        """Serve WS-DSP through the library's server, then record the jobs' states."""
        assert self._server is not None
        response = await self._server.aiohttp_handler(request)
        for status in self._server.job_statuses:
            job = self.jobs.get(status.job_token)
            received = self._server.job(status.job_token)
            if job is None and received is not None:
                job = self.jobs[status.job_token] = PostScanJob(
                    token=received.job_token,
                    user=received.user_identifier,
                    psp_identifier=received.scan_process_id,
                    document_root_name=received.document_root_name,
                    filters=list(received.filters),
                    created=received.created,
                )
            if job is not None:
                job.state, job.reasons = status.state, list(status.reasons)
        if not self.prefixed_attributes and isinstance(response.body, bytes):
            response.body = _unprefix_element_data(response.body)
        return response

    async def _intercept(self, operation: str, envelope: Envelope) -> None:
        """Record the request; answer an injected fault, or hang, instead of it."""
        self.requests.append(
            (envelope.action or "", etree.tostring(envelope.root.getroottree()))
        )
        if self.injected_faults.get(operation):
            raise self.injected_faults[operation].pop(0)
        if operation in self.hanging:
            self.hanging[operation].set()
            await self._stopping.wait()
            raise WsdFault("ServerErrorInternalError", "stopped", code="Receiver")

    async def _record_documents(self, job: ReceivedJob) -> None:
        """Keep a completed job's documents (or their digests) before the spool empties."""
        documents = [
            await asyncio.to_thread(_read_document, document, self.keep_data)
            for document in job.documents
        ]
        self.jobs[job.job_token].documents = documents
