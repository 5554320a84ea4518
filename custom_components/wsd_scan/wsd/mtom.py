"""Streaming reader for RetrieveImage responses (MTOM/XOP multipart/related).

The job runner calls `read_mtom` once per RetrieveImage response, inside the request's
context manager::

    async with session.post(url, data=request, headers=request_headers()) as response:
        result = await read_mtom(response, directory / "page-001.bin")

`read_mtom` streams the image part to `image_path` as it arrives (memory stays a few MiB
whatever the page size; file I/O runs in the event loop's default executor) and returns an
`MtomResult`: the SOAP envelope of the root part, the bytes written, the part's declared
Content-Type and the format sniffed from the image's first bytes (devices lie about it). A
0-byte image is a success: Epson ES-series scanners end an ADF job with one.

Errors are `WsdError`s, and on every error (or cancellation) the partial file is removed:

- a SOAP fault, as the whole body or as the root part → the `WsdFault`;
- a truncated, malformed or oversized body → `ErrorKind.PROTOCOL`;
- no data for `stall_timeout` seconds → `ErrorKind.TIMEOUT`. The body of a scan arrives as
  fast as the sheet is scanned, so the caller should not put a total timeout on the request
  (use `aiohttp.ClientTimeout(total=None, sock_connect=…)`) and rely on this bound instead.

Tolerated device framings: no CRLF before a delimiter, header lines without a space after
the colon or with bare LF line ends, quoted or unquoted `boundary`/`start` parameters, the
2004/08 and 2003/12 XOP namespaces, the image named by `xop:Include href="cid:…"` or just
being the first part after the root, and a non-MTOM response carrying the image inline as
base64 `ScanData`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
import os
from pathlib import Path
from typing import Final
from urllib.parse import unquote

import aiohttp
from aiohttp import hdrs
from aiohttp.helpers import parse_mimetype

from .document import sniff_image_format
from .exceptions import ErrorKind, WsdError
from .models import ImageFormat
from .soap import read_bounded
from .xml import MAX_MESSAGE_SIZE, Envelope, find, parse_envelope, text

#: Default bound on silence while the body arrives; the Epson WorkForce WF-3640 streams its
#: chunked MTOM body slowly while it scans (airscand quirks/epson.py).
STALL_TIMEOUT: Final = 60.0
#: Default cap of one image; an A4 page at 1200 dpi, 48-bit colour, uncompressed is 0.8 GB.
MAX_IMAGE_SIZE: Final = 2 * 1024**3
#: Image bytes collected before one executor write (memory per reader is about twice this).
WRITE_BATCH: Final = 1024 * 1024
#: Pieces collected before one executor write, at most: one `os.writev` takes at most
#: IOV_MAX (1024 on Linux and macOS) buffers, and a device trickling tiny HTTP chunks must
#: not pile up a million small objects before WRITE_BATCH bytes arrive.
MAX_BATCH_PIECES: Final = 1024
#: Limits on a part's header block.
MAX_HEADER_BLOCK: Final = 16 * 1024
_SNIFF_SIZE: Final = 16


@dataclass(frozen=True, slots=True)
class MtomResult:
    """What one RetrieveImage response delivered; the image itself is in the file."""

    envelope: Envelope
    size: int
    #: The Content-Type the device declared for the image part (not to be trusted).
    content_type: str | None
    image_format: ImageFormat


async def read_mtom(
    response: aiohttp.ClientResponse,
    image_path: Path,
    *,
    max_soap_size: int = MAX_MESSAGE_SIZE,
    max_image_size: int = MAX_IMAGE_SIZE,
    stall_timeout: float = STALL_TIMEOUT,
) -> MtomResult:
    """Stream a RetrieveImage response's image to `image_path`; see the module docstring."""
    mimetype = parse_mimetype(response.headers.get(hdrs.CONTENT_TYPE, ""))
    image = _ImageFile(image_path, max_image_size)
    try:
        try:
            if mimetype.type == "multipart":
                reader = _MultipartReader(
                    response.content,
                    mimetype.parameters.get("boundary", ""),
                    stall_timeout,
                )
                envelope, content_type = await _read_parts(
                    reader, mimetype.parameters.get("start"), image, max_soap_size
                )
            else:
                envelope, content_type = await _read_plain(
                    response, image, max_soap_size, stall_timeout
                )
            await image.close()
        except BaseException:
            await image.discard()
            raise
    except TimeoutError as err:
        raise WsdError(
            ErrorKind.TIMEOUT,
            f"the scanner sent nothing for {stall_timeout:g} s during the image",
        ) from err
    except aiohttp.ClientError as err:
        raise WsdError(
            ErrorKind.PROTOCOL, f"the image transfer broke off: {err}"
        ) from err
    return MtomResult(
        envelope=envelope,
        size=image.size,
        content_type=content_type,
        image_format=sniff_image_format(image.head),
    )


async def _read_parts(
    reader: _MultipartReader,
    start: str | None,
    image: _ImageFile,
    max_soap_size: int,
) -> tuple[Envelope, str | None]:
    """Find the root part and the image part; stream the image into `image`.

    The root is the part named by `start`, else the first part if it looks like XML. The
    image is the part named by the root's xop:Include, else the first other part (Canon
    MF746Cx, Dell C2665dnf send no matching Content-ID, sa#36, sa#65); a later part that
    matches the Include replaces such a stand-in.
    """
    root_id = _content_id(start)
    envelope: Envelope | None = None
    include_id: str | None = None
    image_id: str | None = None
    image_type: str | None = None
    await reader.skip_body(max_soap_size)  # the preamble
    first = True
    while (headers := await reader.next_part()) is not None:
        part_id = _content_id(headers.get("content-id"))
        part_type = headers.get("content-type", "")
        if envelope is None and _is_root(part_id, part_type, root_id, first=first):
            envelope = parse_envelope(
                await reader.read_body(max_soap_size), max_size=max_soap_size
            )
            if fault := envelope.fault():
                raise fault
            include_id = _content_id(_include_href(envelope))
        elif image_type is None or (
            include_id is not None and image_id != include_id == part_id
        ):
            if image_type is not None:
                await image.restart()
            image_id, image_type = part_id, part_type
            while (piece := await reader.read_piece()) is not None:
                await image.write(piece)
        else:
            await reader.skip_body(image.max_size)
        first = False
        if envelope is not None and include_id is not None and image_id == include_id:
            break
    if envelope is None:
        raise WsdError(ErrorKind.PROTOCOL, "the multipart response has no SOAP part")
    if image_type is None:
        await _write_inline_image(envelope, image)
    return envelope, image_type or None


async def _read_plain(
    response: aiohttp.ClientResponse,
    image: _ImageFile,
    max_soap_size: int,
    stall_timeout: float,
) -> tuple[Envelope, None]:
    """Read a response that is not multipart: a fault, or an image inlined as base64."""
    async with asyncio.timeout(stall_timeout):
        body = await read_bounded(response, max_soap_size)
    envelope = parse_envelope(body, max_size=max_soap_size)
    if fault := envelope.fault():
        raise fault
    await _write_inline_image(envelope, image)
    return envelope, None


async def _write_inline_image(envelope: Envelope, image: _ImageFile) -> None:
    """Decode `ScanData` written as base64 text (its schema type; Scan Service spec, RetrieveImageResponse)."""
    inline = text(envelope.body, ".//sca:ScanData")
    if inline is None:
        raise WsdError(ErrorKind.PROTOCOL, "the response carries no image")
    try:
        data = base64.b64decode(inline, validate=False)
    except binascii.Error as err:
        raise WsdError(ErrorKind.PROTOCOL, f"undecodable inline image: {err}") from err
    await image.write(data)


def _is_root(
    part_id: str | None, part_type: str, root_id: str | None, *, first: bool
) -> bool:
    """Whether a part is the SOAP root: named by `start`, else the first, XML-typed part."""
    if root_id is not None and part_id == root_id:
        return True
    return first and (root_id is None or not part_type or "xml" in part_type.lower())


def _include_href(envelope: Envelope) -> str | None:
    """Return the href of the root part's xop:Include (2003/12 is read as 2004/08)."""
    include = find(envelope.body, ".//xop:Include")
    return None if include is None else include.get("href")


def _content_id(value: str | None) -> str | None:
    """Normalise a Content-ID, `start` parameter or `cid:` URL for comparison (RFC 2392)."""
    if value is None:
        return None
    value = value.strip()
    if value[:4].lower() == "cid:":
        value = unquote(value[4:])
    return value.strip().strip("<>").strip().casefold() or None


class _MultipartReader:
    """Cuts a multipart body into parts, tolerating real devices' framing bugs.

    Hand-written rather than aiohttp's MultipartReader/BodyPartReader, which find a
    delimiter only after a CRLF: the Xerox WorkCentre 3025 writes none before it (sa#71),
    so here a delimiter is found anywhere and a CRLF (or LF) before it is dropped. The same
    readers also fail on a part's last line not ending in CRLF and treat any delimiter
    variation as fatal ("RetrieveImageRequest: invalid response", Canon MF745C, sa#36).
    """

    def __init__(
        self, content: aiohttp.StreamReader, boundary: str, stall_timeout: float
    ) -> None:
        """Read from `content`; `boundary` comes from the Content-Type header."""
        if not boundary:
            raise WsdError(ErrorKind.PROTOCOL, "multipart response without a boundary")
        self._content = content
        self._delimiter = b"--" + boundary.encode("utf-8", "replace")
        #: Bytes kept back from a piece: a delimiter may begin in them, with its CRLF.
        self._keep = len(self._delimiter) + 1
        self._stall_timeout = stall_timeout
        self._buffer = b""
        self._at_delimiter = False

    async def _receive(self) -> bytes:
        """Return the next chunk of the body."""
        async with asyncio.timeout(self._stall_timeout):
            chunk = await self._content.readany()
        if not chunk:
            raise WsdError(ErrorKind.PROTOCOL, "the multipart response is truncated")
        return chunk

    async def read_piece(self) -> memoryview | None:
        """Return the next piece of the current part's body, or None at its end."""
        if self._at_delimiter:
            return None
        while True:
            data = self._buffer
            index = data.find(self._delimiter)
            if index >= 0:
                self._buffer = data[index + len(self._delimiter) :]
                self._at_delimiter = True
                if data.endswith(b"\r\n", 0, index):
                    index -= 2
                elif data.endswith(b"\n", 0, index):
                    index -= 1
                return memoryview(data)[:index]
            if len(data) > self._keep:
                self._buffer = data[-self._keep :]
                return memoryview(data)[: -self._keep]
            chunk = await self._receive()
            # Only a delimiter that starts in the kept bytes or the chunk's first two
            # (with its CRLF in the kept bytes) needs both; else the chunk is not copied.
            if self._delimiter in data + chunk[: len(self._delimiter) + 1]:
                self._buffer = data + chunk
                continue
            self._buffer = chunk
            if data:
                return memoryview(data)

    async def read_body(self, limit: int) -> bytes:
        """Return the rest of the current part's body, failing beyond `limit` bytes."""
        body = bytearray()
        while (piece := await self.read_piece()) is not None:
            body += piece
            if len(body) > limit:
                raise WsdError(ErrorKind.PROTOCOL, f"a MIME part exceeds {limit} bytes")
        return bytes(body)

    async def skip_body(self, limit: int) -> None:
        """Discard the rest of the current part's body, failing beyond `limit` bytes."""
        skipped = 0
        while (piece := await self.read_piece()) is not None:
            skipped += len(piece)
            if skipped > limit:
                raise WsdError(ErrorKind.PROTOCOL, f"a MIME part exceeds {limit} bytes")

    async def next_part(self) -> dict[str, str] | None:
        """After a body, return the next part's headers, or None after the last part."""
        while len(self._buffer) < 2:
            self._buffer += await self._receive()
        self._at_delimiter = False
        if self._buffer.startswith(b"--"):
            return None
        await self._read_line()  # transport padding after the delimiter
        headers: dict[str, str] = {}
        name = ""
        block = 0
        while line := await self._read_line():
            block += len(line)
            if block > MAX_HEADER_BLOCK:
                raise WsdError(ErrorKind.PROTOCOL, "oversized MIME part headers")
            if line[0] in b" \t" and name:  # folded continuation line
                headers[name] += " " + line.strip().decode("latin-1")
                continue
            # Epson WorkForce WF-3640 writes "Content-Type:image/jpeg" (no space).
            raw_name, colon, value = line.partition(b":")
            if not colon:
                raise WsdError(ErrorKind.PROTOCOL, "malformed MIME part header")
            name = raw_name.strip().decode("latin-1").lower()
            headers[name] = value.strip().decode("latin-1")
        return headers

    async def _read_line(self) -> bytes:
        """Consume one line, returned without its CRLF or bare LF ending."""
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > MAX_HEADER_BLOCK:
                raise WsdError(ErrorKind.PROTOCOL, "oversized MIME part headers")
            self._buffer += await self._receive()
        line = self._buffer[:end]
        self._buffer = self._buffer[end + 1 :]
        return line.removesuffix(b"\r")


class _ImageFile:
    """The image file: opened, written in batches and closed by the executor.

    A batch is the pieces as received (no copy), written with one `os.writev`: a buffered
    file object would make a system call, and retake the GIL from the event loop, for every
    piece instead.
    """

    def __init__(self, path: Path, max_size: int) -> None:
        """Prepare to write `path`, failing beyond `max_size` bytes."""
        self._path = path
        self.max_size = max_size
        self._loop = asyncio.get_running_loop()
        self._fd: int | None = None
        self._batch: list[memoryview | bytes] = []
        self._batch_size = 0
        self._writing: asyncio.Future[None] | None = None
        self.size = 0
        self.head = b""

    async def write(self, piece: memoryview | bytes) -> None:
        """Queue a piece of the image; write a batch in the executor when one is full."""
        if not piece:
            return
        self.size += len(piece)
        if self.size > self.max_size:
            raise WsdError(
                ErrorKind.PROTOCOL, f"the image exceeds {self.max_size} bytes"
            )
        if len(self.head) < _SNIFF_SIZE:
            self.head += bytes(piece[: _SNIFF_SIZE - len(self.head)])
        self._batch.append(piece)
        self._batch_size += len(piece)
        if self._batch_size >= WRITE_BATCH or len(self._batch) >= MAX_BATCH_PIECES:
            await self._flush()

    async def _flush(self) -> None:
        """Start writing the batch once the previous write is done."""
        if self._fd is None:
            self._fd = await self._loop.run_in_executor(None, _open, self._path)
        if self._writing is not None:
            await self._writing
        batch, self._batch, self._batch_size = self._batch, [], 0
        self._writing = self._loop.run_in_executor(None, _write_all, self._fd, batch)

    async def _drain(self) -> int:
        """Write everything queued; return the file descriptor."""
        await self._flush()
        assert self._writing is not None and self._fd is not None
        await self._writing
        return self._fd

    async def restart(self) -> None:
        """Drop what was written: another part turned out to be the image."""
        await self._loop.run_in_executor(None, _truncate, await self._drain())
        self.size = 0
        self.head = b""

    async def close(self) -> None:
        """Write what is left and close the file."""
        await self._loop.run_in_executor(None, os.close, await self._drain())

    async def discard(self) -> None:
        """Close and remove the file after a failure."""
        writing, fd = self._writing, self._fd
        if writing is not None:
            await asyncio.gather(writing, return_exceptions=True)
        await self._loop.run_in_executor(None, _close_and_remove, fd, self._path)


def _open(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)


def _write_all(fd: int, buffers: list[memoryview | bytes]) -> None:
    """Write non-empty `buffers` in order: one `writev`, more after a short write."""
    while buffers:
        written = os.writev(fd, buffers)
        done = 0
        while done < len(buffers) and written >= len(buffers[done]):
            written -= len(buffers[done])
            done += 1
        buffers = buffers[done:]
        if written:
            buffers[0] = memoryview(buffers[0])[written:]


def _truncate(fd: int) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)


def _close_and_remove(fd: int | None, path: Path) -> None:
    if fd is not None:
        os.close(fd)
    path.unlink(missing_ok=True)
