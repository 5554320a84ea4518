"""WS-Scan client: scanner elements, status and scan jobs.

`ScanClient` talks to one scan service: GetScannerElements (parsed by `elements`),
CreateScanJob with a ticket from `ticket.build_ticket`, RetrieveImage and CancelJob. A
`ScanJob` runs CreateScanJob (retried while the device warms up) and the RetrieveImage
loop, writing each page to a file and reporting it as it arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
import logging
from pathlib import Path
from typing import Final, TypedDict, Unpack

import aiohttp

from . import soap
from .elements import SECTIONS, parse_scanner_elements
from .exceptions import ErrorKind, WsdError, WsdFault, WsdHttpError
from .models import (
    ImageFormat,
    InputSource,
    ScannedPage,
    ScannerElements,
    ScannerState,
    ScannerStatus,
    ScanResult,
    ScanTicket,
)
from .mtom import read_mtom
from .quirks import NO_QUIRKS, DeviceQuirks
from .ticket import ticket_element
from .xml import (
    MAX_MESSAGE_SIZE,
    SCAN,
    Element,
    Envelope,
    build_envelope,
    element,
    sub,
    text,
)

_LOGGER = logging.getLogger(__name__)

#: Idle time allowed while an image streams in: devices may send it while still scanning.
IMAGE_IDLE_TIMEOUT: Final = 120.0
#: Time allowed for the clean-up CancelJob of an aborted job.
CANCEL_TIMEOUT: Final = 5.0

#: One file holds every page, so one RetrieveImage ends the job (WS-Scan Scan Service
#: Definition 1.0, Format element: the multi-page formats).
_MULTI_PAGE_FORMATS: Final = frozenset(
    {
        "pdf-a",
        "xps",
        "tiff-multi-uncompressed",
        "tiff-multi-g4",
        "tiff-multi-g3mh",
        "tiff-multi-jpeg-tn2",
    }
)

#: ScannerStateReasons and condition names, most specific first, and what they mean.
_PROBLEM_KINDS: Final = (
    ("MediaJam", ErrorKind.JAM),
    ("MultipleFeedError", ErrorKind.JAM),
    ("CoverOpen", ErrorKind.COVER_OPEN),
    ("InterlockOpen", ErrorKind.COVER_OPEN),
    ("InputTrayEmpty", ErrorKind.FEEDER_EMPTY),
    ("AttentionRequired", ErrorKind.ACTION_NEEDED),
    ("InternalStorageFull", ErrorKind.DEVICE_ERROR),
    ("LampError", ErrorKind.DEVICE_ERROR),
    ("Paused", ErrorKind.BUSY),
)
#: Warm-up states during which CreateScanJob is retried (the schema spells LampWarning).
_WARMING_UP: Final = frozenset({"Calibrating", "LampWarming", "LampWarning"})

_FAULT_KINDS: Final = {
    "ClientErrorNoImagesAvailable": ErrorKind.FEEDER_EMPTY,
    "ServerErrorTemporaryError": ErrorKind.BUSY,
    "ServerErrorNotAcceptingJobs": ErrorKind.BUSY,
    "ClientErrorFormatNotSupported": ErrorKind.UNSUPPORTED,
    "ClientErrorDocumentFormatNotSupported": ErrorKind.UNSUPPORTED,
    "ActionNotSupported": ErrorKind.UNSUPPORTED,
    "InvalidArgs": ErrorKind.INVALID_ARGUMENT,
    "ClientErrorConflictingRequiredParameters": ErrorKind.INVALID_ARGUMENT,
    "ClientErrorInvalidScanIdentifier": ErrorKind.STALE_DESTINATION,
    "ClientErrorInvalidDestinationToken": ErrorKind.STALE_DESTINATION,
    "ClientErrorJobCancelled": ErrorKind.CANCELLED,
    # Canon MF244dw/MF260, Ricoh MP C3003, Xerox B215 answer this while WSD scanning is
    # switched off in their web UI (sane-airscan #32, #54, #294).
    "OperationFailed": ErrorKind.SCANNING_DISABLED,
}

#: Faults that end a feeder job once at least one page arrived: the standard one, and
#: ClientErrorJobIdNotFound from Ricoh Aficio MP 201 (sane-airscan #334).
_END_OF_FEEDER: Final = frozenset(
    {"ClientErrorNoImagesAvailable", "ClientErrorJobIdNotFound"}
)
#: Faults saying the device no longer runs the job (no CancelJob after them).
_JOB_GONE: Final = frozenset({"ClientErrorJobIdNotFound", "ClientErrorJobCancelled"})
#: HTTP statuses of a server that no longer knows the job (RFC 9110 §15.5.5, §15.5.11).
_GONE: Final = frozenset({404, 410})


class ScanJobError(WsdError):
    """A scan job failed; the pages received before the failure are kept on disk."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        pages: tuple[ScannedPage, ...] = (),
        subcode: str | None = None,
    ) -> None:
        """Describe the failure, the pages kept and the device's fault subcode."""
        super().__init__(kind, message)
        self.pages = pages
        self.subcode = subcode


def status_problem(status: ScannerStatus) -> ErrorKind | None:
    """Return the error kind the scanner's state reasons and conditions point to."""
    problems = status.problems
    return next((kind for name, kind in _PROBLEM_KINDS if name in problems), None)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How CreateScanJob is retried while the device warms up or is busy.

    sane-airscan retries every second, 30 times; this backs off a little instead.
    """

    attempts: int = 30
    initial_delay: float = 1.0
    max_delay: float = 4.0
    factor: float = 1.5

    def delay(self, attempt: int) -> float:
        """Return the pause after the `attempt`-th failure (1-based)."""
        return min(self.initial_delay * self.factor ** (attempt - 1), self.max_delay)


@dataclass(frozen=True, slots=True)
class CreatedJob:
    """What CreateScanJob returned."""

    job_id: str
    job_token: str


def _is_multipart(response: aiohttp.ClientResponse) -> bool:
    return response.content_type.lower().startswith("multipart/")


# --- client -----------------------------------------------------------------------------

type Sleep = Callable[[float], Awaitable[None]]
type PageCallback = Callable[[ScannedPage], None]


class JobOptions(TypedDict, total=False):
    """How a job reports and names its pages; push scans carry the event's values."""

    on_page: PageCallback | None
    scan_identifier: str | None
    destination_token: str | None
    file_stem: str


class ScanClient:
    """A client of one WS-Scan service."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        timeout: float = soap.REQUEST_TIMEOUT,
        image_idle_timeout: float = IMAGE_IDLE_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - immutable
        sleep: Sleep = asyncio.sleep,
        quirks: DeviceQuirks = NO_QUIRKS,
    ) -> None:
        """Use `session` to talk to the scan service at `url`.

        `quirks` are the device's entries of the quirk table (`quirks_for`); pass the
        same to `build_ticket`.
        """
        self.session = session
        self.quirks = quirks
        self.url = url
        self.timeout = timeout
        self.image_idle_timeout = image_idle_timeout
        self.retry = retry
        self.sleep = sleep

    async def call(self, operation: str, body: Element) -> Envelope:
        """Send one WS-Scan request and return the answer (faults raise `WsdFault`)."""
        payload = build_envelope(f"{SCAN}/{operation}", self.url, body)
        envelope = await soap.post(
            self.session, self.url, payload, timeout=self.timeout
        )
        if envelope is None or envelope.payload is None:
            raise WsdError(ErrorKind.PROTOCOL, f"empty answer to {operation}")
        return envelope

    async def get_elements(self, sections: Iterable[str] = SECTIONS) -> ScannerElements:
        """Run GetScannerElements for the given sections."""
        request = element("sca:GetScannerElementsRequest")
        names = sub(request, "sca:RequestedElements")
        for section in sections:
            sub(names, "sca:Name", f"sca:{section}")
        envelope = await self.call("GetScannerElements", request)
        assert envelope.payload is not None
        return parse_scanner_elements(envelope.payload)

    async def check_reachable(self) -> None:
        """Check that the scan service accepts connections (no request is sent)."""
        await soap.check_reachable(self.url, timeout=self.timeout)

    async def get_status(self) -> ScannerStatus:
        """Return the scanner's current status."""
        elements = await self.get_elements(("ScannerStatus",))
        if elements.status is None:
            raise WsdError(ErrorKind.PROTOCOL, "the scanner did not report its status")
        return elements.status

    async def create_job(
        self,
        ticket: ScanTicket,
        *,
        scan_identifier: str | None = None,
        destination_token: str | None = None,
    ) -> CreatedJob:
        """Run CreateScanJob once (push scans carry the event's identifier and token)."""
        request = element("sca:CreateScanJobRequest")
        if scan_identifier is not None:
            sub(request, "sca:ScanIdentifier", scan_identifier)
        if destination_token is not None:
            sub(request, "sca:DestinationToken", destination_token)
        request.append(ticket_element(ticket))
        envelope = await self.call("CreateScanJob", request)
        job_id = text(envelope.payload, "sca:JobId")
        job_token = text(envelope.payload, "sca:JobToken")
        if job_id is None or job_token is None:
            raise WsdError(ErrorKind.PROTOCOL, "CreateScanJob answer without a job")
        return CreatedJob(job_id, job_token)

    async def cancel_job(self, job_id: str) -> None:
        """Run CancelJob."""
        request = element("sca:CancelJobRequest")
        sub(request, "sca:JobId", job_id)
        payload = build_envelope(f"{SCAN}/CancelJob", self.url, request)
        await soap.post(self.session, self.url, payload, timeout=self.timeout)

    async def retrieve_image(
        self, job: CreatedJob, document_name: str, path: Path
    ) -> tuple[int, ImageFormat]:
        """Run RetrieveImage, streaming the image into `path`; return size and format.

        Faults (in any HTTP status) raise `WsdFault`; a partial file is removed.
        """
        request = element("sca:RetrieveImageRequest")
        sub(request, "sca:JobId", job.job_id)
        sub(request, "sca:JobToken", job.job_token)
        sub(sub(request, "sca:DocumentDescription"), "sca:DocumentName", document_name)
        payload = build_envelope(f"{SCAN}/RetrieveImage", self.url, request)
        # No total timeout: the image streams while the sheet is scanned; read_mtom
        # bounds the silence instead.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout)
        try:
            async with soap.exchange(
                self.session, self.url, payload, timeout=timeout
            ) as response:
                if not 200 <= response.status < 300 and not _is_multipart(response):
                    async with asyncio.timeout(self.timeout):
                        body = await soap.read_answer(response, MAX_MESSAGE_SIZE)
                    raise soap.error_answer(response.status, response.reason, body)
                result = await read_mtom(
                    response, path, stall_timeout=self.image_idle_timeout
                )
        except (aiohttp.ClientError, TimeoutError) as err:
            # Only transport failures: an OSError from writing the page is a disk problem.
            raise soap.connection_error(self.url, err) from err
        return result.size, result.image_format

    def job(
        self, ticket: ScanTicket, directory: Path, **options: Unpack[JobOptions]
    ) -> ScanJob:
        """Prepare a scan job; `await job.run()` runs it, `job.cancel()` stops it."""
        return ScanJob(self, ticket, directory, **options)

    async def scan(
        self, ticket: ScanTicket, directory: Path, **options: Unpack[JobOptions]
    ) -> ScanResult:
        """Run a scan job to its end."""
        return await self.job(ticket, directory, **options).run()


class ScanJob:
    """One scan job: CreateScanJob, then RetrieveImage until the last page.

    Pages are written to `directory` as `<file_stem>-<n>.<ext>` (the extension from the
    sniffed bytes, never from the device's word) and reported to `on_page` as they arrive.
    """

    def __init__(
        self,
        client: ScanClient,
        ticket: ScanTicket,
        directory: Path,
        *,
        on_page: PageCallback | None = None,
        scan_identifier: str | None = None,
        destination_token: str | None = None,
        file_stem: str = "page",
    ) -> None:
        """Prepare the job; nothing is sent before `run`."""
        self.client = client
        self.ticket = ticket
        self.directory = directory
        self.on_page = on_page
        self.scan_identifier = scan_identifier
        self.destination_token = destination_token
        self.file_stem = file_stem
        self.pages: list[ScannedPage] = []
        self.job_id: str | None = None
        self._task: asyncio.Task[object] | None = None
        self._cancel_requested = False
        #: Whether the device ended the job itself (nothing to cancel).
        self._device_done = False

    @property
    def _feeder(self) -> bool:
        return self.ticket.input_source is not InputSource.PLATEN

    @property
    def cancel_requested(self) -> bool:
        """Whether `cancel` was called."""
        return self._cancel_requested

    def cancel(self) -> None:
        """Stop the job: `run` sends CancelJob and raises `ScanJobError(CANCELLED)`."""
        if self._cancel_requested:
            return
        self._cancel_requested = True
        if self._task is not None:
            self._task.cancel()

    async def run(self) -> ScanResult:
        """Run the job; failures raise `ScanJobError` carrying the pages received.

        Cancelling the task running it sends CancelJob too and raises CancelledError;
        the pages received stay on disk and in `pages`.
        """
        self._refuse_if_cancelled()
        self._task = asyncio.current_task()
        job: CreatedJob | None = None
        self._device_done = False
        try:
            job = await self._create()
            self.job_id = job.job_id
            await self._retrieve_pages(job)
            self._device_done = True
            if self.cancel_requested and (task := asyncio.current_task()):
                # Cancelled after the last page (from `on_page`): nothing left to stop.
                task.uncancel()
            return ScanResult(job.job_id, self.ticket, tuple(self.pages))
        except ScanJobError:
            raise
        except WsdError as err:
            raise ScanJobError(err.kind, str(err), pages=tuple(self.pages)) from err
        except OSError as err:
            raise ScanJobError(
                ErrorKind.STORAGE,
                f"cannot write the scanned page: {err.strerror or err}",
                pages=tuple(self.pages),
            ) from err
        except asyncio.CancelledError:
            if not self.cancel_requested:
                raise
            task = asyncio.current_task()
            assert task is not None
            task.uncancel()
            raise ScanJobError(
                ErrorKind.CANCELLED, "the scan was cancelled", pages=tuple(self.pages)
            ) from None
        finally:
            self._task = None
            # Xerox VersaLink B405 stays busy for long after a CancelJob of a job that
            # already delivered everything: only jobs the device may still run are
            # cancelled.
            if job is not None and not self._device_done:
                await self._cancel_quietly(job.job_id)

    def _refuse_if_cancelled(self) -> None:
        if self._cancel_requested:
            raise ScanJobError(ErrorKind.CANCELLED, "the scan was cancelled")

    async def _cancel_quietly(self, job_id: str) -> None:
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT):
                await self.client.cancel_job(job_id)
        except (WsdError, TimeoutError) as err:
            # Devices fault CancelJob for jobs they already ended; nothing to do.
            _LOGGER.debug("CancelJob %s failed: %s", job_id, err)

    async def _create(self) -> CreatedJob:
        policy = self.client.retry
        for attempt in range(1, policy.attempts + 1):
            try:
                return await self.client.create_job(
                    self.ticket,
                    scan_identifier=self.scan_identifier,
                    destination_token=self.destination_token,
                )
            except WsdHttpError as err:
                if self._feeder and err.status == HTTPStatus.NOT_FOUND:
                    # A web server that answers faults as bare HTTP statuses says
                    # ClientErrorNoImagesAvailable with 404 Not Found (RFC 9110
                    # §15.5.5): at CreateScanJob of a feeder job, the feeder is empty.
                    raise ScanJobError(
                        ErrorKind.FEEDER_EMPTY,
                        _describe(ErrorKind.FEEDER_EMPTY, err),
                    ) from err
                if err.kind is not ErrorKind.BUSY:
                    raise
                _LOGGER.debug("CreateScanJob attempt %d: %s; retrying", attempt, err)
            except WsdFault as fault:
                kind = await self._explain_create_fault(fault)
                if kind is not None:
                    raise ScanJobError(
                        kind, _describe(kind, fault), subcode=fault.subcode
                    ) from fault
                _LOGGER.debug("CreateScanJob attempt %d: %s; retrying", attempt, fault)
            if attempt < policy.attempts:
                await self.client.sleep(policy.delay(attempt))
        raise ScanJobError(
            ErrorKind.BUSY,
            f"the scanner stayed busy through {policy.attempts} attempts",
        )

    async def _explain_create_fault(self, fault: WsdFault) -> ErrorKind | None:
        """Return why CreateScanJob failed, or None when it is worth retrying."""
        if fault.subcode == "ServerErrorTemporaryError":
            return None
        if fault.subcode not in {"ServerErrorNotAcceptingJobs", "OperationFailed"}:
            return _FAULT_KINDS.get(fault.subcode, ErrorKind.DEVICE_ERROR)
        status = await self._status_or_none()
        if status is None:
            return _FAULT_KINDS[fault.subcode]
        if status.problems & _WARMING_UP:
            return None
        if (problem := status_problem(status)) is not None:
            return None if problem is ErrorKind.BUSY else problem
        if fault.subcode == "OperationFailed":
            return ErrorKind.SCANNING_DISABLED
        if status.state is ScannerState.PROCESSING:
            return None  # busy with another job
        if self._feeder:
            # Canon MF410 series reports an empty feeder this way, with state Idle.
            return ErrorKind.FEEDER_EMPTY
        # Kyocera (WSD mode) refuses jobs until Send → WSD Scan → From Computer is chosen
        # on its panel (sane-airscan #258).
        return ErrorKind.ACTION_NEEDED

    async def _status_or_none(self) -> ScannerStatus | None:
        try:
            return await self.client.get_status()
        except WsdError as err:
            _LOGGER.debug("cannot read the scanner status: %s", err)
            return None

    async def _retrieve_pages(self, job: CreatedJob) -> None:
        """Retrieve images back to back.

        The device drops a job whose next RetrieveImage does not come within 60 seconds
        (WS-Scan Scan Service Definition 1.0 §6.2, CreateScanJobResponse).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            index = len(self.pages) + 1
            part = self.directory / f"{self.file_stem}-{index:03d}.part"
            try:
                size, image_format = await self.client.retrieve_image(
                    job, f"{self.file_stem}-{index:03d}", part
                )
            except (WsdFault, WsdHttpError) as err:
                if not await self._batch_ended(err):
                    raise await self._page_error(err) from err
                self._device_done = True
                if self.pages:
                    return
                raise ScanJobError(
                    ErrorKind.FEEDER_EMPTY,
                    _describe(ErrorKind.FEEDER_EMPTY, err),
                    subcode=_subcode(err),
                ) from err
            if size == 0:
                part.unlink()
                # Epson ES-580W ends a feeder job with an empty image instead of a fault.
                if self._feeder and self.pages:
                    return
                raise ScanJobError(
                    ErrorKind.FEEDER_EMPTY if self._feeder else ErrorKind.DEVICE_ERROR,
                    "the scanner sent an empty image",
                    pages=tuple(self.pages),
                )
            path = part.with_suffix(f".{image_format.extension}")
            part.replace(path)
            page = ScannedPage(index, path, image_format, size)
            self.pages.append(page)
            if self.on_page is not None:
                self.on_page(page)
            if self._last_page():
                return

    def _last_page(self) -> bool:
        if not self._feeder or self.ticket.format in _MULTI_PAGE_FORMATS:
            return True
        wanted = self.ticket.images_to_transfer
        # The quirk table's stand-in for "until the feeder is empty" is no page count:
        # the device ends the batch.
        return (
            0 < wanted <= len(self.pages) and wanted != self.client.quirks.feeder_images
        )

    async def _batch_ended(self, err: WsdFault | WsdHttpError) -> bool:
        """Whether a RetrieveImage failure is the device's way to end a feeder batch."""
        if not self._feeder:
            return False
        if isinstance(err, WsdHttpError):
            # A server that no longer knows the job once its pages are gone.
            return err.status in _GONE
        if err.subcode in _END_OF_FEEDER:
            return True
        if err.subcode != "ServerErrorNotAcceptingJobs":
            return False
        # Canon MF410 series ends the batch this way, with ScannerState Idle (sane-airscan
        # #98, commit c32769b); Processing would mean another job took over.
        status = await self._status_or_none()
        return (
            status is not None
            and status.state is ScannerState.IDLE
            and status_problem(status) is None
        )

    async def _page_error(self, err: WsdFault | WsdHttpError) -> ScanJobError:
        """Explain a RetrieveImage failure, asking the scanner's status if needed."""
        pages = tuple(self.pages)
        if isinstance(err, WsdHttpError):
            self._device_done = err.status in _GONE
            return ScanJobError(err.kind, str(err), pages=pages)
        if err.subcode in _JOB_GONE:
            self._device_done = True
            kind: ErrorKind | None = _FAULT_KINDS.get(err.subcode)
        else:
            status = await self._status_or_none()
            # An idle scanner has no job left to cancel.
            self._device_done = status is not None and status.state is ScannerState.IDLE
            kind = status_problem(status) if status is not None else None
        kind = kind or _FAULT_KINDS.get(err.subcode, ErrorKind.DEVICE_ERROR)
        return ScanJobError(
            kind, _describe(kind, err), pages=pages, subcode=err.subcode
        )


_MESSAGES: Final = {
    ErrorKind.FEEDER_EMPTY: "the document feeder is empty",
    ErrorKind.JAM: "paper is jammed in the scanner",
    ErrorKind.COVER_OPEN: "a cover of the scanner is open",
    ErrorKind.BUSY: "the scanner is busy",
    ErrorKind.ACTION_NEEDED: (
        "the scanner wants the scan started from its panel (for example "
        "Send → WSD Scan → From Computer)"
    ),
    ErrorKind.SCANNING_DISABLED: "WSD scanning is switched off in the scanner's settings",
    ErrorKind.CANCELLED: "the scan was cancelled",
}


def _subcode(err: WsdError) -> str | None:
    return err.subcode if isinstance(err, WsdFault) else None


def _describe(kind: ErrorKind, err: WsdError) -> str:
    """Return a user-facing message naming the cause and the device's fault or answer."""
    cause = _MESSAGES.get(kind, "the scanner refused the scan")
    if isinstance(err, WsdFault):
        details = ": ".join(
            part for part in (err.subcode or err.code, err.reason) if part
        )
    else:
        details = str(err)
    return f"{cause} ({details})" if details else cause
