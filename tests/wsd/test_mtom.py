"""Streaming MTOM reader: device framings, faults, hostile bodies, bounded memory."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
import os
from pathlib import Path
import tracemalloc

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.wsd_scan.wsd import ErrorKind, WsdError, WsdFault, mtom
from custom_components.wsd_scan.wsd.models import ImageFormat
from custom_components.wsd_scan.wsd.mtom import MtomResult, read_mtom
from tests.loopback import DeviceFactory

pytestmark = pytest.mark.usefixtures("socket_enabled")

BOUNDARY = "MIMEBoundary_4f1c2e7a9b"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\r\n--MIMEBoundary\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00IHDR" + b"\r\n" * 100
CONTENT_TYPE = (
    f'multipart/related; type="application/xop+xml"; boundary="{BOUNDARY}"; '
    'start="<root@test>"; start-info="application/soap+xml"'
)
XOP_2004 = "http://www.w3.org/2004/08/xop/include"
XOP_2003 = "http://www.w3.org/2003/12/xop/include"
ROOT_HEADERS = (
    ("Content-Type", 'application/xop+xml; charset=UTF-8; type="application/soap+xml"'),
    ("Content-Transfer-Encoding", "binary"),
    ("Content-ID", "<root@test>"),
)
FAULT = b"""<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:w="http://schemas.microsoft.com/windows/2006/08/wdp/scan"><s:Body><s:Fault>
<s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>w:ClientErrorNoImagesAvailable</s:Value>
</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">No images</s:Text></s:Reason>
</s:Fault></s:Body></s:Envelope>"""


def soap(href: str = "cid:image@test", xop: str = XOP_2004) -> bytes:
    """Return a RetrieveImageResponse envelope whose ScanData includes `href`."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
        f' xmlns:xop="{xop}"'
        ' xmlns:wscn="http://schemas.microsoft.com/windows/2006/08/wdp/scan">'
        "<soap:Header><wsa:Action>http://schemas.microsoft.com/windows/2006/08/wdp/scan/"
        "RetrieveImageResponse</wsa:Action></soap:Header><soap:Body>"
        "<wscn:RetrieveImageResponse><wscn:ScanData>"
        f'<xop:Include href="{href}"/>'
        "</wscn:ScanData></wscn:RetrieveImageResponse></soap:Body></soap:Envelope>"
    ).encode()


def part(headers: Iterable[tuple[str, str]], body: bytes, sep: str = ": ") -> bytes:
    """One MIME part: headers, blank line, body (CRLF line ends)."""
    head = "".join(f"{name}{sep}{value}\r\n" for name, value in headers)
    return head.encode() + b"\r\n" + body


def multipart(*parts: bytes, lead: bytes = b"\r\n", boundary: str = BOUNDARY) -> bytes:
    """Join parts with delimiters, each preceded by `lead` (CRLF per RFC 2046)."""
    delimiter = f"--{boundary}".encode()
    body = b"".join(
        (lead if index else b"") + delimiter + b"\r\n" + content
        for index, content in enumerate(parts)
    )
    return body + lead + delimiter + b"--\r\n"


def image_part(data: bytes = JPEG, cid: str | None = "<image@test>") -> bytes:
    """Return the image part, with a Content-ID unless `cid` is None."""
    headers = [("Content-Type", "image/jpeg"), ("Content-Transfer-Encoding", "binary")]
    if cid is not None:
        headers.append(("Content-ID", cid))
    return part(headers, data)


STANDARD = multipart(part(ROOT_HEADERS, soap()), image_part())


@dataclass
class Reply:
    """What the loopback device answers: a body in chunks, then an ending."""

    chunks: list[bytes]
    content_type: str = CONTENT_TYPE
    status: int = 200
    #: "eof" ends the body properly; "abort" drops the connection; "stall" goes silent.
    ending: str = "eof"


@dataclass
class Device:
    """A loopback HTTP device answering each request with the current `reply`."""

    url: str = ""
    reply: Reply = field(default_factory=lambda: Reply([STANDARD]))
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Stream the reply."""
        reply = self.reply
        response = web.StreamResponse(
            status=reply.status, headers={"Content-Type": reply.content_type}
        )
        await response.prepare(request)
        for chunk in reply.chunks:
            await response.write(chunk)
        if reply.ending == "stall":
            await self.release.wait()
        if reply.ending != "eof":
            assert request.transport is not None
            request.transport.abort()
            return response
        await response.write_eof()
        return response


@pytest.fixture
async def device(http_device: DeviceFactory) -> AsyncIterator[Device]:
    """Start a loopback device; stalled replies are released when the test ends."""
    loopback = Device()
    loopback.url = await http_device(loopback.handle)
    yield loopback
    loopback.release.set()


async def retrieve(
    session: aiohttp.ClientSession, device: Device, path: Path, **options: float
) -> MtomResult:
    """POST to the device and read the answer with `read_mtom`."""
    async with session.post(device.url) as response:
        return await read_mtom(response, path, **options)  # type: ignore[arg-type]


async def expect_error(
    session: aiohttp.ClientSession, device: Device, path: Path, **options: float
) -> WsdError:
    """Read the device's answer, expecting a WsdError and no file left behind."""
    with pytest.raises(WsdError) as caught:
        await retrieve(session, device, path, **options)
    assert not path.exists()
    return caught.value


async def test_standard_response(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path
) -> None:
    """The image part lands byte-exact on disk (boundary-like bytes inside included)."""
    result = await retrieve(session, device, tmp_path / "page")
    assert (tmp_path / "page").read_bytes() == JPEG
    assert result.size == len(JPEG)
    assert result.content_type == "image/jpeg"
    assert result.image_format is ImageFormat.JPEG
    assert result.envelope.action is not None
    assert result.envelope.action.endswith("/RetrieveImageResponse")


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 4096])
async def test_any_chunking(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path, chunk_size: int
) -> None:
    """Delimiters split across network chunks are still found."""
    device.reply = Reply(
        [STANDARD[i : i + chunk_size] for i in range(0, len(STANDARD), chunk_size)]
    )
    await retrieve(session, device, tmp_path / "page")
    assert (tmp_path / "page").read_bytes() == JPEG


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(
            multipart(part(ROOT_HEADERS, soap()), image_part(), lead=b""),
            CONTENT_TYPE,
            id="no CRLF before boundary (Xerox WorkCentre 3025)",
        ),
        pytest.param(
            multipart(
                part(ROOT_HEADERS, soap(), sep=":"),
                part(
                    [("Content-Type", "image/jpeg"), ("Content-ID", "<image@test>")],
                    JPEG,
                    sep=":",
                ),
            ),
            CONTENT_TYPE,
            id="no space after header colon (Epson WF-3640)",
        ),
        pytest.param(
            multipart(part(ROOT_HEADERS, soap()), image_part(b"@image@"))
            .replace(b"\r\n", b"\n")
            .replace(b"@image@", JPEG),
            CONTENT_TYPE,
            id="bare LF line ends",
        ),
        pytest.param(
            STANDARD,
            f"Multipart/Related; type=application/xop+xml; boundary={BOUNDARY}; "
            "start=<root@test>; startinfo=application/soap+xml",
            id="unquoted parameters, startinfo (DDK example)",
        ),
        pytest.param(
            multipart(part(ROOT_HEADERS, soap(xop=XOP_2003)), image_part()),
            CONTENT_TYPE,
            id="XOP 2003/12 namespace (WS-Scan examples)",
        ),
        pytest.param(
            multipart(part(ROOT_HEADERS, soap("cid:scan-data")), image_part(cid=None)),
            CONTENT_TYPE,
            id="no Content-ID matching the Include (Canon MF746Cx, Dell C2665dnf)",
        ),
        pytest.param(
            multipart(part(ROOT_HEADERS, soap()), image_part(cid="<other@test>")),
            f"multipart/related; boundary={BOUNDARY}",
            id="no start parameter, image under another Content-ID",
        ),
        pytest.param(
            multipart(
                part(ROOT_HEADERS, soap()),
                image_part(b"thumbnail", cid="<thumb@test>"),
                image_part(),
            ),
            CONTENT_TYPE,
            id="Include names a later part",
        ),
        pytest.param(
            multipart(image_part(), part(ROOT_HEADERS, soap())),
            CONTENT_TYPE,
            id="root part after the image, named by start",
        ),
        pytest.param(
            multipart(
                part(ROOT_HEADERS, soap("cid:image%40test")),
                image_part(cid=" <Image@Test> "),
                image_part(b"trailing part"),
            ),
            CONTENT_TYPE,
            id="percent-encoded href, Content-ID case and spaces",
        ),
        pytest.param(
            b"preamble text\r\n" + STANDARD + b"epilogue" * 1000,
            CONTENT_TYPE,
            id="preamble and epilogue",
        ),
        pytest.param(
            multipart(
                part(
                    [("Content-Type", "application/xop+xml"), ("Content-ID", "<r>")],
                    soap(),
                ),
                part(
                    [
                        ("Content-Type", "image/jpeg;"),
                        ("  name", "page"),  # a folded line continues Content-Type
                        ("Content-ID", "<image@test>"),
                    ],
                    JPEG,
                ),
            ),
            CONTENT_TYPE,
            id="start names no part, folded header",
        ),
    ],
)
async def test_device_framings(
    session: aiohttp.ClientSession,
    device: Device,
    tmp_path: Path,
    body: bytes,
    content_type: str,
) -> None:
    """Every framing real devices use yields the image, byte-exact."""
    device.reply = Reply([body], content_type=content_type)
    result = await retrieve(session, device, tmp_path / "page")
    assert (tmp_path / "page").read_bytes() == JPEG
    assert result.image_format is ImageFormat.JPEG


async def test_content_type_is_reported_not_trusted(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path
) -> None:
    """A part declared as JPEG that holds a PNG is sniffed as PNG (Pantum M7100DN)."""
    device.reply = Reply([multipart(part(ROOT_HEADERS, soap()), image_part(PNG))])
    result = await retrieve(session, device, tmp_path / "page")
    assert result.content_type == "image/jpeg"
    assert result.image_format is ImageFormat.PNG


async def test_empty_image(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path
) -> None:
    """An empty image part (end of an Epson ES-580W ADF job) gives an empty file."""
    device.reply = Reply([multipart(part(ROOT_HEADERS, soap()), image_part(b""))])
    result = await retrieve(session, device, tmp_path / "page")
    assert result.size == 0
    assert result.image_format is ImageFormat.UNKNOWN
    assert (tmp_path / "page").read_bytes() == b""


async def test_inline_base64_image(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path
) -> None:
    """A plain SOAP answer with base64 ScanData (its schema type) is decoded."""
    envelope = soap().replace(
        b'<xop:Include href="cid:image@test"/>', base64.b64encode(PNG)
    )
    device.reply = Reply([envelope], content_type="application/soap+xml")
    result = await retrieve(session, device, tmp_path / "page")
    assert (tmp_path / "page").read_bytes() == PNG
    assert result.content_type is None
    assert result.image_format is ImageFormat.PNG


@pytest.mark.parametrize("status", [200, 400, 500])
async def test_plain_fault(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path, status: int
) -> None:
    """A fault instead of multipart raises it, in any HTTP status (Lexmark, Xerox)."""
    device.reply = Reply([FAULT], content_type="application/soap+xml", status=status)
    error = await expect_error(session, device, tmp_path / "page")
    assert isinstance(error, WsdFault)
    assert error.subcode == "ClientErrorNoImagesAvailable"


async def test_fault_as_root_part(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path
) -> None:
    """A fault in the root part of a multipart answer raises it."""
    device.reply = Reply([multipart(part(ROOT_HEADERS, FAULT), image_part())])
    error = await expect_error(session, device, tmp_path / "page")
    assert isinstance(error, WsdFault)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        pytest.param(
            Reply([STANDARD[: STANDARD.index(b"\xff\xd9")]]),
            "truncated",
            id="truncated",
        ),
        pytest.param(
            Reply([STANDARD[: STANDARD.index(b"\xff\xd9")]], ending="abort"),
            "broke off",
            id="connection dropped",
        ),
        pytest.param(
            Reply([multipart(part(ROOT_HEADERS, soap()))]), "no image", id="no image"
        ),
        pytest.param(
            Reply(
                [multipart(image_part())],
                content_type=f"multipart/related; boundary={BOUNDARY}; start=x",
            ),
            "no SOAP part",
            id="no root part",
        ),
        pytest.param(
            Reply([STANDARD], content_type="multipart/related"),
            "boundary",
            id="no boundary",
        ),
        pytest.param(
            Reply([soap()], content_type="application/soap+xml"),
            "no image",
            id="plain answer without image",
        ),
        pytest.param(
            Reply(
                [
                    soap().replace(
                        b'<xop:Include href="cid:image@test"/>', b"not*base64"
                    )
                ],
                content_type="application/soap+xml",
            ),
            "undecodable",
            id="bad inline base64",
        ),
        pytest.param(
            Reply(
                [multipart(part(ROOT_HEADERS, soap()), b"no colon here\r\n\r\n" + JPEG)]
            ),
            "malformed",
            id="header line without colon",
        ),
        pytest.param(
            Reply([multipart(part([("X-Pad", "x" * 20000)], JPEG))]),
            "oversized MIME part headers",
            id="oversized header block",
        ),
        pytest.param(
            Reply([f"--{BOUNDARY}\r\n".encode(), b"x" * 20000]),
            "oversized MIME part headers",
            id="endless header line",
        ),
        pytest.param(
            Reply([multipart(part(ROOT_HEADERS, soap() + b" " * 5000), image_part())]),
            "exceeds",
            id="oversized root part",
        ),
        pytest.param(
            Reply([b"-" * 5000 + STANDARD]), "exceeds", id="oversized preamble"
        ),
        pytest.param(
            Reply(
                [
                    multipart(
                        part(ROOT_HEADERS, soap()),
                        image_part(b"stand-in", cid="<a>"),
                        image_part(b"x" * 70000, cid="<b>"),
                        image_part(),
                    )
                ]
            ),
            "exceeds",
            id="oversized extra part",
        ),
    ],
)
async def test_broken_responses(
    session: aiohttp.ClientSession,
    device: Device,
    tmp_path: Path,
    reply: Reply,
    message: str,
) -> None:
    """Broken or hostile answers end in a protocol error and leave no file behind."""
    device.reply = reply
    error = await expect_error(
        session, device, tmp_path / "page", max_soap_size=4096, max_image_size=65536
    )
    assert error.kind is ErrorKind.PROTOCOL
    assert message in str(error)


async def test_oversized_image(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path
) -> None:
    """An image beyond `max_image_size` is refused, its partial file removed."""
    data = b"\xff\xd8\xff" + bytes(3 * 1024 * 1024)
    device.reply = Reply([multipart(part(ROOT_HEADERS, soap()), image_part(data))])
    error = await expect_error(
        session, device, tmp_path / "page", max_image_size=2 * 1024 * 1024
    )
    assert "exceeds" in str(error)


async def test_stall_mid_body(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path
) -> None:
    """A device that goes silent mid-image ends in TIMEOUT after `stall_timeout`."""
    device.reply = Reply([STANDARD[: len(STANDARD) // 2]], ending="stall")
    async with asyncio.timeout(10):
        error = await expect_error(
            session, device, tmp_path / "page", stall_timeout=0.2
        )
    assert error.kind is ErrorKind.TIMEOUT


async def test_cancellation_removes_the_file(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path
) -> None:
    """Cancelling the reader mid-image leaves no partial file."""
    big = b"\xff\xd8\xff" + bytes(3 * 1024 * 1024)
    head = multipart(part(ROOT_HEADERS, soap()), image_part(big))[: 2 * 1024 * 1024]
    device.reply = Reply([head], ending="stall")
    path = tmp_path / "page"
    reading = asyncio.create_task(retrieve(session, device, path))
    while not path.exists():
        await asyncio.sleep(0.01)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert not path.exists()


async def test_rewrites_when_a_later_part_matches(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path
) -> None:
    """A stand-in larger than one write batch is replaced by the matching part."""
    stand_in = b"\x00" * (3 * 1024 * 1024)
    device.reply = Reply(
        [
            multipart(
                part(ROOT_HEADERS, soap()),
                image_part(stand_in, cid="<thumb@test>"),
                image_part(),
            )
        ]
    )
    result = await retrieve(session, device, tmp_path / "page")
    assert (tmp_path / "page").read_bytes() == JPEG
    assert result.size == len(JPEG)


async def test_short_writes_are_completed(
    session: aiohttp.ClientSession,
    device: Device,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A `writev` that writes less than asked (e.g. a signal) is resumed where it stopped."""
    real_writev = os.writev

    def short_writev(fd: int, buffers: list[memoryview | bytes]) -> int:
        first = memoryview(buffers[0])
        return real_writev(fd, [first[: max(1, len(first) // 2)]])

    monkeypatch.setattr(os, "writev", short_writev)
    result = await retrieve(session, device, tmp_path / "page")
    assert (tmp_path / "page").read_bytes() == JPEG
    assert result.size == len(JPEG)


async def test_tiny_pieces_are_written_in_bounded_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device trickling tiny chunks piles up at most MAX_BATCH_PIECES per write."""
    batches: list[int] = []
    real_writev = os.writev

    def counting_writev(fd: int, buffers: list[memoryview | bytes]) -> int:
        batches.append(len(buffers))
        return real_writev(fd, buffers)

    monkeypatch.setattr(os, "writev", counting_writev)
    data = bytes(range(256)) * 10
    # Directly: the network cannot be made to deliver 2560 separate 1-byte reads on cue.
    image = mtom._ImageFile(tmp_path / "page", max_size=len(data))  # noqa: SLF001
    for index in range(len(data)):
        await image.write(data[index : index + 1])
    await image.close()
    assert batches == [mtom.MAX_BATCH_PIECES] * 2 + [
        len(data) - 2 * mtom.MAX_BATCH_PIECES
    ]
    assert (tmp_path / "page").read_bytes() == data


def _streamed_body(image_size: int, block: bytes) -> Iterable[bytes]:
    yield f"--{BOUNDARY}\r\n".encode() + part(ROOT_HEADERS, soap())
    yield f"\r\n--{BOUNDARY}\r\n".encode() + part(
        [("Content-Type", "image/jpeg"), ("Content-ID", "<image@test>")], b""
    )
    for _ in range(image_size // len(block)):
        yield block
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def test_memory_independent_of_page_size(
    session: aiohttp.ClientSession, device: Device, tmp_path: Path
) -> None:
    """A 24 MiB image streams through with a few MiB of Python memory at most."""
    block = b"\xff\xd8\xff" + bytes(256 * 1024 - 3)
    image_size = 24 * 1024 * 1024
    device.reply = Reply(list(_streamed_body(image_size, block)))
    tracemalloc.start()
    try:
        result = await retrieve(session, device, tmp_path / "page")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == image_size
    assert (tmp_path / "page").stat().st_size == image_size
    # The reply list itself is allocated before tracing starts; 8 MiB is a third of the page.
    assert peak < 8 * 1024 * 1024


_PIECES = st.sampled_from(
    [
        f"--{BOUNDARY}".encode(),
        f"--{BOUNDARY}--".encode(),
        b"\r\n",
        b"\n",
        b"Content-Type: image/jpeg\r\n",
        b"Content-ID:<image@test>\r\n",
        b"Content-ID: <root@test>\r\n",
        b"Content-Type: application/xop+xml\r\n",
        b":",
        soap(),
        FAULT,
        JPEG[:64],
    ]
)
_BODIES = st.lists(st.one_of(_PIECES, st.binary(max_size=40)), max_size=16).map(
    b"".join
)
_CONTENT_TYPES = st.sampled_from(
    [
        CONTENT_TYPE,
        f"multipart/related; boundary={BOUNDARY}",
        "multipart/related",
        "application/soap+xml",
        "text/html",
        "",
    ]
)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=_BODIES, content_type=_CONTENT_TYPES)
async def test_random_framings(
    session: aiohttp.ClientSession,
    device: Device,
    tmp_path: Path,
    body: bytes,
    content_type: str,
) -> None:
    """Whatever arrives: a result with its file, or a WsdError and no file."""
    device.reply = Reply([body], content_type=content_type)
    path = tmp_path / "page"
    try:
        result = await retrieve(session, device, path, max_soap_size=4096)
    except WsdError:
        assert not path.exists()
    else:
        assert path.stat().st_size == result.size
        path.unlink()
