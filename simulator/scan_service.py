"""The WS-Scan service: operations, job state machine, conditions and push scan."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
import uuid

from lxml import etree

from .elements import (
    CONDITION_TRAITS,
    Condition,
    timestamp,
    write_condition,
    write_configuration,
    write_description,
    write_status,
)
from .eventing import EventSource, Subscription
from .jobs import Job, side_geometry
from .pages import RENDERABLE_FORMATS, PageSpec
from .profiles import Profile
from .quirks import Quirk
from .settings import Settings
from .soap import SCAN, SCAN_2006_01, SoapFault, SoapRequest, Writer, child, sub, text
from .ticket import (
    ScanTicket,
    parse_ticket,
    requested_names,
    write_document_parameters,
    write_ticket,
)

SECTIONS = (
    "ScannerDescription",
    "ScannerConfiguration",
    "ScannerStatus",
    "DefaultScanTicket",
)


@dataclass(frozen=True)
class PushScanFailure:
    """A device-initiated scan that did not work out (recorded for tests)."""

    scan_identifier: str | None
    destination: str | None
    reason: str


@dataclass
class PendingScan:
    """A ScanAvailableEvent waiting for its CreateScanJob."""

    scan_identifier: str
    subscription: Subscription
    client_context: str
    token: str
    pressed_at: float
    timer: asyncio.TimerHandle | None = None


@dataclass(frozen=True)
class Transfer:
    """What one RetrieveImage must send."""

    job: Job
    pages: list[PageSpec]
    empty: bool = False


class ScanService:
    """State and operations of the scan service endpoint."""

    def __init__(
        self,
        *,
        profile: Profile,
        quirks: set[Quirk],
        settings: Settings,
        writer: Writer,
        events: EventSource,
        clock: Callable[[], float],
        wall_clock: Callable[[], datetime],
    ) -> None:
        """Create the service for one device."""
        self.profile = profile
        self.quirks = quirks
        self.settings = settings
        self.writer = writer
        self.events = events
        self.clock = clock
        self.wall_clock = wall_clock
        self.scanner_name = profile.scanner_name
        self.feeder = 0
        self.jobs: dict[int, Job] = {}
        self.active_conditions: list[Condition] = []
        self.condition_history: list[Condition] = []
        self.push_scan_failures: list[PushScanFailure] = []
        self.pending_scans: dict[str, PendingScan] = {}
        self._next_job_id = 1
        self._next_condition_id = 1
        self._next_scan_identifier = 1
        self._calibration_left = 0
        self._last_summary: tuple[str, tuple[str, ...]] | None = None
        self.reset()

    def cancel_timers(self) -> None:
        """Cancel the 60-second and push-scan window timers (the device is going away)."""
        for job in self.jobs.values():
            if job.timer is not None:
                job.timer.cancel()
                job.timer = None
        for pending in self.pending_scans.values():
            if pending.timer is not None:
                pending.timer.cancel()
                pending.timer = None

    def reset(self) -> None:
        """Forget jobs, timers and pending scans (power cycle); re-arm warm-up."""
        self.cancel_timers()
        self.jobs.clear()
        self.pending_scans.clear()
        self.active_conditions = [
            c for c in self.active_conditions if c.name != "Calibrating"
        ]
        if (
            Quirk.CALIBRATING_WARMUP in self.quirks
            and self.settings.calibration_faults > 0
        ):
            self._calibration_left = self.settings.calibration_faults
            self.raise_condition("Calibrating")
        self._last_summary = self.summary()

    # --- status -----------------------------------------------------------------

    def summary(self) -> tuple[str, tuple[str, ...]]:
        """Return (ScannerState, ScannerStateReasons)."""
        reasons = tuple(c.name for c in self.active_conditions)
        if any(c.critical for c in self.active_conditions):
            return "Stopped", reasons
        if "Calibrating" in reasons or any(not j.terminal for j in self.jobs.values()):
            return "Processing", reasons
        return "Idle", reasons

    def _status_changed(self) -> None:
        summary = self.summary()
        if summary == self._last_summary:
            return
        self._last_summary = summary

        def build(body: etree._Element) -> None:
            node = sub(
                sub(body, SCAN, "ScannerStatusSummaryEvent"), SCAN, "StatusSummary"
            )
            sub(node, SCAN, "ScannerState", summary[0])
            reasons = sub(node, SCAN, "ScannerStateReasons")
            for reason in summary[1] or ("None",):
                sub(reasons, SCAN, "ScannerStateReason", reason)

        self.events.publish("ScannerStatusSummaryEvent", build)

    def raise_condition(self, name: str) -> Condition:
        """Make a DeviceCondition active (critical ones stop the scanner and its job)."""
        for existing in self.active_conditions:
            if existing.name == name:
                return existing
        component, severity = CONDITION_TRAITS.get(name, ("MediaPath", "Warning"))
        condition = Condition(
            self._next_condition_id, name, component, severity, self.wall_clock()
        )
        self._next_condition_id += 1
        self.active_conditions.append(condition)
        self.events.publish(
            "ScannerStatusConditionEvent",
            lambda body: write_condition(
                sub(body, SCAN, "ScannerStatusConditionEvent"), condition
            ),
        )
        if condition.critical:
            for job in self.jobs.values():
                if not job.terminal:
                    self._finish(job, "Aborted", ["ScannerStopped"])
        self._status_changed()
        return condition

    def clear_condition(self, name: str) -> bool:
        """Clear an active condition; False if it was not active."""
        condition = next((c for c in self.active_conditions if c.name == name), None)
        if condition is None:
            return False
        self.active_conditions.remove(condition)
        condition.clear_time = self.wall_clock()
        self.condition_history.append(condition)

        def build(body: etree._Element) -> None:
            cleared = sub(
                sub(body, SCAN, "ScannerStatusConditionClearedEvent"),
                SCAN,
                "DeviceConditionCleared",
            )
            sub(cleared, SCAN, "ConditionId", condition.id)
            sub(
                cleared,
                SCAN,
                "ConditionClearTime",
                timestamp(condition.clear_time or condition.time),
            )

        self.events.publish("ScannerStatusConditionClearedEvent", build)
        self._status_changed()
        return True

    def set_scanner_name(self, name: str) -> None:
        """Rename the scanner (panel setting) and announce ScannerElementsChangeEvent."""
        self.scanner_name = name

        def build(body: etree._Element) -> None:
            changes = sub(
                sub(body, SCAN, "ScannerElementsChangeEvent"), SCAN, "ElementChanges"
            )
            write_description(changes, self.profile, self.scanner_name)
            write_configuration(changes, self.profile, frozenset(self.quirks))
            write_ticket(
                changes, self.profile.default_ticket, element="DefaultScanTicket"
            )

        self.events.publish("ScannerElementsChangeEvent", build)

    # --- operations -------------------------------------------------------------

    def _response(
        self, request: SoapRequest, name: str
    ) -> tuple[etree._Element, etree._Element]:
        root, _header, body = self.writer.envelope(
            f"{SCAN}/{name}Response", relates_to=request.message_id
        )
        return root, sub(body, SCAN, f"{name}Response")

    def get_scanner_elements(
        self, request: SoapRequest, payload: etree._Element
    ) -> etree._Element:
        """GetScannerElements: one ElementData per requested QName."""
        names_node = child(payload, "RequestedElements")
        if names_node is None:
            raise SoapFault.sender(SCAN, "InvalidArgs", "RequestedElements missing")
        root, response = self._response(request, "GetScannerElements")
        elements = sub(response, SCAN, "ScannerElements")
        for name_node, name in zip(
            (n for n in names_node if isinstance(n.tag, str)),
            requested_names(names_node),
            strict=False,
        ):
            prefix, _, local = name.rpartition(":")
            namespace = name_node.nsmap.get(prefix or None)
            valid = local in SECTIONS and namespace in (SCAN, SCAN_2006_01, None)
            data = sub(elements, SCAN, "ElementData")
            data.set("Name", name)
            data.set("Valid", "true" if valid else "false")
            if valid:
                self._write_section(data, local)
        return root

    def _write_section(self, parent: etree._Element, section: str) -> None:
        if section == "ScannerDescription":
            write_description(parent, self.profile, self.scanner_name)
        elif section == "ScannerConfiguration":
            write_configuration(parent, self.profile, frozenset(self.quirks))
        elif section == "DefaultScanTicket":
            write_ticket(
                parent, self.profile.default_ticket, element="DefaultScanTicket"
            )
        else:
            state, reasons = self.summary()
            write_status(
                parent,
                now=self.wall_clock(),
                state=state,
                reasons=list(reasons),
                active=self.active_conditions,
                history=self.condition_history,
            )

    def validate_scan_ticket(
        self, request: SoapRequest, payload: etree._Element
    ) -> etree._Element:
        """ValidateScanTicket: ValidTicket, ImageInformation, corrected ticket if needed."""
        ticket_node = child(payload, "ScanTicket")
        if ticket_node is None:
            raise SoapFault.sender(SCAN, "InvalidArgs", "ScanTicket missing")
        ticket = parse_ticket(ticket_node)
        final = self.profile.finalize(ticket)
        root, response = self._response(request, "ValidateScanTicket")
        info = sub(response, SCAN, "ValidationInfo")
        sub(info, SCAN, "ValidTicket", "false" if final.overridden else "true")
        self._new_job(final, reserve=False).write_image_information(info)
        if final.overridden:
            write_ticket(info, final, element="ValidScanTicket")
        return root

    def _plan(self, ticket_source: str, images_wanted: int) -> list[tuple[int, str]]:
        if ticket_source == "Platen":
            return [(1, "front")]
        sides = ("front", "back") if ticket_source == "ADFDuplex" else ("front",)
        sheets = self.feeder
        if images_wanted == 0 and Quirk.ZERO_IMAGES_SCANS_ONE_SHEET in self.quirks:
            sheets = min(sheets, 1)
        plan = [(sheet, side) for sheet in range(1, sheets + 1) for side in sides]
        return plan[:images_wanted] if images_wanted else plan

    def _new_job(self, ticket: ScanTicket, *, reserve: bool = True) -> Job:
        assert ticket.input_source is not None
        plan = self._plan(ticket.input_source, ticket.images_to_transfer or 0)
        pages = []
        for sheet, side_name in plan:
            side = (
                ticket.back
                if side_name == "back" and ticket.back is not None
                else ticket.front
            )
            assert side is not None and side.resolution is not None
            geometry = side_geometry(ticket, side)
            pages.append(
                PageSpec(
                    width=geometry.pixels_per_line,
                    height=geometry.lines,
                    color=side.color or "RGB24",
                    dpi=side.resolution,
                    number=sheet,
                    side=side_name,
                    label=ticket.job_name[:40],
                    blank=side_name == "back" and self.settings.blank_backs,
                )
            )
        job_id = self._next_job_id
        if reserve:
            self._next_job_id += 1
        huge = self.settings.huge_image_bytes
        return Job(
            id=job_id,
            token=f"jt-{job_id}-{uuid.uuid4().hex[:8]}",
            ticket=ticket,
            planned=pages,
            created=self.wall_clock(),
            huge_bytes=huge
            if huge and ticket.format in ("dib", "tiff-single-uncompressed")
            else None,
        )

    def _check_push(
        self, scan_identifier: str | None, token: str | None
    ) -> PendingScan | None:
        if scan_identifier is None and token is None:
            return None
        destination = self.events.token_known(token or "")
        if destination is None:
            self.push_scan_failures.append(
                PushScanFailure(
                    scan_identifier, None, f"unknown DestinationToken {token!r}"
                )
            )
            raise SoapFault.sender(
                SCAN, "ClientErrorInvalidDestinationToken", "unknown DestinationToken"
            )
        pending = self.pending_scans.get(scan_identifier or "")
        if pending is None or pending.token != token:
            self.push_scan_failures.append(
                PushScanFailure(
                    scan_identifier,
                    destination.client_context,
                    f"unknown or stale ScanIdentifier {scan_identifier!r}",
                )
            )
            raise SoapFault.sender(
                SCAN, "ClientErrorInvalidScanIdentifier", "unknown ScanIdentifier"
            )
        del self.pending_scans[pending.scan_identifier]
        if pending.timer is not None:
            pending.timer.cancel()
        if self.clock() - pending.pressed_at > self.settings.push_scan_window:
            self.push_scan_failures.append(
                PushScanFailure(
                    pending.scan_identifier,
                    pending.client_context,
                    "CreateScanJob arrived after the device's window",
                )
            )
            raise SoapFault.sender(
                SCAN, "ClientErrorInvalidScanIdentifier", "ScanIdentifier expired"
            )
        return pending

    def create_scan_job(
        self, request: SoapRequest, payload: etree._Element
    ) -> etree._Element:
        """CreateScanJob: validate, plan the pages, answer at once, start the 60 s clock."""
        ticket_node = child(payload, "ScanTicket")
        if ticket_node is None:
            raise SoapFault.sender(SCAN, "InvalidArgs", "ScanTicket missing")
        ticket = parse_ticket(ticket_node)
        if Quirk.REQUIRE_JOB_INFORMATION in self.quirks and not ticket.job_information:
            raise SoapFault.sender(
                SCAN, "InvalidArgs", "JobInformation missing", "JobInformation"
            )
        pending = self._check_push(
            text(payload, "ScanIdentifier"), text(payload, "DestinationToken")
        )
        if pending is None and Quirk.PANEL_START_ONLY in self.quirks:
            raise SoapFault.receiver(
                SCAN,
                "ServerErrorNotAcceptingJobs",
                "start the scan from the device panel",
            )
        if self._calibration_left:
            # The status keeps saying Calibrating until a CreateScanJob gets through:
            # clients (sane-airscan) read ScannerStatus after the fault to decide to retry.
            self._calibration_left -= 1
            raise SoapFault.receiver(
                SCAN, "ServerErrorNotAcceptingJobs", "scanner is calibrating"
            )
        self.clear_condition("Calibrating")
        if any(c.critical for c in self.active_conditions):
            raise SoapFault.receiver(
                SCAN, "ServerErrorNotAcceptingJobs", "scanner is stopped"
            )
        if any(not j.terminal for j in self.jobs.values()):
            raise SoapFault.receiver(
                SCAN, "ServerErrorNotAcceptingJobs", "another job is active"
            )
        final = self.profile.finalize(ticket)
        if final.format not in RENDERABLE_FORMATS:
            # Advertised by a captured profile (Kyocera: xps) but not drawn by the simulator.
            raise SoapFault.receiver(
                SCAN,
                "ServerErrorInternalError",
                f"the simulator cannot render {final.format}",
            )
        job = self._new_job(final)
        if not job.planned:
            if Quirk.EMPTY_FEEDER_NOT_ACCEPTING_JOBS in self.quirks:
                raise SoapFault.receiver(
                    SCAN, "ServerErrorNotAcceptingJobs", "the feeder is empty"
                )
            raise SoapFault.sender(
                SCAN, "ClientErrorNoImagesAvailable", "the feeder is empty"
            )
        job.scan_identifier = pending.scan_identifier if pending else None
        self.jobs[job.id] = job
        self._trim_history()
        self._set_state(job, "Started", ["JobScanning"])
        self._status_changed()
        self._arm_timeout(job)
        root, response = self._response(request, "CreateScanJob")
        sub(response, SCAN, "JobId", job.id)
        sub(response, SCAN, "JobToken", job.token)
        job.write_image_information(response)
        write_document_parameters(response, final, element="DocumentFinalParameters")
        return root

    def _trim_history(self) -> None:
        finished = [j for j in self.jobs.values() if j.terminal]
        for job in finished[: max(0, len(finished) - self.settings.history_length)]:
            del self.jobs[job.id]

    def _set_state(self, job: Job, state: str, reasons: list[str]) -> None:
        job.state, job.reasons = state, reasons
        self.events.publish(
            "JobStatusEvent",
            lambda body: job.write_status(sub(body, SCAN, "JobStatusEvent")),
        )

    def _finish(self, job: Job, state: str, reasons: list[str]) -> None:
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None
        job.completed = self.wall_clock()
        self._set_state(job, state, reasons)
        self.events.publish(
            "JobEndStateEvent",
            lambda body: job.write_end_state(sub(body, SCAN, "JobEndStateEvent")),
        )
        self._status_changed()

    def _arm_timeout(self, job: Job) -> None:
        if job.timer is not None:
            job.timer.cancel()
        job.timer = asyncio.get_running_loop().call_later(
            self.settings.retrieve_timeout, self._timed_out, job
        )

    def _timed_out(self, job: Job) -> None:
        job.timer = None
        if not job.terminal:
            self._finish(job, "Aborted", ["JobTimedOut"])

    def _job(self, payload: etree._Element) -> Job:
        raw = text(payload, "JobId") or ""
        job = self.jobs.get(int(raw)) if raw.isdigit() else None
        if job is None:
            raise SoapFault.sender(SCAN, "ClientErrorJobIdNotFound", f"no job {raw!r}")
        return job

    def retrieve_image(self, payload: etree._Element) -> Transfer:
        """RetrieveImage: decide what to send next, or fault (end-of-feeder variants)."""
        job = self._job(payload)
        if text(payload, "JobToken") != job.token:
            raise SoapFault.sender(
                SCAN, "ClientErrorInvalidJobToken", "JobToken does not match"
            )
        if job.state == "Canceled":
            raise SoapFault.sender(
                SCAN, "ClientErrorJobCancelled", "the job was cancelled"
            )
        if job.state == "Aborted":
            raise SoapFault.receiver(
                SCAN,
                "OperationFailed",
                f"the job was aborted ({', '.join(job.reasons)})",
            )
        name = (
            text(payload, "DocumentDescription", "DocumentName")
            or f"image{job.delivered + 1}"
        )
        if not job.remaining:
            if (
                Quirk.END_OF_FEEDER_EMPTY_IMAGE in self.quirks
                and job.ticket.input_source != "Platen"
                and not job.end_of_feeder_image_sent
            ):
                job.end_of_feeder_image_sent = True
                return Transfer(job, [], empty=True)
            if (
                Quirk.END_OF_FEEDER_NOT_ACCEPTING_JOBS in self.quirks
                and job.ticket.input_source != "Platen"
            ):
                raise SoapFault.receiver(
                    SCAN, "ServerErrorNotAcceptingJobs", "no more documents"
                )
            if (
                Quirk.END_OF_FEEDER_JOB_ID_NOT_FOUND in self.quirks
                and job.ticket.input_source != "Platen"
            ):
                raise SoapFault.sender(
                    SCAN, "ClientErrorJobIdNotFound", f"no job {job.id}"
                )
            raise SoapFault.sender(
                SCAN, "ClientErrorNoImagesAvailable", "no more images"
            )
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None
        pages = job.remaining if job.multi_page else job.remaining[:1]
        job.document_names.append(name)
        self._set_state(job, "Processing", ["JobScanningAndTransferring"])
        return Transfer(job, pages)

    def transfer_finished(self, transfer: Transfer, *, complete: bool) -> None:
        """Account for a RetrieveImage response that was sent (fully or not)."""
        job = transfer.job
        if transfer.empty or job.terminal:
            return
        if not complete:
            self._finish(job, "Aborted", ["ImageTransferError"])
            return
        job.delivered += len(transfer.pages)
        if job.ticket.input_source != "Platen":
            self.feeder = max(
                0, self.feeder - sum(1 for p in transfer.pages if p.side == "front")
            )
            jam_after = self.settings.jam_after_images
            if jam_after is not None and job.delivered >= jam_after and job.remaining:
                self.raise_condition("MediaJam")  # aborts the job
                return
        if job.remaining:
            self._arm_timeout(job)
        else:
            self._finish(job, "Completed", ["JobCompletedSuccessfully"])

    def cancel_job(
        self, request: SoapRequest, payload: etree._Element
    ) -> etree._Element:
        """CancelJob: Pending/Processing jobs become Canceled."""
        job = self._job(payload)
        if job.terminal:
            raise SoapFault.sender(
                SCAN, "ClientErrorJobIdNotFound", f"job {job.id} already ended"
            )
        self._finish(job, "Canceled", [])
        root, _response = self._response(request, "CancelJob")
        return root

    def get_job_elements(
        self, request: SoapRequest, payload: etree._Element
    ) -> etree._Element:
        """GetJobElements: JobStatus / ScanTicket / Documents (QName or bare names)."""
        job = self._job(payload)
        names_node = child(payload, "RequestedElements")
        root, response = self._response(request, "GetJobElements")
        elements = sub(response, SCAN, "JobElements")
        for name in requested_names(names_node) if names_node is not None else []:
            local = name.rpartition(":")[2]
            data = sub(elements, SCAN, "ElementData")
            data.set("Name", name)
            data.set(
                "Valid",
                "true"
                if local in ("JobStatus", "ScanTicket", "Documents", "Document")
                else "false",
            )
            if local == "JobStatus":
                job.write_status(data)
            elif local == "ScanTicket":
                write_ticket(data, job.ticket)
            elif local in ("Documents", "Document"):
                job.write_documents(data)
        return root

    def list_jobs(self, request: SoapRequest, operation: str) -> etree._Element:
        """GetActiveJobs / GetJobHistory."""
        active = operation == "GetActiveJobs"
        root, response = self._response(request, operation)
        container = sub(response, SCAN, "ActiveJobs" if active else "JobHistory")
        for job in self.jobs.values():
            if job.terminal != active:
                job.write_summary(container)
        return root

    # --- push scan ----------------------------------------------------------------

    def press_scan_button(self, destination: str) -> str | None:
        """Send ScanAvailableEvent for a registered destination; return its ScanIdentifier."""
        found = self.events.find_destination(destination)
        if found is None:
            return None
        subscription, target = found
        scan_identifier = f"{self.profile.name}-scan-{self._next_scan_identifier}"
        self._next_scan_identifier += 1
        pending = PendingScan(
            scan_identifier,
            subscription,
            target.client_context,
            target.token,
            self.clock(),
        )
        pending.timer = asyncio.get_running_loop().call_later(
            self.settings.push_scan_window, self._push_window_passed, pending
        )
        self.pending_scans[scan_identifier] = pending
        source = "ADF" if self.feeder and self.profile.adf is not None else "Platen"

        def build(body: etree._Element) -> None:
            event = sub(body, SCAN, "ScanAvailableEvent")
            sub(event, SCAN, "ClientContext", target.client_context)
            sub(event, SCAN, "ScanIdentifier", scan_identifier)
            sub(event, SCAN, "InputSource", source)

        self.events.publish("ScanAvailableEvent", build, only=subscription)
        return scan_identifier

    def _push_window_passed(self, pending: PendingScan) -> None:
        pending.timer = None
        if self.pending_scans.pop(pending.scan_identifier, None) is not None:
            self.push_scan_failures.append(
                PushScanFailure(
                    pending.scan_identifier,
                    pending.client_context,
                    "no CreateScanJob within the device's window",
                )
            )
