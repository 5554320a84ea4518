"""RetrieveImage framing quirks, hostile responses and huge streamed pages."""

from __future__ import annotations

import io

import aiohttp
from lxml import etree
from PIL import Image
import pytest

from simulator import Quirk, Settings, SimulatedScanner

from .conftest import SCAN, Client, envelope, image_part, ticket

pytestmark = pytest.mark.usefixtures("socket_enabled")

ELEMENTS = (
    "<sca:GetScannerElementsRequest><sca:RequestedElements><sca:Name>sca:ScannerDescription"
    "</sca:Name></sca:RequestedElements></sca:GetScannerElementsRequest>"
)


async def retrieve_raw(
    session: aiohttp.ClientSession, quirks: set[Quirk], **settings: object
) -> tuple[int, bytes, str]:
    """Scan one platen PNG from a device with `quirks`; return the raw response."""
    async with SimulatedScanner(
        "office_mfp", discovery=False, quirks=quirks, settings=Settings(**settings)
    ) as sim:  # type: ignore[arg-type]
        client = Client(session, sim)
        job_id, token = await client.create_job(ticket())
        return await client.retrieve(job_id, token)


async def test_framing_quirks_change_only_the_framing(
    session: aiohttp.ClientSession,
) -> None:
    """Each MIME quirk produces its device's framing; the PNG inside stays intact."""
    quirks = {
        Quirk.MIME_NO_CRLF_BEFORE_BOUNDARY,
        Quirk.MIME_HEADER_NO_SPACE,
        Quirk.MIME_UNQUOTED_PARAMETERS,
        Quirk.MIME_XOP_2003,
        Quirk.MIME_NO_INCLUDE_CID,
        Quirk.SLOW_STREAMING,
    }
    status, body, content_type = await retrieve_raw(
        session, quirks, slow_chunk_size=65536, slow_chunk_delay=0.0
    )
    assert status == 200
    assert content_type.startswith(
        "Multipart/Related; type=application/xop+xml; boundary="
    )
    assert "startinfo=application/soap+xml" in content_type
    boundary = content_type.split("boundary=", 1)[1].split(";", 1)[0].encode()
    assert b"Content-Type:image/png" in body
    assert b"</soap:Envelope>--" + boundary in body
    assert b"http://www.w3.org/2003/12/xop/include" in body
    assert b'href="cid:scan-data"' in body and b"Content-ID:<image" not in body
    image = body.split(b"Content-Transfer-Encoding:binary\r\n\r\n")[-1].rsplit(
        b"--" + boundary, 1
    )[0]
    assert Image.open(io.BytesIO(image)).format == "PNG"


async def test_format_lies(session: aiohttp.ClientSession) -> None:
    """Pantum M7100DN: asked for PNG, labelled PNG, but the bytes are JPEG."""
    _status, body, _content_type = await retrieve_raw(session, {Quirk.FORMAT_LIES})
    assert b"Content-Type: image/png" in body
    assert b"\r\n\r\n\xff\xd8\xff" in body


@pytest.mark.parametrize(
    "quirk", [Quirk.HOSTILE_TRUNCATED_MIME, Quirk.HOSTILE_STALL_MID_BODY]
)
async def test_broken_transfers_abort_the_job(
    quirk: Quirk, session: aiohttp.ClientSession
) -> None:
    """The body ends early (cut or stalled then cut); the job aborts with ImageTransferError."""
    async with SimulatedScanner(
        "office_mfp",
        discovery=False,
        quirks={quirk},
        settings=Settings(stall_seconds=0.05),
    ) as sim:
        client = Client(session, sim)
        job_id, token = await client.create_job(ticket())
        with pytest.raises(aiohttp.ClientPayloadError):
            await client.retrieve(job_id, token)
        assert sim.jobs[int(job_id)].reasons == ["ImageTransferError"]


@pytest.mark.parametrize(
    ("quirk", "marker"),
    [
        (Quirk.HOSTILE_DTD_ENTITIES, b'<!ENTITY payload SYSTEM "file:///etc/passwd">'),
        (Quirk.HOSTILE_BILLION_LAUGHS, b"&lol9;"),
    ],
)
async def test_hostile_doctypes(
    quirk: Quirk, marker: bytes, session: aiohttp.ClientSession
) -> None:
    """Responses carry a DOCTYPE a hardened parser must refuse to expand."""
    async with SimulatedScanner("office_mfp", discovery=False, quirks={quirk}) as sim:
        _status, body, _ = await Client(session, sim).post(sim.scan_url, _request(sim))
    assert marker in body
    hardened = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    if quirk is Quirk.HOSTILE_BILLION_LAUGHS:
        # libxml2 refuses the amplification outright, even without resolving entities.
        with pytest.raises(etree.XMLSyntaxError, match="amplification"):
            etree.fromstring(body, hardened)
    else:
        assert b"root:" not in etree.tostring(etree.fromstring(body, hardened))


async def test_oversized_body(session: aiohttp.ClientSession) -> None:
    """The envelope is padded past the configured size but stays well-formed."""
    async with SimulatedScanner(
        "office_mfp",
        discovery=False,
        quirks={Quirk.HOSTILE_OVERSIZED_BODY},
        settings=Settings(oversized_bytes=2 * 65536),
    ) as sim:
        _status, body, _ = await Client(session, sim).post(sim.scan_url, _request(sim))
    assert len(body) > 2 * 65536
    assert etree.fromstring(body, etree.XMLParser(huge_tree=True)).tag.endswith(
        "Envelope"
    )


def _request(sim: SimulatedScanner) -> bytes:
    return envelope(f"{SCAN}/GetScannerElements", ELEMENTS, to=sim.scan_url)


@pytest.mark.parametrize(
    ("doc_format", "color"),
    [
        ("dib", "RGB24"),
        ("tiff-single-uncompressed", "Grayscale8"),
        ("tiff-single-uncompressed", "RGB24"),
    ],
)
async def test_huge_page_streams_a_valid_image(
    doc_format: str, color: str, session: aiohttp.ClientSession
) -> None:
    """A huge page is streamed as a valid uncompressed image of about the requested size."""
    size = 3 * 1024 * 1024
    async with SimulatedScanner(
        "office_mfp", discovery=False, settings=Settings(huge_image_bytes=size)
    ) as sim:
        client = Client(session, sim)
        job_id, token = await client.create_job(
            ticket(doc_format=doc_format, color=color, dpi=300)
        )
        _status, body, content_type = await client.retrieve(job_id, token)
    data = image_part(body, content_type)
    assert size * 0.99 < len(data) < size * 1.01
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.mode == ("RGB" if color == "RGB24" else "L")
