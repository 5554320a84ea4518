"""SOAP over HTTP: Windows-shaped requests, bounded responses, faults in any HTTP status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
import re
from ssl import SSLContext
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.client_proto import ResponseHandler
from aiohttp.payload import Payload

from .exceptions import ErrorKind, WsdError, WsdHttpError
from .xml import MAX_MESSAGE_SIZE, Envelope, parse_envelope

CONTENT_TYPE: Final = "application/soap+xml; charset=utf-8"
#: Default time for one request/response exchange.
REQUEST_TIMEOUT: Final = 10.0
_READ_CHUNK: Final = 64 * 1024
#: Characters kept of the reason in an HTTP error answer.
MAX_REASON: Final = 200
_TAG: Final = re.compile(r"<[^>]*>")
_HTTP_ERROR_KINDS: Final = {
    400: ErrorKind.INVALID_ARGUMENT,
    409: ErrorKind.INVALID_ARGUMENT,
    503: ErrorKind.BUSY,
}


def request_headers() -> dict[str, str]:
    """HTTP headers like Windows' WSDAPI: some firmware only answers those (sane-airscan)."""
    return {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": "WSDAPI",
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        # Kyocera ECOSYS M2040dn keeps a job "Processing" for ~10 s over a kept-alive
        # connection: one exchange per connection (`exchange` closes it).
        "Connection": "close",
    }


async def read_bounded(response: aiohttp.ClientResponse, max_size: int) -> bytes:
    """Read a whole response body, failing as soon as it grows past `max_size`."""
    if response.content_length is not None and response.content_length > max_size:
        raise WsdError(
            ErrorKind.PROTOCOL,
            f"response of {response.content_length} bytes exceeds {max_size}",
        )
    body = bytearray()
    while chunk := await response.content.read(_READ_CHUNK):
        body += chunk
        if len(body) > max_size:
            raise WsdError(ErrorKind.PROTOCOL, f"response exceeds {max_size} bytes")
    return bytes(body)


def connection_error(url: str, err: BaseException) -> WsdError:
    """Turn a transport failure into a `WsdError` that names the URL."""
    if isinstance(err, TimeoutError):
        return WsdError(ErrorKind.TIMEOUT, f"no answer from {url} in time")
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        return WsdError(
            ErrorKind.UNREACHABLE,
            f"the TLS certificate of {url} is not trusted ({err.certificate_error}): "
            "trust its CA file, or turn certificate verification off",
        )
    return WsdError(ErrorKind.UNREACHABLE, f"cannot reach {url}: {err}")


async def check_reachable(url: str, *, timeout: float = REQUEST_TIMEOUT) -> None:
    """Open and close a TCP connection to `url`'s host and port; raise if that fails.

    Tells whether a device is there without asking its SOAP stack anything.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(parts.hostname, port)
    except (TimeoutError, OSError) as err:
        raise connection_error(url, err) from err
    writer.close()
    # A reset on close still means the device was there.
    with suppress(OSError):
        await writer.wait_closed()


def _first_line(body: bytes) -> str:
    """Return the first line of text of an error page: tags dropped, bounded, printable."""
    decoded = body[: 4 * MAX_REASON].decode("utf-8", "replace")
    for line in _TAG.sub("\n", decoded).splitlines():
        printable = " ".join("".join(c for c in line if c.isprintable()).split())
        if printable:
            if len(printable) > MAX_REASON:
                return printable[: MAX_REASON - 1] + "…"
            return printable
    return ""


def http_error(status: int, phrase: str | None, body: bytes) -> WsdHttpError:
    """Describe an HTTP error answer that carries no SOAP fault.

    503 is a busy device (RFC 9110 §15.6.4); 400 and 409 refuse what was asked (the
    server's reason says what); anything else is a device error naming the status.
    """
    kind = _HTTP_ERROR_KINDS.get(status, ErrorKind.DEVICE_ERROR)
    reason = _first_line(body) or phrase or ""
    message = f"the device answered HTTP {status}" + (f": {reason}" if reason else "")
    return WsdHttpError(kind, status, reason, message)


def error_answer(
    status: int, phrase: str | None, body: bytes, *, max_size: int = MAX_MESSAGE_SIZE
) -> WsdError:
    """Return what a non-2xx answer reports: its SOAP fault, else a `WsdHttpError`."""
    try:
        envelope = parse_envelope(body, max_size=max_size) if body.strip() else None
    except WsdError:
        return http_error(status, phrase, body)
    fault = envelope.fault() if envelope is not None else None
    return fault or http_error(status, phrase, b"")


def interpret_answer(
    status: int, phrase: str | None, body: bytes, *, max_size: int = MAX_MESSAGE_SIZE
) -> Envelope | None:
    """Decode a whole answer: its envelope, or None for an empty 2xx answer.

    A SOAP fault raises `WsdFault` whatever the HTTP status (Lexmark MB2236adw and Xerox
    WorkCentre 3225 send faults with HTTP 200); another error status raises
    `WsdHttpError`; a 2xx answer that is no envelope raises `ErrorKind.PROTOCOL`.
    """
    if not 200 <= status < 300:
        raise error_answer(status, phrase, body, max_size=max_size)
    if not body.strip():
        return None
    envelope = parse_envelope(body, max_size=max_size)
    if fault := envelope.fault():
        raise fault
    return envelope


class _OneExchange(Payload):
    """A request body that marks its connection to be closed after the answer.

    Requests say `Connection: close`, after which a client sends nothing more on that
    connection (RFC 9112 §9.6), whether or not the device echoes the header. aiohttp
    keeps the connection for the next request instead, and a device that closes it makes
    that request fail with "Server disconnected". The body is written on the connection
    before the answer arrives: the one moment aiohttp shows it to a request's own code,
    whatever the session (Home Assistant passes its shared one).
    """

    def __init__(self, body: Payload) -> None:
        """Wrap `body` (its headers and size are the request's)."""
        super().__init__(body, headers=body.headers)
        self._body = body
        self._size = body.size

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """Return the body as text."""
        return self._body.decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        """Mark the connection, then write the body."""
        _close_after_answer(writer)
        await self._body.write(writer)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        """Mark the connection, then write up to `content_length` bytes of the body."""
        _close_after_answer(writer)
        await self._body.write_with_length(writer, content_length)


def _close_after_answer(writer: AbstractStreamWriter) -> None:
    protocol = getattr(writer, "protocol", None)
    if isinstance(protocol, ResponseHandler):
        protocol.force_close()


@asynccontextmanager
async def exchange(
    session: aiohttp.ClientSession,
    url: str,
    payload: bytes | aiohttp.MultipartWriter,
    *,
    content_type: str = CONTENT_TYPE,
    timeout: aiohttp.ClientTimeout | None = None,
    ssl: SSLContext | bool = True,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """POST `payload` on a connection that is closed after the answer; yield the answer.

    Every device request of the library goes through here (`post` included).
    """
    body = aiohttp.BytesPayload(payload) if isinstance(payload, bytes) else payload
    headers = request_headers() | {"Content-Type": content_type}
    options: dict[str, Any] = {"headers": headers, "ssl": ssl}
    if timeout is not None:
        options["timeout"] = timeout
    async with session.post(url, data=_OneExchange(body), **options) as response:
        yield response


async def post(
    session: aiohttp.ClientSession,
    url: str,
    payload: bytes | aiohttp.MultipartWriter,
    *,
    timeout: float = REQUEST_TIMEOUT,
    max_size: int = MAX_MESSAGE_SIZE,
    content_type: str = CONTENT_TYPE,
    ssl: SSLContext | bool = True,
) -> Envelope | None:
    """POST a SOAP message; return the response envelope, or None for an empty 2xx answer.

    `payload` is an envelope, or an MTOM package (then pass its `content_type`). `ssl` is
    aiohttp's per-request TLS setting: True verifies against the system's roots. Faults
    and HTTP errors raise as `interpret_answer` says.
    """
    try:
        async with (
            asyncio.timeout(timeout),
            exchange(
                session, url, payload, content_type=content_type, ssl=ssl
            ) as response,
        ):
            body = await read_answer(response, max_size)
            status, phrase = response.status, response.reason
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        raise connection_error(url, err) from err
    return interpret_answer(status, phrase, body, max_size=max_size)


async def read_answer(response: aiohttp.ClientResponse, max_size: int) -> bytes:
    """Read an answer's body: whole for a 2xx answer, its first `max_size` bytes else."""
    if 200 <= response.status < 300:
        return await read_bounded(response, max_size)
    return await response.content.read(max_size)
