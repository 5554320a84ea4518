"""WS-DSP client: hand finished scans to a post-scan endpoint (a distributed scan server).

One post-scan job per document set: CreatePostScanJob → SendImage (one MTOM request per
file, streamed from disk) → EndPostScanJob; CancelPostScanJob when an upload fails, so the
server does not keep a half-received job. GetPostScanJobElements reads the job's status.
"""

from __future__ import annotations

from collections.abc import Sequence
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final
import uuid

import aiohttp
from lxml import etree

from . import soap
from .document import sniff_image_format
from .exceptions import ErrorKind, WsdError
from .models import ImageFormat
from .xml import DSP, Element, build_envelope, element, sub, text

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
_ROOT_ID: Final = "root@wsd-scan"
#: Home Assistant is no Active Directory user: it submits as the null SID ("nobody").
NULL_SID: Final = "S-1-0-0"


@dataclass(frozen=True, slots=True)
class PostScanJobStatus:
    """The scan server's view of a post-scan job (GetPostScanJobElements JobStatus)."""

    job_token: str
    state: str | None
    reasons: tuple[str, ...]
    images_received: int | None


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


class PostScanClient:
    """Talks WS-DSP to one post-scan endpoint URL."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoint: str,
        *,
        timeout: float = soap.REQUEST_TIMEOUT,
    ) -> None:
        """Remember the session and the endpoint; nothing is sent yet."""
        self._session = session
        self.endpoint = endpoint
        self._timeout = timeout

    async def _call(self, operation: str, body: Element) -> Element | None:
        """Send one operation; return the response's body element, if any."""
        envelope = await soap.post(
            self._session,
            self.endpoint,
            build_envelope(f"{DSP}/{operation}", self.endpoint, body),
            timeout=self._timeout,
        )
        return envelope.payload if envelope is not None else None

    async def _answer(self, operation: str, body: Element) -> Element:
        """Send one operation whose answer carries data; return the response element."""
        if (payload := await self._call(operation, body)) is None:
            raise WsdError(ErrorKind.PROTOCOL, f"{operation} answer is empty")
        return payload

    async def create_job(
        self,
        document_root_name: str,
        *,
        user_identifier: str = NULL_SID,
        scan_process_id: str | None = None,
    ) -> str:
        """Create a post-scan job; return its JobToken."""
        request = element("dsp:CreatePostScanJobRequest")
        sub(request, "dsp:UserIdentifier", user_identifier)
        sub(request, "dsp:PSP_Identifier", scan_process_id or str(uuid.uuid4()).upper())
        instructions = sub(request, "dsp:PostScanInstructions")
        sub(instructions, "psp:ContinueOnError", "false")
        sub(instructions, "psp:DocumentRootName", document_root_name)
        sub(instructions, "psp:FiltersToProcess")
        token = text(await self._answer("CreatePostScanJob", request), "dsp:JobToken")
        if not token:
            raise WsdError(
                ErrorKind.PROTOCOL, "CreatePostScanJob answer has no JobToken"
            )
        return token

    async def send_image(self, job_token: str, document_id: int, path: Path) -> None:
        """Upload one file as an MTOM SendImage request, streamed from disk."""
        with path.open("rb") as head:
            image_format = sniff_image_format(head.read(16))
        if image_format not in FORMAT_KEYWORDS:
            raise WsdError(
                ErrorKind.INVALID_ARGUMENT, f"{path.name} is not an image or PDF"
            )
        content_id = f"document-{document_id}@wsd-scan"
        request = element("dsp:SendImageRequest")
        sub(request, "dsp:JobToken", job_token)
        description = sub(request, "dsp:DocumentDescription")
        sub(description, "dsp:DocumentId", str(document_id))
        sub(description, "dsp:Format", FORMAT_KEYWORDS[image_format])
        sub(sub(request, "dsp:ImageData"), "xop:Include").set(
            "href", f"cid:{content_id}"
        )
        envelope = build_envelope(f"{DSP}/SendImage", self.endpoint, request)
        with path.open("rb") as file:
            package = _mtom_package(envelope, file, content_id)
            await soap.post(
                self._session,
                self.endpoint,
                package,
                timeout=UPLOAD_TIMEOUT,
                content_type=(
                    f'multipart/related; type="application/xop+xml"; '
                    f'boundary="{package.boundary}"; start="<{_ROOT_ID}>"; '
                    'start-info="application/soap+xml"'
                ),
            )

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
        """Read the job's JobStatus element."""
        request = element("dsp:GetPostScanJobElementsRequest")
        sub(request, "dsp:JobToken", job_token)
        sub(sub(request, "dsp:RequestedElements"), "dsp:Name", "dsp:JobStatus")
        answer = await self._answer("GetPostScanJobElements", request)
        # ElementData's Name/Valid attributes come prefixed or not; the JobStatus element
        # itself is what matters.
        status = next(
            (
                node
                for node in answer.iter()
                if etree.QName(node).localname == "JobStatus"
            ),
            None,
        )
        if status is None:
            raise WsdError(
                ErrorKind.PROTOCOL, "GetPostScanJobElements answer has no JobStatus"
            )
        received = text(status, "dsp:ImagesReceived") or ""
        return PostScanJobStatus(
            job_token=text(status, "dsp:JobToken") or job_token,
            state=text(status, "dsp:JobState"),
            reasons=tuple(
                reason.text.strip()
                for reason in status.iterfind(".//dsp:JobStateReason", {"dsp": DSP})
                if reason.text and reason.text.strip()
            ),
            images_received=int(received) if received.isdigit() else None,
        )


async def post_scan(
    session: aiohttp.ClientSession,
    endpoint: str,
    files: Sequence[Path],
    *,
    document_root_name: str = "scan",
) -> PostScanJobStatus:
    """Upload `files` as one post-scan job and return the job's final status.

    If an upload fails the job is cancelled (best effort) and the error is raised; the
    files themselves are never touched, so nothing is lost.
    """
    if not files:
        raise WsdError(ErrorKind.INVALID_ARGUMENT, "no files to send")
    client = PostScanClient(session, endpoint)
    token = await client.create_job(document_root_name)
    try:
        for document_id, path in enumerate(files, start=1):
            await client.send_image(token, document_id, path)
        await client.end_job(token)
    except BaseException:
        with contextlib.suppress(WsdError):
            await client.cancel_job(token)
        raise
    return await client.job_status(token)
