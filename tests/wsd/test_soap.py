"""SOAP over HTTP (wsd/soap.py) against tiny loopback devices."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web
import pytest

from custom_components.wsd_scan.wsd import soap
from custom_components.wsd_scan.wsd.exceptions import (
    ErrorKind,
    WsdError,
    WsdFault,
    WsdHttpError,
)
from custom_components.wsd_scan.wsd.xml import SCAN, SOAP, build_envelope, element
from tests.loopback import DeviceFactory

REQUEST = build_envelope(f"{SCAN}/GetScannerElements", "http://device/scan")
SOAP_TYPE = "application/soap+xml"


def fault_body(subcode: str = "sca:ServerErrorNotAcceptingJobs") -> bytes:
    """Write a SOAP 1.2 fault the way a scanner does."""
    return (
        f'<?xml version="1.0"?><env:Envelope xmlns:env="{SOAP}" xmlns:sca="{SCAN}">'
        "<env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value>"
        f"<env:Subcode><env:Value>{subcode}</env:Value></env:Subcode></env:Code>"
        "<env:Reason><env:Text>Busy</env:Text></env:Reason></env:Fault></env:Body>"
        "</env:Envelope>"
    ).encode()


def answer(body: bytes, status: int = 200) -> web.Response:
    """Answer with a SOAP body."""
    return web.Response(status=status, body=body, content_type=SOAP_TYPE)


def test_request_headers_look_like_windows() -> None:
    """WSDAPI's headers, one exchange per connection."""
    assert soap.request_headers() == {
        "Content-Type": "application/soap+xml; charset=utf-8",
        "User-Agent": "WSDAPI",
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        "Connection": "close",
    }


async def test_post_returns_the_envelope_and_sends_windows_headers(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """A 200 answer is parsed; the request carried the payload and WSDAPI's headers."""
    seen: list[tuple[str, dict[str, str], bytes]] = []
    reply = build_envelope("urn:reply", "urn:to", element("sca:JobId", "7"))

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append((request.path, dict(request.headers), await request.read()))
        return answer(reply)

    url = await http_device(handler)
    envelope = await soap.post(session, f"{url}/scan", REQUEST)
    assert envelope is not None
    assert envelope.action == "urn:reply"
    assert envelope.payload is not None
    assert envelope.payload.text == "7"
    path, headers, body = seen[0]
    assert path == "/scan"
    assert body == REQUEST
    assert headers["Content-Type"] == "application/soap+xml; charset=utf-8"
    assert headers["User-Agent"] == "WSDAPI"
    assert headers["Connection"] == "close"


@pytest.mark.parametrize("status", [200, 400, 500])
async def test_faults_raise_whatever_the_http_status(
    http_device: DeviceFactory, session: aiohttp.ClientSession, status: int
) -> None:
    """Lexmark and Xerox send faults with HTTP 200; all decode by local name."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return answer(
            fault_body("odd:ServerErrorNotAcceptingJobs").replace(
                b"xmlns:sca=", b"xmlns:odd="
            ),
            status,
        )

    url = await http_device(handler)
    with pytest.raises(WsdFault) as caught:
        await soap.post(session, url, REQUEST)
    assert caught.value.subcode == "ServerErrorNotAcceptingJobs"
    assert caught.value.code == "Receiver"
    assert caught.value.reason == "Busy"


async def test_soap11_fault_in_http_500(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """A SOAP 1.1 fault body is decoded too."""
    body = (
        b'<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>'
        b"<S:Fault><faultcode>S:Client</faultcode><faultstring>Bad ticket</faultstring>"
        b"</S:Fault></S:Body></S:Envelope>"
    )

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, body=body, content_type="text/xml")

    url = await http_device(handler)
    with pytest.raises(WsdFault) as caught:
        await soap.post(session, url, REQUEST)
    assert (caught.value.subcode, caught.value.reason) == ("Client", "Bad ticket")


async def test_empty_202_is_none(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """202 Accepted without a body (directed probe: no match; event acks)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=202)

    url = await http_device(handler)
    assert await soap.post(session, url, REQUEST) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>It works!</html", "malformed XML"),
        (b"<html>It works!</html>", "not a SOAP envelope"),
    ],
)
async def test_answers_that_make_no_sense_are_protocol_errors(
    http_device: DeviceFactory,
    session: aiohttp.ClientSession,
    body: bytes,
    message: str,
) -> None:
    """A 2xx answer that is no SOAP envelope is a PROTOCOL error."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body)

    url = await http_device(handler)
    with pytest.raises(WsdError, match=message) as caught:
        await soap.post(session, url, REQUEST)
    assert caught.value.kind is ErrorKind.PROTOCOL
    assert not isinstance(caught.value, WsdFault)


@pytest.mark.parametrize(
    ("status", "content_type", "body", "kind", "reason"),
    [
        (503, "text/html", b"<html><head><title>503 Service Unavailable</title></head>",
         ErrorKind.BUSY, "503 Service Unavailable"),
        (400, "text/plain", b"Resolution 9999 is not supported\r\nsee manual",
         ErrorKind.INVALID_ARGUMENT, "Resolution 9999 is not supported"),
        (409, "text/plain", b"", ErrorKind.INVALID_ARGUMENT, "Conflict"),
        (404, "text/plain", b"  \r\n", ErrorKind.DEVICE_ERROR, "Not Found"),
        (500, SOAP_TYPE, build_envelope("urn:a", "urn:to"), ErrorKind.DEVICE_ERROR,
         "Internal Server Error"),
        (502, "text/plain", b"\x1b[31mbad\x00 gateway\x07 " + b"x" * 1000,
         ErrorKind.DEVICE_ERROR, "[31mbad gateway " + "x" * 183 + "…"),
    ],
)  # fmt: skip
async def test_http_errors_without_a_fault(
    http_device: DeviceFactory,
    session: aiohttp.ClientSession,
    *,
    status: int,
    content_type: str,
    body: bytes,
    kind: ErrorKind,
    reason: str,
) -> None:
    """Bare HTTP errors keep their status and the first line of the server's text."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, content_type=content_type)

    url = await http_device(handler)
    with pytest.raises(WsdHttpError) as caught:
        await soap.post(session, url, REQUEST)
    assert caught.value.kind is kind
    assert caught.value.status == status
    assert caught.value.reason == reason
    assert len(caught.value.reason) <= soap.MAX_REASON
    assert str(caught.value) == f"the device answered HTTP {status}: {reason}"


async def test_declared_oversized_body_is_refused_unread(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """A Content-Length over the cap fails before the body is read."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return answer(b"<x>" + b"a" * 5000 + b"</x>")

    url = await http_device(handler)
    with pytest.raises(WsdError, match="response of 5007 bytes exceeds 1000") as caught:
        await soap.post(session, url, REQUEST, max_size=1000)
    assert caught.value.kind is ErrorKind.PROTOCOL


async def test_endless_body_is_read_only_up_to_the_cap(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """A chunked body that never ends stops being read just past the cap."""
    sent = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": SOAP_TYPE})
        await response.prepare(request)
        await response.write(b"<s:Envelope>")
        chunk = b" " * 16384
        while True:  # until the client hangs up
            await response.write(chunk)
            sent += len(chunk)

    url = await http_device(handler)
    start = time.monotonic()
    with pytest.raises(WsdError, match="response exceeds 262144 bytes") as caught:
        await soap.post(session, url, REQUEST, max_size=256 * 1024, timeout=30)
    assert caught.value.kind is ErrorKind.PROTOCOL
    assert time.monotonic() - start < 5


async def test_stall_mid_body_times_out_within_the_bound(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """A device that stops sending half-way fails with TIMEOUT after `timeout`."""
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": SOAP_TYPE})
        response.content_length = 10_000
        await response.prepare(request)
        await response.write(b"<s:Envelope xmlns:s='" + SOAP.encode() + b"'><s:Body>")
        await release.wait()
        return response

    url = await http_device(handler)
    start = time.monotonic()
    with pytest.raises(WsdError, match="no answer from") as caught:
        await soap.post(session, url, REQUEST, timeout=0.5)
    elapsed = time.monotonic() - start
    release.set()
    assert caught.value.kind is ErrorKind.TIMEOUT
    assert 0.4 < elapsed < 3


async def test_no_answer_at_all_times_out(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """A device that accepts the request but never answers: TIMEOUT."""
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(status=202)

    url = await http_device(handler)
    with pytest.raises(WsdError) as caught:
        await soap.post(session, url, REQUEST, timeout=0.3)
    release.set()
    assert caught.value.kind is ErrorKind.TIMEOUT


async def test_unreachable(
    socket_enabled: None, session: aiohttp.ClientSession, closed_port: int
) -> None:
    """Connection refused: UNREACHABLE, naming the URL."""
    url = f"http://127.0.0.1:{closed_port}/scan"
    with pytest.raises(WsdError, match=f"cannot reach {url}") as caught:
        await soap.post(session, url, REQUEST)
    assert caught.value.kind is ErrorKind.UNREACHABLE


async def test_connection_closed_mid_body_is_unreachable(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """A device that drops the connection half-way through the body."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": SOAP_TYPE})
        response.content_length = 10_000
        await response.prepare(request)
        await response.write(b"<s:Envelope>")
        assert request.transport is not None
        request.transport.close()
        return response

    url = await http_device(handler)
    with pytest.raises(WsdError) as caught:
        await soap.post(session, url, REQUEST)
    assert caught.value.kind is ErrorKind.UNREACHABLE


def test_connection_error_mapping() -> None:
    """Timeouts become TIMEOUT, everything else UNREACHABLE."""
    assert soap.connection_error("u", TimeoutError()).kind is ErrorKind.TIMEOUT
    assert soap.connection_error("u", OSError("no route")).kind is ErrorKind.UNREACHABLE
    assert "no route" in str(soap.connection_error("u", OSError("no route")))


async def test_multipart_bodies_are_sent_whole(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """An MTOM package (WS-DSP uploads) goes out as written, on a connection of its own."""
    seen: list[bytes] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(await request.read())
        return web.Response(status=202)

    package = aiohttp.MultipartWriter("related", "b1")
    package.append(REQUEST, {"Content-Type": SOAP_TYPE})
    url = await http_device(handler)
    content_type = f"multipart/related; boundary={package.boundary}"
    assert await soap.post(session, url, package, content_type=content_type) is None
    assert REQUEST in seen[0]
    assert seen[0].startswith(b"--b1")
