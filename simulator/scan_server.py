"""`ScanServer`: a WS-DSP post-scan endpoint (Distributed Scan Processing, ws-dsp.md §3).

Records every received document; jobs go Pending → Processing (images arriving) →
Completed on EndPostScanJob, or Canceled. Faults can be injected per operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
import re
from types import TracebackType
from typing import Self
from urllib.parse import unquote
import uuid

from aiohttp import BodyPartReader, web
from lxml import etree

from .elements import timestamp
from .soap import (
    DSP,
    WINDOWS_PREFIXES,
    WSA,
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
OPERATIONS = (
    "CreatePostScanJob",
    "SendImage",
    "EndPostScanJob",
    "CancelPostScanJob",
    "GetPostScanJobElements",
)


@dataclass(frozen=True)
class ReceivedDocument:
    """One SendImage payload."""

    document_id: str
    format: str
    content_type: str
    data: bytes


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

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Configure; nothing listens before `start()`."""
        self.host = host
        self.port = port
        self.path = f"/ScanServer/{uuid.uuid4()}"
        self.jobs: dict[str, PostScanJob] = {}
        self.requests: list[tuple[str, bytes]] = []
        self.injected_faults: dict[str, SoapFault] = {}
        self.writer = Writer(_PREFIXES)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The WS-DSP service URL."""
        return f"http://{self.host}:{self.port}{self.path}"

    async def start(self) -> None:
        """Start listening."""
        app = web.Application(client_max_size=1024**3)
        app.router.add_post(self.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

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
        self, operation: str, subcode: str, *, receiver: bool = True
    ) -> None:
        """Make the next call of `operation` fail with `dsp:<subcode>`."""
        factory = SoapFault.receiver if receiver else SoapFault.sender
        self.injected_faults[operation] = factory(DSP, subcode, f"injected {subcode}")

    async def _handle(self, request: web.Request) -> web.Response:
        relates_to = None
        try:
            if request.content_type.lower() == "multipart/related":
                envelope, attachments = await _read_multipart(request)
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
            if operation in self.injected_faults:
                raise self.injected_faults.pop(operation)
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
        attachments: dict[str, tuple[str, bytes]],
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
                    content_type=part[0],
                    data=part[1],
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
                data.set(f"{{{DSP}}}Name", name)
                data.set(
                    f"{{{DSP}}}Valid",
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
    request: web.Request,
) -> tuple[bytes, dict[str, tuple[str, bytes]]]:
    """Return the root part and the other parts by Content-ID."""
    reader = await request.multipart()
    match = re.search(
        r'start="?(<[^>"]*>|[^;"\s]+)', request.headers.get("Content-Type", "")
    )
    start = _cid(match.group(1)) if match else ""
    root: bytes | None = None
    parts: dict[str, tuple[str, bytes]] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        assert isinstance(part, BodyPartReader)
        data = await part.read()
        content_id = _cid(part.headers.get("Content-ID", ""))
        if root is None and (not start or content_id == start):
            root = bytes(data)
            continue
        parts[content_id or f"part-{len(parts)}"] = (
            part.headers.get("Content-Type", "application/octet-stream"),
            bytes(data),
        )
    if root is None:
        raise SoapFault.sender(
            DSP, "InvalidArgs", "multipart request without a root part"
        )
    return root, parts
