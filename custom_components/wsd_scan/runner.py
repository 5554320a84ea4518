"""Scan jobs started from Home Assistant: one at a time per scanner, kept in the library.

A scan asked for while the scanner is busy waits its turn in a short queue (at most
`MAX_QUEUED` scans, first come first served; the job sensor counts them). A full queue,
or a scan asked with `when_busy: fail` (for automations that would rather know at once),
is refused with a translated error. `wsd_scan.cancel` stops the running scan and fails
every scan waiting: none of them runs after a cancel. Presses on the scanner's panel
fail instead of waiting (panel.py): the scanner waits for their job a short while only.
A session left open for too long waits its turn like any scan, outside the bound.

A session (`session: start | add | finish`, sessions.py) scans passes into a folder of
its own and stores them as one document when finished, or when left open for
`SESSION_TIMEOUT`; only one is open per scanner. A manual duplex scan is a session:
after the fronts it waits for the stack turned over (a visible job state, a notification
and the `wsd_scan_waiting_for_backs` event, scan_notification.py), and the next scan of the scanner without a session step (the action, the
Scan button, a panel press) scans the backs through the feeder and stores the document.

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

A session's passes and the stored scans of failed passes keep every page received: a
failed pass's pages join the session, a session that cannot be stored stays open on disk.

The runner reports how its scans go to a `ScanObserver`: a `ScanActivity` keeps what Home
Assistant shows of scans (the latest job, the last scan, the upload), apart from the
scanner's own status (the coordinator's).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
import logging
from pathlib import Path
import time
from typing import Any, Final, NoReturn, Protocol

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util
import yarl

from .const import DOMAIN, Destination, SessionStep, WhenBusy
from .paperless import PaperlessDocument, PaperlessFields, PaperlessTarget
from .post_scan import PostScanTarget
from .sessions import (
    SESSION_TIMEOUT,
    ScanSession,
    SessionPass,
    SessionProgress,
    load_sessions,
)
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
#: Scans that may wait for a busy scanner, besides the one running.
MAX_QUEUED: Final = 3


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

    def async_session_progress(self, session: SessionProgress | None) -> None:
        """Hear how the open session goes (None: no session is open)."""

    def async_queued(self, count: int) -> None:
        """Hear how many scans wait for the scanner."""

    def async_live_pages(self, pages: tuple[ScannedPage, ...]) -> None:
        """Hear the pages of the open session and the running job, so far, in order."""


class SessionNotifier(Protocol):
    """Tells the user what a session needs, or what became of it unattended."""

    def async_waiting_for_backs(self, session: SessionProgress) -> None:
        """Ask for the stack of a manual duplex scan to be turned over and scanned."""

    def async_session_expired(self, outcome: ScanOutcome, *, fronts_only: bool) -> None:
        """Say that a session left open was stored (a duplex scan's fronts only)."""


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
        #: The open session, if any.
        self.session: SessionProgress | None = None
        #: Scans waiting for the scanner.
        self.queued = 0
        #: The pages of the open session and of the running job, until stored.
        self.live_pages: tuple[ScannedPage, ...] = ()
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

    @callback
    def async_session_progress(self, session: SessionProgress | None) -> None:
        """Show the open session (None: none)."""
        self.session = session
        self._changed()

    @callback
    def async_queued(self, count: int) -> None:
        """Show how many scans wait."""
        self.queued = count
        self._changed()

    @callback
    def async_live_pages(self, pages: tuple[ScannedPage, ...]) -> None:
        """Show the pages received so far."""
        self.live_pages = pages
        self._changed()

    def _pages(self, job_id: str, pages: int | None) -> int | None:
        known = self.job
        if known is None or known.job_id != job_id or known.pages is None:
            return pages
        return known.pages if pages is None else max(known.pages, pages)

    def _show_job(self, job: JobProgress) -> None:
        known = self.job
        if (
            known is not None
            and known.job_id == job.job_id
            and known.state.ended
            and not job.state.ended
        ):
            # Each notification comes on a connection of its own: a job's last
            # Processing can arrive after its end (seen under load). The end stays.
            job = replace(job, state=known.state, reasons=known.reasons)
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


@dataclass(frozen=True, slots=True)
class PassOutcome:
    """A pass scanned into the open session (nothing stored yet)."""

    session: SessionProgress
    #: Pages this pass scanned.
    pages: int
    duration: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanRequest:
    """A scan as asked for: its settings, where it goes, its part in a session."""

    settings: ScanSettings
    file_name: str = DEFAULT_FILE_NAME
    destination: Destination = Destination.MEDIA
    #: The panel press's ScanIdentifier and the chosen entry's DestinationToken.
    scan_identifier: str | None = None
    destination_token: str | None = None
    #: Blank pages are left out at this sensitivity; None: kept.
    skip_blank: int | None = None
    #: What Paperless-ngx documents of the scan are given.
    paperless_fields: PaperlessFields = PaperlessFields()
    session: SessionStep | None = None
    #: The fronts through the feeder, then the backs (a session of two passes).
    manual_duplex: bool = False
    rotate_backs: bool = False
    when_busy: WhenBusy = WhenBusy.QUEUE


@dataclass(frozen=True, slots=True)
class _Waiter:
    """A scan waiting for its turn; `cancellable` by `wsd_scan.cancel` (not a timeout)."""

    turn: asyncio.Future[None]
    cancellable: bool


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
        notifier: SessionNotifier | None = None,
        post_scan: PostScanTarget | None = None,
        paperless: PaperlessTarget | None = None,
    ) -> None:
        """Scan with `client` on scanner `name`; `status()` is its current status."""
        self.hass = hass
        self.name = name
        self.status = status
        self.observer = observer
        self.notifier = notifier
        self.client = client
        self.storage = storage
        self.capabilities = capabilities
        self.post_scan = post_scan
        self.paperless = paperless
        self._busy = False
        self._queue: deque[_Waiter] = deque()
        self._job: ScanJob | None = None
        self._upload: asyncio.Task[Any] | None = None
        self._session: ScanSession | None = None
        self._session_timer: CALLBACK_TYPE | None = None
        #: The pages the running job delivered, until they are stored or join a session.
        self._received: list[ScannedPage] = []

    @property
    def busy(self) -> bool:
        """Whether a scan runs (the job, storing, handing its files over)."""
        return self._busy

    @property
    def session(self) -> SessionProgress | None:
        """The open session, if any."""
        return self._session.progress() if self._session is not None else None

    @callback
    def async_cancel(self) -> None:
        """Cancel the running job or upload and the scans waiting; the pages are kept."""
        cancelled = [waiter for waiter in self._queue if waiter.cancellable]
        for waiter in cancelled:
            self._queue.remove(waiter)
            waiter.turn.set_exception(
                HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key=f"scan_{ErrorKind.CANCELLED}",
                    translation_placeholders={"name": self.name},
                )
            )
        if cancelled:
            self.observer.async_queued(len(self._queue))
        if self._job is not None:
            self._job.cancel()
        if self._upload is not None:
            self._upload.cancel()

    @callback
    def async_shutdown(self) -> None:
        """Stop the session's timer (the session stays on disk, taken up at setup)."""
        self._stop_timer()

    async def async_resume_sessions(self) -> None:
        """Take up the sessions left in the scanner's folder (a restart, a reload).

        The newest stays open for the rest of its time (stored at once when that is
        up); older ones, which only a crash can leave, are stored now.
        """
        try:
            folder = self.storage.folder
        except HomeAssistantError:
            return
        sessions = await self.hass.async_add_executor_job(
            load_sessions, folder, self.storage.scanner
        )
        if not sessions:
            return
        *older, newest = sessions
        self._open(newest)
        self._show_live_pages()
        self._start_timer()
        for session in older:
            self.hass.async_create_background_task(
                self._async_store_expired(session), f"{DOMAIN} session {self.name}"
            )

    async def async_scan(self, request: ScanRequest) -> ScanOutcome | PassOutcome:
        """Scan, store the document, hand it to the post-scan endpoint if asked.

        A scan started on the scanner's panel passes the event's `scan_identifier` and
        the `destination_token` of the chosen panel entry. With `skip_blank` (a
        sensitivity), blank pages are left out. Paperless-ngx documents get
        `paperless_fields`. A session's pass, or the fronts of a manual duplex scan,
        answer a `PassOutcome`.

        Raises a translated `HomeAssistantError` (`ServiceValidationError` for requests
        the scanner cannot fulfil) naming the cause and the pages kept.
        """
        if request.session is not SessionStep.FINISH:
            self._check_destination(request.destination)
        await self._async_take_turn(request.when_busy)
        try:
            return await self._run(request)
        finally:
            self._pass_turn()

    def _check_destination(self, destination: Destination) -> None:
        """Refuse a destination the options do not configure."""
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

    async def _async_take_turn(
        self, when_busy: WhenBusy, *, cancellable: bool = True
    ) -> None:
        """Wait until the scanner is free (in the queue), or refuse as `when_busy` says."""
        if not self._busy:
            self._busy = True
            return
        if when_busy is WhenBusy.FAIL:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="busy",
                translation_placeholders={"name": self.name},
            )
        if cancellable and len(self._queue) >= MAX_QUEUED:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="queue_full",
                translation_placeholders={
                    "name": self.name,
                    "queued": str(len(self._queue)),
                },
            )
        waiter = _Waiter(self.hass.loop.create_future(), cancellable)
        self._queue.append(waiter)
        self.observer.async_queued(len(self._queue))
        try:
            await waiter.turn
        except asyncio.CancelledError:
            if waiter in self._queue:
                self._queue.remove(waiter)
                self.observer.async_queued(len(self._queue))
            elif not waiter.turn.cancelled():
                # It was this scan's turn as its caller gave up: the next one's now.
                self._pass_turn()
            raise

    def _pass_turn(self) -> None:
        """Let the first scan waiting run; the scanner is free when none waits."""
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.turn.done():
                waiter.turn.set_result(None)
                self.observer.async_queued(len(self._queue))
                return
        self._busy = False

    async def _run(self, request: ScanRequest) -> ScanOutcome | PassOutcome:
        """Scan, add a pass, or finish the session: what the request and state ask."""
        session = self._session
        if request.session is SessionStep.FINISH:
            if session is None:
                raise ServiceValidationError(
                    translation_domain=DOMAIN,
                    translation_key="no_session",
                    translation_placeholders={"name": self.name},
                )
            return await self._finish(session)
        if (
            session is not None
            and session.waiting_for_backs
            and request.session is not SessionStep.START
        ):
            return await self._add_pass(
                session, replace(request.settings, source=ScanSource.FEEDER), request
            )
        if session is not None and request.session is SessionStep.ADD:
            return await self._add_pass(session, request.settings, request)
        if session is not None and (
            request.session is SessionStep.START or request.manual_duplex
        ):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="session_open",
                translation_placeholders={"name": self.name},
            )
        if request.session is not None or request.manual_duplex:
            return await self._start_session(request)
        return await self._scan(request)

    async def _scan(self, request: ScanRequest) -> ScanOutcome:
        """Scan a document; `auto` with an empty feeder scans the glass instead."""
        try:
            scan = await self._scan_document(request.settings, request)
        except HomeAssistantError as err:
            if not self._glass_instead(request.settings, err):
                raise
            # Many scanners never report an empty feeder, so `auto` picked it.
            _LOGGER.info("%s: the feeder is empty; scanning the glass", self.name)
            scan = await self._scan_document(
                replace(request.settings, source=ScanSource.PLATEN), request
            )
            return await self._deliver(
                scan, request.destination, request.paperless_fields, glass=True
            )
        return await self._deliver(scan, request.destination, request.paperless_fields)

    def _glass_instead(self, settings: ScanSettings, err: HomeAssistantError) -> bool:
        """Whether an `auto` scan that found the feeder empty can use the glass."""
        return (
            settings.source is ScanSource.AUTO
            and err.translation_key == f"scan_{ErrorKind.FEEDER_EMPTY}"
            and self.capabilities is not None
            and self.capabilities.platen is not None
        )

    async def _scan_document(
        self, settings: ScanSettings, request: ScanRequest
    ) -> StoredScan:
        """Run the job and store its pages (without the blank ones, if asked)."""
        name = render_file_name(
            request.file_name, device=self.storage.device, when=dt_util.now()
        )
        work = self.storage.work_folder()
        created = dt_util.utcnow()
        try:
            ticket, pages, failure, duration = await self._run_job(
                settings, work, request
            )
            scan = (
                await self._store(
                    pages,
                    work,
                    name,
                    settings.format,
                    resolution=ticket.resolution,
                    created=created,
                    complete=failure is None,
                    duration=duration,
                    color=settings.color,
                    skip_blank=request.skip_blank,
                )
                if pages
                else None
            )
        finally:
            self._forget_received()
            await self.storage.async_discard(work)
        if failure is not None:
            raise self._error(failure, scan)
        assert scan is not None  # a finished job has pages
        self._check_converted(scan, settings.format)
        _LOGGER.debug("%s scanned %d pages into %s", self.name, scan.pages, scan.name)
        return scan

    async def _run_job(
        self, settings: ScanSettings, work: Path, request: ScanRequest
    ) -> tuple[ScanTicket, tuple[ScannedPage, ...], ScanJobError | None, float]:
        """Run a job writing its pages to `work`: the ticket, pages, failure, seconds."""
        ticket = self._ticket(settings)
        job = self._job = self.client.job(
            ticket,
            work,
            on_page=self._page_received,
            scan_identifier=request.scan_identifier,
            destination_token=request.destination_token,
        )
        started = time.monotonic()
        failure: ScanJobError | None = None
        try:
            await self.storage.async_check()
            try:
                pages = (await job.run()).pages
            except ScanJobError as err:
                pages, failure = err.pages, err
            self._show_end(job, failure, len(pages))
        finally:
            self._job = None
        return ticket, pages, failure, round(time.monotonic() - started, 3)

    def _check_converted(
        self, scan: StoredScan, document_format: DocumentFormat
    ) -> None:
        """Refuse a scan stored as delivered, not in the format asked for."""
        if scan.not_converted is not None:
            raise self._error(
                WsdError(ErrorKind.UNSUPPORTED, scan.not_converted),
                scan,
                key="scan_not_converted",
                format=document_format.value.upper(),
            )

    async def _deliver(
        self,
        scan: StoredScan,
        destination: Destination,
        paperless_fields: PaperlessFields,
        *,
        glass: bool = False,
    ) -> ScanOutcome:
        """Hand a stored scan to the post-scan endpoint or Paperless-ngx, as asked.

        Scans only for them leave the library once they have them.
        """
        post_scan: PostScanJobStatus | None = None
        documents: tuple[PaperlessDocument, ...] = ()
        if self.post_scan is not None and destination in {
            Destination.POST_SCAN,
            Destination.BOTH,
        }:
            post_scan = await self._hand_over(
                scan,
                self.post_scan.async_send(scan, self.observer.async_post_scan_progress),
            )
        if self.paperless is not None and destination in {
            Destination.PAPERLESS,
            Destination.MEDIA_AND_PAPERLESS,
        }:
            documents = await self._hand_over(
                scan, self.paperless.async_send(scan, paperless_fields)
            )
            self.observer.async_paperless_documents(documents)
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

    async def _start_session(self, request: ScanRequest) -> ScanOutcome | PassOutcome:
        """Open a session with its first pass (a manual duplex scan's fronts)."""
        settings = request.settings
        if request.manual_duplex:
            settings = replace(settings, source=ScanSource.FEEDER)
        now = dt_util.utcnow()
        session = ScanSession.new(
            self.storage.folder,
            name=render_file_name(
                request.file_name, device=self.storage.device, when=dt_util.now()
            ),
            scanner=self.storage.scanner,
            created=now,
            expires=now + SESSION_TIMEOUT,
            document_format=settings.format,
            resolution=settings.resolution,
            color=settings.color,
            destination=request.destination,
            skip_blank=request.skip_blank,
            paperless_fields=request.paperless_fields,
            manual_duplex=request.manual_duplex,
            rotate_backs=request.rotate_backs,
        )
        try:
            return await self._add_pass(session, settings, request)
        finally:
            if self._session is not session:
                # The first pass scanned nothing: no session.
                await self.hass.async_add_executor_job(session.remove)

    async def _add_pass(
        self, session: ScanSession, settings: ScanSettings, request: ScanRequest
    ) -> ScanOutcome | PassOutcome:
        """Scan a pass into the session; the pages of a failed pass are kept too.

        The backs of a manual duplex scan finish it.
        """
        self._stop_timer()
        try:
            ticket, pages, failure, duration = await self._run_job(
                settings, session.next_pass_folder(), request
            )
            if pages:
                if not session.passes:
                    session.resolution = ticket.resolution
                session.passes.append(SessionPass(pages, failure is None, duration))
                session.expires = dt_util.utcnow() + SESSION_TIMEOUT
                # Open before saving: pages that cannot be described on disk can still
                # be finished (and are not removed as a session that never opened).
                self._open(session)
                try:
                    await self.hass.async_add_executor_job(session.save)
                except OSError as err:
                    raise storage_error(err, session.folder) from err
        finally:
            self._forget_received()
            if self._session is not None:
                self._start_timer()
        if failure is not None:
            raise self._error(failure, pages=len(pages), files=str(session.folder))
        if session.manual_duplex and len(session.passes) == 2:
            return await self._finish(session)
        progress = session.progress()
        if session.waiting_for_backs and self.notifier is not None:
            self.notifier.async_waiting_for_backs(progress)
        return PassOutcome(progress, len(pages), duration)

    async def _finish(self, session: ScanSession) -> ScanOutcome:
        """Store the session's passes as one document; close it.

        A session that cannot be stored (a full disk) stays open for another
        `SESSION_TIMEOUT`; one whose pages are all blank, or whose backs are not as
        many as its fronts, is closed (the fronts and backs are then stored apart).
        """
        self._stop_timer()
        try:
            scan = await self._store_session(session)
        except HomeAssistantError as err:
            if err.translation_key == "scan_all_blank":
                await self._close(session)
            elif self._session is session:
                session.expires = dt_util.utcnow() + SESSION_TIMEOUT
                self._start_timer()
            raise
        await self._close(session)
        self._check_converted(scan, session.document_format)
        _LOGGER.debug(
            "%s stored a session of %d passes into %s",
            self.name,
            len(session.passes),
            scan.name,
        )
        return await self._deliver(
            scan, self._configured(session.destination), session.paperless_fields
        )

    async def _store_session(self, session: ScanSession) -> StoredScan:
        """Store the session's document (its fronts and backs apart if they differ)."""
        try:
            document = session.document()
        except WsdError as err:
            await self._store_apart(session, err)
        work = self.storage.work_folder()
        try:
            await self.hass.async_add_executor_job(partial(work.mkdir, parents=True))
            return await self._store(
                document.pages,
                work,
                session.name,
                session.document_format,
                resolution=session.resolution,
                created=session.created,
                complete=session.complete,
                duration=session.duration,
                color=session.color,
                skip_blank=session.skip_blank,
                turned=document.turned,
            )
        except OSError as err:
            raise storage_error(err, work) from err
        finally:
            await self.storage.async_discard(work)

    async def _store_apart(self, session: ScanSession, mismatch: WsdError) -> NoReturn:
        """Store the fronts and backs of a manual duplex scan as two documents; raise."""
        stored = []
        for part, scan_pass in zip(("fronts", "backs"), session.passes, strict=True):
            work = self.storage.work_folder()
            try:
                await self.hass.async_add_executor_job(
                    partial(work.mkdir, parents=True)
                )
                stored.append(
                    await self._store(
                        scan_pass.pages,
                        work,
                        f"{session.name}_{part}",
                        session.document_format,
                        resolution=session.resolution,
                        created=session.created,
                        complete=scan_pass.complete,
                        duration=scan_pass.duration,
                        color=session.color,
                        skip_blank=None,
                        turned=frozenset(
                            page.path
                            for page in scan_pass.pages
                            if session.rotate_backs and part == "backs"
                        ),
                    )
                )
            except OSError as err:
                raise storage_error(err, work) from err
            finally:
                await self.storage.async_discard(work)
        await self._close(session)
        fronts, backs = (len(scan_pass.pages) for scan_pass in session.passes)
        _LOGGER.warning("%s: %s; stored apart", self.name, mismatch)
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="duplex_page_mismatch",
            translation_placeholders={
                "name": self.name,
                "fronts": str(fronts),
                "backs": str(backs),
                "files": ", ".join(
                    str(file.path) for scan in stored for file in scan.files
                ),
            },
        )

    def _configured(self, destination: Destination) -> Destination:
        """Return `destination`, or the media library if the options dropped it since."""
        try:
            self._check_destination(destination)
        except ServiceValidationError:
            return Destination.MEDIA
        return destination

    def _open(self, session: ScanSession) -> None:
        self._session = session
        self.observer.async_session_progress(session.progress())

    async def _close(self, session: ScanSession) -> None:
        """Forget a session (stored or given up) and remove its folder."""
        session.closed = True
        if self._session is session:
            self._stop_timer()
            self._session = None
            self.observer.async_session_progress(None)
            self._show_live_pages()
        await self.hass.async_add_executor_job(session.remove)

    def _start_timer(self) -> None:
        """Store the open session when its time is up."""
        self._stop_timer()
        session = self._session
        assert session is not None
        self._session_timer = async_call_later(
            self.hass,
            max((session.expires - dt_util.utcnow()).total_seconds(), 0),
            self._session_expired,
        )

    def _stop_timer(self) -> None:
        if self._session_timer is not None:
            self._session_timer()
            self._session_timer = None

    @callback
    def _session_expired(self, _now: datetime) -> None:
        # The timer stops when the session closes: it is the open one.
        session = self._session
        assert session is not None
        self._session_timer = None
        self.hass.async_create_background_task(
            self._async_store_expired(session), f"{DOMAIN} session {self.name}"
        )

    async def _async_store_expired(self, session: ScanSession) -> None:
        """Store a session nobody finished, once the scanner is free; tell the user."""
        await self._async_take_turn(WhenBusy.QUEUE, cancellable=False)
        fronts_only = session.waiting_for_backs
        try:
            if session.closed:
                return
            outcome = await self._finish(session)
        except HomeAssistantError as err:
            _LOGGER.warning(
                "The scan session left open on %s could not be stored: %s",
                self.name,
                err,
            )
            return
        finally:
            self._pass_turn()
        _LOGGER.info(
            "The scan session left open on %s is stored: %s",
            self.name,
            outcome.scan.name,
        )
        if self.notifier is not None:
            self.notifier.async_session_expired(outcome, fronts_only=fronts_only)

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
        pages: Sequence[ScannedPage],
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
        turned: frozenset[Path] = frozenset(),
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
            turned=turned,
        )
        self.observer.async_scan_stored(scan)
        return scan

    def _forget_received(self) -> None:
        """Stop listing the job's pages: stored (their files go), or in the session."""
        self._received = []
        self._show_live_pages()

    def _show_live_pages(self) -> None:
        """Report the open session's pages, then those of the running job."""
        session_pages = (
            [page for scan in self._session.passes for page in scan.pages]
            if self._session is not None
            else []
        )
        self.observer.async_live_pages((*session_pages, *self._received))

    @callback
    def _page_received(self, page: ScannedPage) -> None:
        self._received.append(page)
        self._show_live_pages()
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
        pages: int | None = None,
        files: str | None = None,
        **placeholders: str,
    ) -> HomeAssistantError:
        """Return the translated error for a failed scan (key `scan_<kind>` by default).

        `scan` holds the pages received before the failure, stored; or `pages` were
        kept in `files` (a session's folder). A page the library could not write (its
        `OSError` is the cause) gives the same errors as storing does: disk full, not
        permitted.
        """
        if scan is not None:
            pages = scan.pages
            files = ", ".join(str(file.path) for file in scan.files)
        if pages:
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
                "pages": str(pages or 0),
                "files": files or "–",
                **placeholders,
            },
        )
