"""The WS-DSP scan server: post-scan jobs, MTOM uploads, job states and faults."""

from __future__ import annotations

import aiohttp
from lxml import etree
import pytest

from simulator import ScanServer

from .conftest import envelope, fault_subcode

pytestmark = pytest.mark.usefixtures("socket_enabled")

DSP = "http://schemas.microsoft.com/windows/2008/12/wdp/distributedscan/processing"
NS = {"dsp": DSP}


def dsp_envelope(server: ScanServer, operation: str, body: str) -> bytes:
    """Return a WS-DSP request envelope."""
    return envelope(f"{DSP}/{operation}", body, to=server.url).replace(
        b"<soap:Envelope ",
        f'<soap:Envelope xmlns:dsp="{DSP}" xmlns:xop="http://www.w3.org/2004/08/xop/include" '.encode(),
        1,
    )


async def call(
    session: aiohttp.ClientSession, server: ScanServer, operation: str, body: str
) -> tuple[int, etree._Element]:
    """POST a plain SOAP request."""
    async with session.post(
        server.url,
        data=dsp_envelope(server, operation, body),
        headers={"Content-Type": "application/soap+xml"},
    ) as response:
        return response.status, etree.fromstring(await response.read())


async def send_image(
    session: aiohttp.ClientSession,
    server: ScanServer,
    token: str,
    data: bytes,
    *,
    cid: str = "doc-1@dev",
) -> int:
    """Upload one document as MTOM."""
    root = dsp_envelope(
        server,
        "SendImage",
        f"<dsp:SendImageRequest><dsp:JobToken>{token}</dsp:JobToken><dsp:DocumentDescription>"
        "<dsp:DocumentId>1</dsp:DocumentId><dsp:Format>pdf-a</dsp:Format></dsp:DocumentDescription>"
        f'<dsp:ImageData><xop:Include href="cid:{cid}"/></dsp:ImageData></dsp:SendImageRequest>',
    )
    body = (
        b'--b1\r\nContent-Type: application/xop+xml; type="application/soap+xml"\r\nContent-ID: <root@dev>\r\n\r\n'
        + root
        + b"\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-ID: <doc-1@dev>\r\n\r\n"
        + data
        + b"\r\n--b1--\r\n"
    )
    headers = {
        "Content-Type": 'multipart/related; type="application/xop+xml"; boundary="b1"; start="<root@dev>"; start-info="application/soap+xml"'
    }
    async with session.post(server.url, data=body, headers=headers) as response:
        return response.status


async def create(session: aiohttp.ClientSession, server: ScanServer) -> str:
    """CreatePostScanJob; return the JobToken."""
    status, reply = await call(
        session,
        server,
        "CreatePostScanJob",
        "<dsp:CreatePostScanJobRequest><dsp:UserIdentifier>S-1-5-21-1</dsp:UserIdentifier>"
        "<dsp:PSP_Identifier>7D0C51E2</dsp:PSP_Identifier><dsp:PostScanInstructions>"
        '<psp:DocumentRootName xmlns:psp="urn:psp">Invoices</psp:DocumentRootName>'
        '<psp:FiltersToProcess xmlns:psp="urn:psp"><psp:Filter><psp:Dialect>urn:fileshare</psp:Dialect>'
        "</psp:Filter></psp:FiltersToProcess></dsp:PostScanInstructions></dsp:CreatePostScanJobRequest>",
    )
    assert status == 200
    return reply.findtext(".//dsp:JobToken", namespaces=NS) or ""


async def test_post_scan_job_lifecycle(session: aiohttp.ClientSession) -> None:
    """Create → SendImage (recorded) → EndPostScanJob → Completed, visible in job elements."""
    async with ScanServer() as server:
        token = await create(session, server)
        assert await send_image(session, server, token, b"%PDF-1.4 test") == 200
        await call(
            session,
            server,
            "EndPostScanJob",
            f"<dsp:EndPostScanJobRequest><dsp:JobToken>{token}</dsp:JobToken></dsp:EndPostScanJobRequest>",
        )
        _status, elements = await call(
            session,
            server,
            "GetPostScanJobElements",
            f"<dsp:GetPostScanJobElementsRequest><dsp:JobToken>{token}</dsp:JobToken><dsp:RequestedElements>"
            "<dsp:Name>dsp:JobStatus</dsp:Name><dsp:Name>dsp:JobDescription</dsp:Name><dsp:Name>dsp:Nope</dsp:Name>"
            "</dsp:RequestedElements></dsp:GetPostScanJobElementsRequest>",
        )
    job = server.jobs[token]
    assert job.state == "Completed"
    assert (
        job.documents[0].data == b"%PDF-1.4 test" and job.documents[0].format == "pdf-a"
    )
    assert elements.findtext(".//dsp:ImagesReceived", namespaces=NS) == "1"
    assert (
        elements.findtext(".//dsp:FilterState", namespaces=NS)
        == "CompletedSuccessfully"
    )
    assert elements.findtext(".//dsp:PSP_DisplayName", namespaces=NS) == "Invoices"
    assert [
        d.get(f"{{{DSP}}}Valid") for d in elements.findall(".//dsp:ElementData", NS)
    ] == ["true", "true", "false"]


async def test_cancel_and_faults(session: aiohttp.ClientSession) -> None:
    """Cancel ends a job; unknown tokens, ended jobs, bad actions and injected faults fault."""
    async with ScanServer() as server:
        token = await create(session, server)
        await call(
            session,
            server,
            "CancelPostScanJob",
            f"<dsp:CancelPostScanJobRequest><dsp:JobToken>{token}</dsp:JobToken></dsp:CancelPostScanJobRequest>",
        )
        assert server.jobs[token].state == "Canceled"
        status, reply = await call(
            session,
            server,
            "EndPostScanJob",
            f"<dsp:EndPostScanJobRequest><dsp:JobToken>{token}</dsp:JobToken></dsp:EndPostScanJobRequest>",
        )
        assert (status, fault_subcode(reply)) == (500, "OperationFailed")
        _status, reply = await call(
            session,
            server,
            "EndPostScanJob",
            "<dsp:EndPostScanJobRequest><dsp:JobToken>nope</dsp:JobToken></dsp:EndPostScanJobRequest>",
        )
        assert fault_subcode(reply) == "InvalidArgs"
        _status, reply = await call(
            session, server, "CreatePostScanJob", "<dsp:CreatePostScanJobRequest/>"
        )
        assert fault_subcode(reply) == "InvalidArgs"
        _status, reply = await call(session, server, "Frobnicate", "<dsp:X/>")
        assert fault_subcode(reply) == "ActionNotSupported"
        server.inject_fault("CreatePostScanJob", "ServerErrorTemporaryError")
        _status, reply = await call(
            session, server, "CreatePostScanJob", "<dsp:CreatePostScanJobRequest/>"
        )
        assert fault_subcode(reply) == "ServerErrorTemporaryError"
        live = await create(session, server)
        assert await send_image(session, server, live, b"x", cid="other@dev") == 200
        assert (
            server.jobs[live].documents[0].data == b"x"
        )  # falls back to the first non-root part
