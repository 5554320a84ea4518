"""One coordinator per scanner: status by WS-Eventing push, polling while push fails.

The coordinator subscribes to the scan service's status events with a notify URL served
by Home Assistant (`notify.py`). It polls GetScannerElements(ScannerStatus) until the
first notification proves that the scanner reaches that URL, and again whenever the
subscription is lost (refused, scanner gone, callback unreachable). Repair issues say why
push does not work; they disappear when it does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
import logging
from typing import TYPE_CHECKING, Final, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import (
    CONF_CALLBACK_URL,
    CONF_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DOMAIN,
    NOTIFY_PATH,
)
from .storage import StoredScan
from .wsd import (
    STATUS_EVENTS,
    DeviceInfo,
    ErrorKind,
    EventingClient,
    JobState,
    NotificationHandler,
    PostScanJobStatus,
    ScanClient,
    ScannerElements,
    ScannerStatus,
    Subscription,
    SubscriptionManager,
    WsdError,
    WsdEvent,
)
from .wsd.discovery import url_host
from .wsd.models import (
    JobEndStateEvent,
    JobStatusEvent,
    ScannerElementsChangeEvent,
    ScannerStatusConditionClearedEvent,
    ScannerStatusConditionEvent,
    ScannerStatusSummaryEvent,
)

if TYPE_CHECKING:
    from .panel import PanelScans
    from .runner import ScanRunner

_LOGGER = logging.getLogger(__name__)

#: Requested subscription lifetime. Short, as onvif does: devices cannot list or collect
#: forgotten subscriptions, and each renewal (at half of it) doubles as a liveness check.
SUBSCRIPTION_LIFETIME: Final = 600.0

#: Errors that mean the scanner is not there, as opposed to refusing the subscription.
_ABSENT: Final = frozenset({ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT})


class PushIssue(StrEnum):
    """Repair issues about WS-Eventing push (translation keys under `issues`)."""

    NO_CALLBACK_URL = "no_callback_url"
    SUBSCRIPTION_REFUSED = "subscription_refused"
    CALLBACK_UNREACHABLE = "callback_unreachable"


class PushState(StrEnum):
    """How status reaches Home Assistant."""

    #: Not subscribed (no callback URL, refused, scanner gone): polling.
    OFF = "off"
    #: Subscribed, but no notification has arrived yet: polling until one does.
    PENDING = "pending"
    #: Notifications arrive: no polling.
    WORKING = "working"


@dataclass(frozen=True, slots=True)
class JobProgress:
    """The scan job the scanner reported last."""

    job_id: str
    state: JobState
    reasons: tuple[str, ...] = ()
    #: Images scanned so far (ScansCompleted), when the scanner says.
    pages: int | None = None


@dataclass(frozen=True, slots=True)
class ScannerData:
    """What the entities show: the scanner's status, its latest job, the last scan."""

    status: ScannerStatus
    job: JobProgress | None = None
    last_scan: StoredScan | None = None
    #: The post-scan job of the latest scan handed to the endpoint.
    post_scan: PostScanJobStatus | None = None


def apply_event(data: ScannerData, event: WsdEvent) -> ScannerData:
    """Return `data` with a status or job event applied."""
    status = data.status
    match event:
        case ScannerStatusSummaryEvent():
            status = replace(
                status,
                state=event.state,
                raw_state=event.raw_state,
                reasons=event.reasons,
            )
        case ScannerStatusConditionEvent(condition=condition):
            others = tuple(
                active
                for active in status.active_conditions
                if active.condition_id != condition.condition_id
            )
            status = replace(status, active_conditions=(*others, condition))
        case ScannerStatusConditionClearedEvent(condition_id=cleared):
            status = replace(
                status,
                active_conditions=tuple(
                    active
                    for active in status.active_conditions
                    if active.condition_id != cleared
                ),
            )
        case ScannerElementsChangeEvent(elements=ScannerElements(status=new_status)):
            status = new_status or status
        case JobStatusEvent() | JobEndStateEvent():
            return replace(
                data,
                job=JobProgress(
                    event.job_id,
                    event.state,
                    event.reasons,
                    _pages(data.job, event.job_id, event.scans_completed),
                ),
            )
        case _:
            return data
    return replace(data, status=status)


def _pages(known: JobProgress | None, job_id: str, pages: int | None) -> int | None:
    """Return a job's page count: it only grows (events and received pages race)."""
    if known is None or known.job_id != job_id or known.pages is None:
        return pages
    return known.pages if pages is None else max(known.pages, pages)


def _same_status(first: ScannerStatus, second: ScannerStatus) -> bool:
    """Whether two statuses show the same (the device clock always differs)."""
    return (first.state, first.problems) == (second.state, second.problems)


@dataclass(slots=True)
class WsdScanRuntimeData:
    """What a loaded config entry holds while it runs."""

    device: DeviceInfo
    elements: ScannerElements
    scan_client: ScanClient
    coordinator: WsdScanCoordinator
    runner: ScanRunner
    panel: PanelScans


type WsdScanConfigEntry = ConfigEntry[WsdScanRuntimeData]


class WsdScanCoordinator(DataUpdateCoordinator[ScannerData]):
    """Keeps one scanner's status current, by push where possible."""

    config_entry: WsdScanConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WsdScanConfigEntry,
        *,
        device: DeviceInfo,
        scan_client: ScanClient,
        status: ScannerStatus,
        handler: NotificationHandler,
        device_hosts: frozenset[str],
        last_scan: StoredScan | None = None,
    ) -> None:
        """Start from the status read at setup; `handler` routes notifications."""
        self._poll_interval = timedelta(
            seconds=entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL)
        )
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=device.name,
            update_interval=self._poll_interval,
        )
        self.data = ScannerData(status, last_scan=last_scan)
        self.scan_client = scan_client
        self.device_hosts = device_hosts
        self._handler = handler
        self.notify_base_url: str | None = None
        self.manager: SubscriptionManager | None = None
        self._subscription_id: str | None = None
        self._push_confirmed = False

    @property
    def push_state(self) -> PushState:
        """How status currently reaches Home Assistant."""
        if self._subscription_id is None:
            return PushState.OFF
        return PushState.WORKING if self._push_confirmed else PushState.PENDING

    async def async_start_push(self) -> None:
        """Subscribe to status events; without a callback URL, poll and raise an issue."""
        try:
            base_url = self.config_entry.options.get(CONF_CALLBACK_URL) or get_url(
                self.hass, allow_cloud=False, prefer_external=False
            )
        except NoURLAvailableError:
            _LOGGER.debug("No URL of Home Assistant for %s to notify", self.name)
            self._create_issue(PushIssue.NO_CALLBACK_URL)
            return
        self.notify_base_url = base_url.rstrip("/")
        self.manager = SubscriptionManager(
            EventingClient(self.scan_client.session, self.scan_client.url),
            self._handler,
            notify_url=self.notify_url,
            device_hosts=self.device_hosts,
            actions=STATUS_EVENTS,
            listener=self._handle_event,
            on_change=self._subscription_changed,
            expires=SUBSCRIPTION_LIFETIME,
        )
        await self.manager.start()

    @callback
    def async_resubscribe(self) -> None:
        """Subscribe again now: the scanner restarted (a Hello with a new InstanceId)."""
        if self.manager is not None:
            self.manager.resubscribe()

    @override
    async def async_shutdown(self) -> None:
        """Stop polling, unsubscribe and withdraw this scanner's repair issues."""
        await super().async_shutdown()
        if self.manager is not None:
            self.manager.on_change = None
            await self.manager.stop()
            self.manager = None
        self._subscription_id = None
        for issue in PushIssue:
            ir.async_delete_issue(self.hass, DOMAIN, self._issue_id(issue))

    @override
    async def _async_update_data(self) -> ScannerData:
        """Poll the status (only while push does not work)."""
        try:
            status = await self.scan_client.get_status()
        except WsdError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="unreachable",
                translation_placeholders={"name": self.name, "error": str(err)},
            ) from err
        if self.push_state is PushState.PENDING and not _same_status(
            status, self.data.status
        ):
            # The status changed, yet no notification came: the scanner cannot reach
            # the callback URL (firewall, container network, wrong URL override).
            self._create_issue(PushIssue.CALLBACK_UNREACHABLE)
        return replace(self.data, status=status)

    @callback
    def async_job_progress(self, job_id: str, state: JobState, pages: int) -> None:
        """Show how a job started here is going (pages as they arrive, its end)."""
        known = self.data.job
        reasons = (
            known.reasons
            if known is not None and (known.job_id, known.state) == (job_id, state)
            else ()
        )
        self._async_show(
            replace(
                self.data,
                job=JobProgress(job_id, state, reasons, _pages(known, job_id, pages)),
            )
        )

    @callback
    def async_scan_stored(self, scan: StoredScan | None) -> None:
        """Show a newly stored scan as the last one (None: the library has none)."""
        self._async_show(replace(self.data, last_scan=scan))

    @callback
    def async_post_scan_progress(self, status: PostScanJobStatus) -> None:
        """Show how handing a scan to the post-scan endpoint goes."""
        self._async_show(replace(self.data, post_scan=status))

    @callback
    def _async_show(self, data: ScannerData) -> None:
        """Update the entities with what Home Assistant did, not what the scanner said.

        Unlike `async_set_updated_data`, this neither claims that the scanner answered
        nor moves the next poll.
        """
        self.data = data
        self.async_update_listeners()

    def notify_url(self, identifier: str) -> str:
        """Return the URL the scanner posts notifications for `identifier` to."""
        return f"{self.notify_base_url}{NOTIFY_PATH}/{identifier}"

    @callback
    def _handle_event(self, event: WsdEvent) -> None:
        if not self._push_confirmed:
            _LOGGER.debug("Notifications from %s arrive; polling stops", self.name)
            self._push_confirmed = True
            self.update_interval = None
            ir.async_delete_issue(
                self.hass, DOMAIN, self._issue_id(PushIssue.CALLBACK_UNREACHABLE)
            )
        self.async_set_updated_data(apply_event(self.data, event))

    @callback
    def _subscription_changed(self, subscription: Subscription | None) -> None:
        if subscription is None:
            self._subscription_id = None
            assert self.manager is not None
            error = self.manager.last_error
            if error is not None and error.kind not in _ABSENT:
                self._create_issue(PushIssue.SUBSCRIPTION_REFUSED, str(error))
            self._poll()
            return
        ir.async_delete_issue(
            self.hass, DOMAIN, self._issue_id(PushIssue.SUBSCRIPTION_REFUSED)
        )
        if subscription.identifier != self._subscription_id:
            # A new subscription (not a renewal): events may have been missed meanwhile,
            # and whether this one delivers is unknown until a notification arrives.
            self._subscription_id = subscription.identifier
            self._poll()

    @callback
    def _poll(self) -> None:
        """Poll from now on, starting at once, until a notification arrives."""
        self._push_confirmed = False
        self.update_interval = self._poll_interval
        if self._listeners:
            self.config_entry.async_create_background_task(
                self.hass, self.async_request_refresh(), f"{DOMAIN} status poll"
            )

    def _issue_id(self, issue: PushIssue) -> str:
        return f"{issue}_{self.config_entry.entry_id}"

    def _create_issue(self, issue: PushIssue, error: str = "") -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id(issue),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=issue,
            translation_placeholders={
                "name": self.name,
                "url": f"{self.notify_base_url}{NOTIFY_PATH}"
                if self.notify_base_url
                else "",
                "error": error,
            },
            data={"entry_id": self.config_entry.entry_id},
        )


def hosts_of(urls: Iterable[str]) -> frozenset[str]:
    """Return the hosts of the scanner's addresses (notifications must come from one)."""
    return frozenset(host for url in urls if (host := url_host(url)))
