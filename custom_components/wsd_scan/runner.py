"""Scan jobs started from Home Assistant: one at a time per scanner, kept in the library.

A second scan while one runs is refused at once with a translated `busy` error instead of
waiting: a double-pressed button must not scan twice, an automation learns immediately
that the scanner is taken, and `wsd_scan.cancel` always means the one running job.

Pages stream from the socket into a work folder (the library writes them there), are
assembled off the event loop and stored by `ScanStorage`. When a job fails, the pages
received before are stored all the same and the error says how many and where.

Pages that cannot become the format asked for (a scanner that only sends PDF, asked for
JPEG) are stored as the scanner delivered them, and the scan ends in the translated
`scan_not_converted` error naming the files: they are in the library and shown as the
last scan, but not what the action asked for, so an automation does not go on with a
file of another type unawares. A job that failed reports its own error instead.

Scans for the post-scan endpoint or Paperless-ngx are stored first, then uploaded from
the library (the scanner counts as busy until the upload ends, and `wsd_scan.cancel`
stops it). A failed upload leaves them in the library. Scans only for the endpoint or
Paperless leave it once uploaded.

Blank pages are left out when asked (`skip_blank`, a sensitivity): storage assembles only
the others, and the scan says how many it left out.

The runner reports how its scans go to a `ScanObserver`: a `ScanActivity` keeps what Home
Assistant shows of scans (the latest job, the last scan, the upload), apart from the
scanner's own status (the coordinator's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
import logging
from pathlib import Path
import time
from typing import Any, Final, Protocol

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
import yarl

from .const import DOMAIN, Destination
from .paperless import PaperlessDocument, PaperlessFields, PaperlessTarget
from .post_scan import PostScanTarget
from .storage import (
    DEFAULT_FILE_NAME,
    ScanStorage,
    StoredScan,
    render_file_name,
    storage_error,
)
from .wsd import (
    ColorMode,
    DocumentFormat,
    ErrorKind,
    JobState,
    PostScanJobStatus,
    ScanClient,
    ScanJob,
    ScanJobError,
    ScannedPage,
    ScannerCapabilities,
    ScannerStatus,
    ScanSettings,
    ScanSource,
    ScanTicket,
    WsdError,
    build_ticket,
)
from .wsd.models import JobEndStateEvent, JobStatusEvent

_LOGGER = logging.getLogger(__name__)

#: Errors that are the request's fault, not the scanner's.
_INVALID_REQUEST: Final = frozenset({ErrorKind.UNSUPPORTED, ErrorKind.INVALID_ARGUMENT})


class ScanObserver(Protocol):
    """Hears how the runner's scans go."""

    def async_job_progress(self, job_id: str, state: JobState, pages: int) -> None:
        """Hear that a job started here received a page, or ended."""

    def async_scan_stored(self, scan: StoredScan | None) -> None:
        """Hear of a scan stored, or removed (then the newest one left; None: none)."""

    def async_post_scan_progress(self, status: PostScanJobStatus) -> None:
        """Hear how the upload of a scan to the post-scan endpoint goes."""

    def async_paperless_documents(
        self, documents: tuple[PaperlessDocument, ...]
    ) -> None:
        """Hear of the documents Paperless-ngx made of a scan."""


@dataclass(frozen=True, slots=True)
class JobProgress:
    """The scan job heard of last."""

    job_id: str
    state: JobState
    reasons: tuple[str, ...] = ()
    #: Images scanned so far (ScansCompleted), when known.
    pages: int | None = None


class ScanActivity(ScanObserver):
    """What Home Assistant knows of a scanner's scans; known while the scanner is away.

    Hears the runner and the scanner's job events: both report the same jobs, and
    the page count only grows (events and received pages race).
    """

    def __init__(self) -> None:
        """Start knowing of no scan."""
        self.job: JobProgress | None = None
        self.last_scan: StoredScan | None = None
        #: The post-scan job of the latest scan handed to the endpoint.
        self.post_scan: PostScanJobStatus | None = None
        #: The documents Paperless-ngx made of the latest scan handed to it.
        self.paperless: tuple[PaperlessDocument, ...] = ()
        self._listeners: list[CALLBACK_TYPE] = []

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener` on every change; return the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_job_event(self, event: JobStatusEvent | JobEndStateEvent) -> None:
        """Show what the scanner said about a job."""
        self._show_job(
            JobProgress(
                event.job_id,
                event.state,
                event.reasons,
                self._pages(event.job_id, event.scans_completed),
            )
        )

    @callback
    def async_job_progress(self, job_id: str, state: JobState, pages: int) -> None:
        """Show how a job started here is going (pages as they arrive, its end)."""
        known = self.job
        reasons = (
            known.reasons
            if known is not None and (known.job_id, known.state) == (job_id, state)
            else ()
        )
        self._show_job(JobProgress(job_id, state, reasons, self._pages(job_id, pages)))

    @callback
    def async_scan_stored(self, scan: StoredScan | None) -> None:
        """Show a newly stored scan as the last one (None: the library has none)."""
        self.last_scan = scan
        self._changed()

    @callback
    def async_post_scan_progress(self, status: PostScanJobStatus) -> None:
        """Show how handing a scan to the post-scan endpoint goes."""
        self.post_scan = status
        self._changed()

    @callback
    def async_paperless_documents(
        self, documents: tuple[PaperlessDocument, ...]
    ) -> None:
        """Show the documents Paperless-ngx made of a scan."""
        self.paperless = documents
        self._changed()

    def _pages(self, job_id: str, pages: int | None) -> int | None:
        known = self.job
        if known is None or known.job_id != job_id or known.pages is None:
            return pages
        return known.pages if pages is None else max(known.pages, pages)

    def _show_job(self, job: JobProgress) -> None:
        self.job = job
        self._changed()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """A finished scan: what was stored, and what the post-scan endpoint said."""

    scan: StoredScan
    post_scan: PostScanJobStatus | None = None
    #: The documents Paperless-ngx made of the scan's files.
    paperless: tuple[PaperlessDocument, ...] = ()
    #: Whether the files stay in the media library (not for scans only handed over).
    kept: bool = True
    #: Whether `auto` found the feeder empty and scanned the glass instead.
    glass_instead_of_feeder: bool = False


class ScanRunner:
    """Runs one scanner's scan jobs, one at a time, and stores what they deliver."""

    def __init__(
        self,
        hass: HomeAssistant,
        name: str,
        client: ScanClient,
        storage: ScanStorage,
        capabilities: ScannerCapabilities | None,
        *,
        status: Callable[[], ScannerStatus],
        observer: ScanObserver,
        post_scan: PostScanTarget | None = None,
        paperless: PaperlessTarget | None = None,
    ) -> None:
        """Scan with `client` on scanner `name`; `status()` is its current status."""
        self.hass = hass
        self.name = name
        self.status = status
        self.observer = observer
        self.client = client
        self.storage = storage
        self.capabilities = capabilities
        self.post_scan = post_scan
        self.paperless = paperless
        self._busy = False
        self._job: ScanJob | None = None
        self._upload: asyncio.Task[Any] | None = None

    @property
    def busy(self) -> bool:
        """Whether a scan runs (the job, or handing its files to the post-scan endpoint)."""
        return self._busy

    @callback
    def async_cancel(self) -> None:
        """Cancel the running job or upload, if any; the pages are kept."""
        if self._job is not None:
            self._job.cancel()
        if self._upload is not None:
            self._upload.cancel()

    async def async_scan(
        self,
        settings: ScanSettings,
        file_name: str = DEFAULT_FILE_NAME,
        *,
        destination: Destination = Destination.MEDIA,
        scan_identifier: str | None = None,
        destination_token: str | None = None,
        skip_blank: int | None = None,
        paperless_fields: PaperlessFields = PaperlessFields(),
    ) -> ScanOutcome:
        """Scan, store the document, hand it to the post-scan endpoint if asked.

        A scan started on the scanner's panel passes the event's `scan_identifier` and
        the `destination_token` of the chosen panel entry. With `skip_blank` (a
        sensitivity), blank pages are left out. Paperless-ngx documents get
        `paperless_fields`.

        Raises a translated `HomeAssistantError` (`ServiceValidationError` for requests
        the scanner cannot fulfil) naming the cause and the pages kept.
        """
        if self._busy:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="busy",
                translation_placeholders={"name": self.name},
            )
        to_post_scan = destination in {Destination.POST_SCAN, Destination.BOTH}
        to_paperless = destination in {
            Destination.PAPERLESS,
            Destination.MEDIA_AND_PAPERLESS,
        }
        if (to_post_scan and self.post_scan is None) or (
            to_paperless and self.paperless is None
        ):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=(
                    "no_post_scan_endpoint" if to_post_scan else "no_paperless"
                ),
                translation_placeholders={"name": self.name},
            )
        self._busy = True
        post_scan: PostScanJobStatus | None = None
        documents: tuple[PaperlessDocument, ...] = ()
        glass = False
        try:
            try:
                scan = await self._scan(
                    settings, file_name, scan_identifier, destination_token, skip_blank
                )
            except HomeAssistantError as err:
                if not self._glass_instead(settings, err):
                    raise
                # Many scanners never report an empty feeder, so `auto` picked it.
                _LOGGER.info("%s: the feeder is empty; scanning the glass", self.name)
                glass = True
                scan = await self._scan(
                    replace(settings, source=ScanSource.PLATEN),
                    file_name,
                    scan_identifier,
                    destination_token,
                    skip_blank,
                )
            if self.post_scan is not None and to_post_scan:
                post_scan = await self._hand_over(
                    scan,
                    self.post_scan.async_send(
                        scan, self.observer.async_post_scan_progress
                    ),
                )
            if self.paperless is not None and to_paperless:
                documents = await self._hand_over(
                    scan, self.paperless.async_send(scan, paperless_fields)
                )
                self.observer.async_paperless_documents(documents)
        finally:
            self._busy = False
        if not destination.keeps_media:
            await self.storage.async_remove(scan)
            self.observer.async_scan_stored(await self.storage.async_latest())
        return ScanOutcome(
            scan,
            post_scan,
            documents,
            kept=destination.keeps_media,
            glass_instead_of_feeder=glass,
        )

    def _glass_instead(self, settings: ScanSettings, err: HomeAssistantError) -> bool:
        """Whether an `auto` scan that found the feeder empty can use the glass."""
        return (
            settings.source is ScanSource.AUTO
            and err.translation_key == f"scan_{ErrorKind.FEEDER_EMPTY}"
            and self.capabilities is not None
            and self.capabilities.platen is not None
        )

    async def _scan(
        self,
        settings: ScanSettings,
        file_name: str,
        scan_identifier: str | None,
        destination_token: str | None,
        skip_blank: int | None,
    ) -> StoredScan:
        """Run the job and store its pages (without the blank ones, if asked)."""
        name = render_file_name(
            file_name, device=self.storage.device, when=dt_util.now()
        )
        ticket = self._ticket(settings)
        work = self.storage.work_folder()
        job = self._job = self.client.job(
            ticket,
            work,
            on_page=self._page_received,
            scan_identifier=scan_identifier,
            destination_token=destination_token,
        )
        created = dt_util.utcnow()
        started = time.monotonic()
        failure: ScanJobError | None = None
        try:
            await self.storage.async_check()
            try:
                pages = (await job.run()).pages
            except ScanJobError as err:
                pages, failure = err.pages, err
            self._show_end(job, failure, len(pages))
            scan = (
                await self._store(
                    pages,
                    work,
                    name,
                    settings.format,
                    resolution=ticket.resolution,
                    created=created,
                    complete=failure is None,
                    duration=round(time.monotonic() - started, 3),
                    color=settings.color,
                    skip_blank=skip_blank,
                )
                if pages
                else None
            )
        finally:
            self._job = None
            await self.storage.async_discard(work)
        if failure is not None:
            raise self._error(failure, scan)
        assert scan is not None  # a finished job has pages
        if scan.not_converted is not None:
            raise self._error(
                WsdError(ErrorKind.UNSUPPORTED, scan.not_converted),
                scan,
                key="scan_not_converted",
                format=settings.format.value.upper(),
            )
        _LOGGER.debug("%s scanned %d pages into %s", self.name, scan.pages, scan.name)
        return scan

    async def _hand_over[T](
        self, scan: StoredScan, upload_scan: Coroutine[Any, Any, T]
    ) -> T:
        """Upload the stored scan (`upload_scan`); cancellable like a job."""
        upload: asyncio.Task[T] = self.hass.async_create_task(
            upload_scan, f"{DOMAIN} upload {self.name}"
        )
        self._upload = upload
        try:
            return await upload
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            # Cancelled by `async_cancel` (the library cancels a post-scan job).
            raise self._error(
                WsdError(ErrorKind.CANCELLED, "cancelled while uploading"), scan
            ) from None
        finally:
            self._upload = None

    def _ticket(self, settings: ScanSettings) -> ScanTicket:
        """Build the ticket from the scanner's capabilities."""
        if self.capabilities is None:
            raise self._error(
                WsdError(ErrorKind.UNSUPPORTED, "the scanner did not describe itself")
            )
        try:
            return build_ticket(
                self.capabilities,
                settings,
                status=self.status(),
                quirks=self.client.quirks,
            )
        except WsdError as err:
            raise self._error(err) from err

    async def _store(
        self,
        pages: tuple[ScannedPage, ...],
        work: Path,
        name: str,
        document_format: DocumentFormat,
        *,
        resolution: int,
        created: datetime,
        complete: bool,
        duration: float,
        color: ColorMode,
        skip_blank: int | None,
    ) -> StoredScan:
        """Store the pages received; show the scan as the last one."""
        scan = await self.storage.async_store(
            pages,
            work,
            name,
            document_format,
            resolution=resolution,
            created=created,
            complete=complete,
            duration=duration,
            color=color,
            skip_blank=skip_blank,
        )
        self.observer.async_scan_stored(scan)
        return scan

    @callback
    def _page_received(self, page: ScannedPage) -> None:
        job = self._job
        if job is not None and job.job_id is not None:
            self.observer.async_job_progress(
                job.job_id, JobState.PROCESSING, page.index
            )

    def _show_end(self, job: ScanJob, failure: ScanJobError | None, pages: int) -> None:
        """Show how the job ended, also when no job events arrive (polling)."""
        if job.job_id is None:
            return
        if failure is None:
            state = JobState.COMPLETED
        elif failure.kind is ErrorKind.CANCELLED:
            state = JobState.CANCELED
        else:
            state = JobState.ABORTED
        self.observer.async_job_progress(job.job_id, state, pages)

    def _error(
        self,
        err: WsdError,
        scan: StoredScan | None = None,
        *,
        key: str | None = None,
        **placeholders: str,
    ) -> HomeAssistantError:
        """Return the translated error for a failed scan (key `scan_<kind>` by default).

        `scan` holds the pages received before the failure, stored. A page the library
        could not write (its `OSError` is the cause) gives the same errors as storing
        does: disk full, not permitted.
        """
        pages = scan.pages if scan else 0
        files = ", ".join(str(file.path) for file in scan.files) if scan else "–"
        if scan:
            _LOGGER.warning(
                "Scan on %s failed (%s); %d pages kept: %s",
                self.name,
                err,
                pages,
                files,
            )
        if err.kind is ErrorKind.STORAGE and isinstance(err.__cause__, OSError):
            return storage_error(err.__cause__, self.storage.folder)
        error_class = (
            ServiceValidationError
            if err.kind in _INVALID_REQUEST
            else HomeAssistantError
        )
        return error_class(
            translation_domain=DOMAIN,
            # With no page saved, the message says nothing about saved pages.
            translation_key=key or f"scan_{err.kind}{'_pages_saved' if pages else ''}",
            translation_placeholders={
                "name": self.name,
                "host": yarl.URL(self.client.url).raw_authority,
                "error": str(err),
                "pages": str(pages),
                "files": files,
                **placeholders,
            },
        )
