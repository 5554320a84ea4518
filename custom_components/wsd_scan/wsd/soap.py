"""SOAP over HTTP: Windows-shaped requests, bounded responses, faults in any HTTP status."""

from __future__ import annotations

import asyncio
from ssl import SSLContext
from typing import Final

import aiohttp

from .exceptions import ErrorKind, WsdError
from .xml import MAX_MESSAGE_SIZE, Envelope, parse_envelope

CONTENT_TYPE: Final = "application/soap+xml; charset=utf-8"
#: Default time for one request/response exchange.
REQUEST_TIMEOUT: Final = 10.0
_READ_CHUNK: Final = 64 * 1024


def request_headers() -> dict[str, str]:
    """HTTP headers like Windows' WSDAPI: some firmware only answers those (sane-airscan)."""
    return {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": "WSDAPI",
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        # Some devices keep half-closed sockets around; one exchange per connection.
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
    aiohttp's per-request TLS setting: True verifies against the system's roots. A fault
    raises `WsdFault` whatever the HTTP status: Lexmark MB2236adw and Xerox WorkCentre 3225
    send faults with HTTP 200.
    """
    headers = request_headers() | {"Content-Type": content_type}
    try:
        async with (
            asyncio.timeout(timeout),
            session.post(url, data=payload, headers=headers, ssl=ssl) as response,
        ):
            body = await read_bounded(response, max_size)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        raise connection_error(url, err) from err
    if not body.strip():
        if 200 <= status < 300:
            return None
        raise WsdError(ErrorKind.PROTOCOL, f"HTTP {status} without a body from {url}")
    envelope = parse_envelope(body, max_size=max_size)
    if fault := envelope.fault():
        raise fault
    if not 200 <= status < 300:
        raise WsdError(ErrorKind.PROTOCOL, f"HTTP {status} from {url}")
    return envelope
