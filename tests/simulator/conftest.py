"""Fixtures for the simulator's own tests: a real loopback HTTP client and SOAP helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
import uuid

import aiohttp
from lxml import etree
import pytest

from simulator import SimulatedScanner

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
SCAN = "http://schemas.microsoft.com/windows/2006/08/wdp/scan"
WSE = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
ANONYMOUS = f"{WSA}/role/anonymous"
NS = {"s": SOAP, "a": WSA, "sca": SCAN, "wse": WSE}


def envelope(
    action: str,
    body: str,
    *,
    to: str,
    headers: str = "",
    prefixes: tuple[str, str, str] = ("soap", "wsa", "sca"),
    scan_namespace: str = SCAN,
) -> bytes:
    """Return a Windows-shaped request envelope (body uses the scan prefix)."""
    soap, wsa, sca = prefixes
    return (
        f'<?xml version="1.0" encoding="utf-8"?><{soap}:Envelope xmlns:{soap}="{SOAP}" '
        f'xmlns:{wsa}="{WSA}" xmlns:{sca}="{scan_namespace}" xmlns:wse="{WSE}">'
        f"<{soap}:Header><{wsa}:To>{to}</{wsa}:To><{wsa}:Action>{action}</{wsa}:Action>"
        f"<{wsa}:MessageID>urn:uuid:{uuid.uuid4()}</{wsa}:MessageID>"
        f"<{wsa}:ReplyTo><{wsa}:Address>{ANONYMOUS}</{wsa}:Address></{wsa}:ReplyTo>{headers}"
        f"</{soap}:Header><{soap}:Body>{body}</{soap}:Body></{soap}:Envelope>"
    ).encode()


def ticket(
    *,
    source: str = "Platen",
    doc_format: str = "png",
    color: str = "RGB24",
    dpi: int = 75,
    images: int | None = None,
    size: tuple[int, int] = (2000, 3000),
    extra_front: str = "",
    back: bool = False,
    job_information: str | None = "ha",
) -> str:
    """Return a ScanTicket element (sca prefix)."""
    info = (
        ""
        if job_information is None
        else f"<sca:JobInformation>{job_information}</sca:JobInformation>"
    )
    count = (
        ""
        if images is None
        else f"<sca:ImagesToTransfer>{images}</sca:ImagesToTransfer>"
    )
    side = (
        f"<sca:ColorProcessing>{color}</sca:ColorProcessing><sca:Resolution><sca:Width>{dpi}"
        f"</sca:Width><sca:Height>{dpi}</sca:Height></sca:Resolution>{extra_front}"
    )
    back_side = f"<sca:MediaBack>{side}</sca:MediaBack>" if back else ""
    return (
        "<sca:ScanTicket><sca:JobDescription><sca:JobName>test</sca:JobName>"
        f"<sca:JobOriginatingUserName>pytest</sca:JobOriginatingUserName>{info}</sca:JobDescription>"
        f"<sca:DocumentParameters><sca:Format>{doc_format}</sca:Format>{count}"
        f"<sca:InputSource>{source}</sca:InputSource><sca:InputSize><sca:InputMediaSize>"
        f"<sca:Width>{size[0]}</sca:Width><sca:Height>{size[1]}</sca:Height></sca:InputMediaSize>"
        f"</sca:InputSize><sca:MediaSides><sca:MediaFront>{side}</sca:MediaFront>{back_side}"
        "</sca:MediaSides></sca:DocumentParameters></sca:ScanTicket>"
    )


class Client:
    """A minimal WS-Scan client for the tests (independent of the integration)."""

    def __init__(self, session: aiohttp.ClientSession, sim: SimulatedScanner) -> None:
        """Talk to `sim` through `session`."""
        self.session = session
        self.sim = sim

    async def post(self, url: str, data: bytes) -> tuple[int, bytes, str]:
        """POST a SOAP body; return (status, body, content type)."""
        async with self.session.post(
            url,
            data=data,
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        ) as response:
            return (
                response.status,
                await response.read(),
                response.headers.get("Content-Type", ""),
            )

    async def call(
        self, operation: str, body: str, **kwargs: object
    ) -> tuple[int, etree._Element]:
        """Call a WS-Scan operation on the scan service; return (status, parsed reply)."""
        namespace = kwargs.pop("namespace", SCAN)
        action = f"{namespace}/{operation}"
        status, data, _ = await self.post(
            self.sim.scan_url,
            envelope(action, body, to=self.sim.scan_url, **kwargs),  # type: ignore[arg-type]
        )
        return status, etree.fromstring(data)

    async def create_job(self, ticket_xml: str, extra: str = "") -> tuple[str, str]:
        """CreateScanJob; return (JobId, JobToken)."""
        status, reply = await self.call(
            "CreateScanJob",
            f"<sca:CreateScanJobRequest>{extra}{ticket_xml}</sca:CreateScanJobRequest>",
        )
        assert status == 200, etree.tostring(reply)
        return (
            reply.findtext(".//sca:JobId", namespaces=NS) or "",
            reply.findtext(".//sca:JobToken", namespaces=NS) or "",
        )

    async def retrieve(self, job_id: str, token: str) -> tuple[int, bytes, str]:
        """RetrieveImage; return the raw (status, body, content type)."""
        body = (
            f"<sca:RetrieveImageRequest><sca:JobId>{job_id}</sca:JobId><sca:JobToken>{token}"
            "</sca:JobToken><sca:DocumentDescription><sca:DocumentName>img</sca:DocumentName>"
            "</sca:DocumentDescription></sca:RetrieveImageRequest>"
        )
        return await self.post(
            self.sim.scan_url,
            envelope(f"{SCAN}/RetrieveImage", body, to=self.sim.scan_url),
        )


def fault_subcode(reply: etree._Element) -> str | None:
    """Return the local name of a fault subcode, or None when not a fault."""
    value = reply.findtext(".//s:Fault/s:Code/s:Subcode/s:Value", namespaces=NS)
    return None if value is None else value.rpartition(":")[2]


def image_part(body: bytes, content_type: str) -> bytes:
    """Return the image bytes of a well-formed MTOM response."""
    boundary = content_type.split('boundary="', 1)[1].split('"', 1)[0].encode()
    parts = body.split(b"--" + boundary)
    image = parts[2]
    return image.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Yield a client session closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedScanner]:
    """Yield a started office MFP without UDP discovery."""
    async with SimulatedScanner("office_mfp", discovery=False) as scanner:
        yield scanner


@pytest.fixture
def client(session: aiohttp.ClientSession, sim: SimulatedScanner) -> Client:
    """Return a WS-Scan client bound to `sim`."""
    return Client(session, sim)
