"""The simulated WS-DSP scan server: the library's server plus records and quirks."""

from __future__ import annotations

import asyncio
import hashlib
import ssl

import aiohttp
from lxml import etree
import pytest

from simulator import ScanServer
from simulator.scan_server import PROBE_PATH
from tests.wsd.conftest import Tls, create_tls

from .conftest import envelope, fault_subcode

pytestmark = pytest.mark.usefixtures("socket_enabled")

DSP = "http://schemas.microsoft.com/windows/2008/12/wdp/distributedscan/processing"
PSP = "http://schemas.microsoft.com/windows/2008/02/imaging/postscan/psp"
NS = {"dsp": DSP}
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSDP = "http://schemas.xmlsoap.org/ws/2006/02/devprof"
WXF = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
PDF = b"%PDF-1.4 test"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """Provide a CA and a server certificate for 127.0.0.1."""
    return create_tls(tmp_path_factory.mktemp("tls"))


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
        f'<psp:DocumentRootName xmlns:psp="{PSP}">Invoices</psp:DocumentRootName>'
        f'<psp:FiltersToProcess xmlns:psp="{PSP}"><psp:Filter><psp:Dialect>urn:fileshare</psp:Dialect>'
        "</psp:Filter></psp:FiltersToProcess></dsp:PostScanInstructions></dsp:CreatePostScanJobRequest>",
    )
    assert status == 200
    return reply.findtext(".//dsp:JobToken", namespaces=NS) or ""


async def test_post_scan_job_lifecycle(session: aiohttp.ClientSession) -> None:
    """Create → SendImage → EndPostScanJob (recorded) → Completed, in job elements."""
    async with ScanServer() as server:
        token = await create(session, server)
        assert await send_image(session, server, token, PDF) == 200
        await call(session, server, "EndPostScanJob", end_request(token))
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
    assert (job.documents[0].data, job.documents[0].format) == (PDF, "pdf-a")
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
        assert await send_image(session, server, live, PDF, cid="other@dev") == 200
        await call(session, server, "EndPostScanJob", end_request(live))
        # The image is the first non-root part when no Content-ID matches.
        assert server.jobs[live].documents[0].data == PDF


def end_request(token: str) -> str:
    """Return an EndPostScanJob body."""
    return (
        f"<dsp:EndPostScanJobRequest><dsp:JobToken>{token}</dsp:JobToken>"
        "</dsp:EndPostScanJobRequest>"
    )


def status_request(token: str) -> str:
    """Return a GetPostScanJobElements body asking for JobStatus."""
    return (
        f"<dsp:GetPostScanJobElementsRequest><dsp:JobToken>{token}</dsp:JobToken>"
        "<dsp:RequestedElements><dsp:Name>dsp:JobStatus</dsp:Name></dsp:RequestedElements>"
        "</dsp:GetPostScanJobElementsRequest>"
    )


async def test_faults_repeat_as_often_as_injected(
    session: aiohttp.ClientSession,
) -> None:
    """`times=2`: the third identical request succeeds."""
    async with ScanServer() as server:
        server.inject_fault("CreatePostScanJob", "ServerErrorTemporaryError", times=2)
        body = "<dsp:CreatePostScanJobRequest/>"
        replies = [await call(session, server, "CreatePostScanJob", body) for _ in "12"]
        assert [fault_subcode(reply) for _status, reply in replies] == [
            "ServerErrorTemporaryError"
        ] * 2
        assert await create(session, server)


@pytest.mark.parametrize("prefixed", [True, False])
async def test_element_data_attribute_forms(
    session: aiohttp.ClientSession, prefixed: bool
) -> None:
    """`prefixed_attributes` switches between `dsp:Name`/`dsp:Valid` and `Name`/`Valid`."""
    async with ScanServer(prefixed_attributes=prefixed) as server:
        token = await create(session, server)
        _status, reply = await call(
            session, server, "GetPostScanJobElements", status_request(token)
        )
    (data,) = reply.findall(".//dsp:ElementData", NS)
    namespace = f"{{{DSP}}}" if prefixed else ""
    assert dict(data.attrib) == {
        f"{namespace}Name": "dsp:JobStatus",
        f"{namespace}Valid": "true",
    }


async def test_documents_by_digest_only(session: aiohttp.ClientSession) -> None:
    """Without `keep_data` a document is recorded by size and SHA-256, not its bytes."""
    async with ScanServer(keep_data=False) as server:
        token = await create(session, server)
        assert await send_image(session, server, token, PDF) == 200
        await call(session, server, "EndPostScanJob", end_request(token))
    (document,) = server.jobs[token].documents
    assert (document.data, document.size) == (b"", len(PDF))
    assert document.sha256 == hashlib.sha256(PDF).hexdigest()


async def test_a_hanging_operation_ends_with_the_server(
    session: aiohttp.ClientSession,
) -> None:
    """`hang` holds the request until the server stops; then it faults."""
    async with ScanServer() as server:
        token = await create(session, server)
        arrived = server.hang("GetPostScanJobElements")
        request = asyncio.create_task(
            call(session, server, "GetPostScanJobElements", status_request(token))
        )
        await arrived.wait()
        assert not request.done()
    _status, reply = await request
    assert fault_subcode(reply) == "ServerErrorInternalError"


async def test_discovery_and_metadata_name_the_service(
    session: aiohttp.ClientSession,
) -> None:
    """A directed probe finds the server; its metadata hosts a service of a dsp type."""
    async with ScanServer() as server:
        probe_url = f"{server.base_url}{PROBE_PATH}"
        async with session.post(
            probe_url,
            data=envelope(
                f"{WSD}/Probe", "<wsd:Probe xmlns:wsd='" + WSD + "'/>", to="urn:x"
            ),
        ) as response:
            matches = etree.fromstring(await response.read())
        async with session.post(
            probe_url,
            data=envelope(
                f"{WSD}/Probe",
                f"<wsd:Probe xmlns:wsd='{WSD}'><wsd:Types>sca:ScanDeviceType</wsd:Types></wsd:Probe>",
                to="urn:x",
            ),
        ) as response:
            assert response.status == 202
        async with session.post(
            server.metadata_url,
            data=envelope(f"{WXF}/Get", "", to=f"urn:uuid:{server.uuid}"),
        ) as response:
            metadata = etree.fromstring(await response.read())
    assert matches.findtext(f".//{{{WSD}}}XAddrs") == server.metadata_url
    hosted = metadata.find(f".//{{{WSDP}}}Hosted")
    assert hosted is not None
    assert hosted.findtext(f".//{{{WSA}}}Address") == server.url
    assert hosted.findtext(f"{{{WSDP}}}Types") == "dsp:ScanProcessingServiceType"


async def test_https(session: aiohttp.ClientSession, tls: Tls) -> None:
    """With an SSL context the server speaks HTTPS only."""
    context = ssl.create_default_context(cafile=tls.ca_file)
    async with ScanServer(ssl_context=tls.server_context) as server:
        assert server.url.startswith("https://127.0.0.1:")
        async with session.post(
            server.url,
            data=dsp_envelope(server, "CreatePostScanJob", "<dsp:X/>"),
            ssl=context,
        ) as response:
            assert response.status == 400
