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
"""

from __future__ import annotations

from datetime import datetime
import logging
from pathlib import Path
import time
from typing import Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .coordinator import WsdScanCoordinator
from .storage import (
    DEFAULT_FILE_NAME,
    ScanStorage,
    StoredScan,
    render_file_name,
    storage_error,
)
from .wsd import (
    DocumentFormat,
    ErrorKind,
    JobState,
    ScanClient,
    ScanJob,
    ScanJobError,
    ScannedPage,
    ScannerCapabilities,
    ScanSettings,
    ScanTicket,
    WsdError,
    build_ticket,
)

_LOGGER = logging.getLogger(__name__)

#: Errors that are the request's fault, not the scanner's.
_INVALID_REQUEST: Final = frozenset({ErrorKind.UNSUPPORTED, ErrorKind.INVALID_ARGUMENT})


class ScanRunner:
    """Runs one scanner's scan jobs, one at a time, and stores what they deliver."""

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: WsdScanCoordinator,
        client: ScanClient,
        storage: ScanStorage,
        capabilities: ScannerCapabilities | None,
    ) -> None:
        """Scan with `client` on the scanner whose status `coordinator` keeps."""
        self.hass = hass
        self.coordinator = coordinator
        self.client = client
        self.storage = storage
        self.capabilities = capabilities
        self._job: ScanJob | None = None

    @property
    def name(self) -> str:
        """The scanner's name."""
        return self.coordinator.name

    @property
    def busy(self) -> bool:
        """Whether a scan job runs."""
        return self._job is not None

    @callback
    def async_cancel(self) -> None:
        """Cancel the running job, if any; its pages are kept."""
        if self._job is not None:
            self._job.cancel()

    async def async_scan(
        self,
        settings: ScanSettings,
        file_name: str = DEFAULT_FILE_NAME,
        *,
        scan_identifier: str | None = None,
        destination_token: str | None = None,
    ) -> StoredScan:
        """Scan, store the document, and return it.

        A scan started on the scanner's panel passes the event's `scan_identifier` and
        the `destination_token` of the chosen panel entry.

        Raises a translated `HomeAssistantError` (`ServiceValidationError` for requests
        the scanner cannot fulfil) naming the cause and the pages kept.
        """
        if self._job is not None:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="busy",
                translation_placeholders={"name": self.name},
            )
        name = render_file_name(
            file_name, device=self.storage.device, when=dt_util.now()
        )
        ticket = self._ticket(settings)
        work = self.storage.work_folder()
        # Set before the first await: from here on, this is the scanner's one job.
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

    def _ticket(self, settings: ScanSettings) -> ScanTicket:
        """Build the ticket from the scanner's capabilities."""
        if self.capabilities is None:
            raise self._error(
                WsdError(ErrorKind.UNSUPPORTED, "the scanner did not describe itself")
            )
        try:
            return build_ticket(
                self.capabilities, settings, status=self.coordinator.data.status
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
        )
        self.coordinator.async_scan_stored(scan)
        return scan

    @callback
    def _page_received(self, page: ScannedPage) -> None:
        job = self._job
        if job is not None and job.job_id is not None:
            self.coordinator.async_job_progress(
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
        self.coordinator.async_job_progress(job.job_id, state, pages)

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
            translation_key=key or f"scan_{err.kind}",
            translation_placeholders={
                "name": self.name,
                "error": str(err),
                "pages": str(pages),
                "files": files,
                **placeholders,
            },
        )
