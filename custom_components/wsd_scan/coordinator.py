"""One coordinator per scanner: status by WS-Eventing push, polling while push fails.

Set up like HA's wled coordinator: `_async_setup` describes the scanner once (DPWS
metadata, GetScannerElements), every refresh reads its status. Status events arrive
through a subscription made by the scanner's `Push` (push.py), posted to the
notification view (notification_view.py). The coordinator polls
GetScannerElements(ScannerStatus) until the first notification proves that the scanner
reaches Home Assistant, and again whenever the subscription is lost (refused, scanner
gone, callback unreachable). While notifications arrive it asks the scanner nothing:
every `LIVENESS_INTERVAL` it only opens a connection to it, to notice a scanner that was
switched off (it sends nothing), and every `STATUS_READ_EVERY`-th time it reads the
status, in case an event was lost. Repair issues say why push does not work; they
disappear when it does.

The coordinator's data is the scanner's own status. Job events are handed on to
`on_job_event`: what Home Assistant shows of scans is kept on the runner's side
(runner.py `ScanActivity`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
import logging
from typing import Final, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import (
    CONF_POLL_INTERVAL,
    CONF_XADDRS,
    DEFAULT_POLL_INTERVAL,
    DOMAIN,
    NOTIFY_PATH,
)
from .push import ABSENT, Push
from .wsd import (
    STATUS_EVENTS,
    DeviceInfo,
    ScanClient,
    ScannerElements,
    ScannerStatus,
    Subscription,
    SubscriptionManager,
    WsdError,
    WsdEvent,
    get_device_info,
    quirks_for,
)
from .wsd.models import (
    JobEndStateEvent,
    JobStatusEvent,
    ScannerElementsChangeEvent,
    ScannerStatusConditionClearedEvent,
    ScannerStatusConditionEvent,
    ScannerStatusSummaryEvent,
)

_LOGGER = logging.getLogger(__name__)

#: Requested subscription lifetime. Short, as onvif does: devices cannot list or collect
#: forgotten subscriptions, and each renewal (at half of it) doubles as a liveness check.
SUBSCRIPTION_LIFETIME: Final = 600.0

#: How often the scanner is checked while notifications arrive: a scanner switched off
#: sends nothing, and only a connection attempt finds it gone (unavailable within a
#: minute, with the attempt's own timeout).
LIVENESS_INTERVAL: Final = timedelta(seconds=45)
#: Every this many liveness checks, the status is read (every 15 minutes): events carry
#: every change, this only repairs one that got lost.
STATUS_READ_EVERY: Final = 20

type JobEvent = JobStatusEvent | JobEndStateEvent


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
    #: Notifications arrive: liveness checks, a rare status read.
    WORKING = "working"


def apply_event(status: ScannerStatus, event: WsdEvent) -> ScannerStatus:
    """Return `status` with a status event applied (other events change nothing)."""
    match event:
        case ScannerStatusSummaryEvent():
            return replace(
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
            return replace(status, active_conditions=(*others, condition))
        case ScannerStatusConditionClearedEvent(condition_id=cleared):
            return replace(
                status,
                active_conditions=tuple(
                    active
                    for active in status.active_conditions
                    if active.condition_id != cleared
                ),
            )
        case ScannerElementsChangeEvent(elements=ScannerElements(status=new_status)):
            return new_status or status
    return status


def _same_status(first: ScannerStatus, second: ScannerStatus) -> bool:
    """Whether two statuses show the same (the device clock always differs)."""
    return (first.state, first.problems) == (second.state, second.problems)


class WsdScanCoordinator(DataUpdateCoordinator[ScannerStatus]):
    """Keeps one scanner's status current, by push where possible."""

    config_entry: ConfigEntry
    device: DeviceInfo
    elements: ScannerElements
    scan_client: ScanClient

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        push: Push,
        *,
        on_job_event: Callable[[JobEvent], None],
    ) -> None:
        """Subscribe with `push`, poll until it works; job events go to `on_job_event`."""
        self._poll_interval = timedelta(
            seconds=entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL)
        )
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=self._poll_interval,
        )
        self.push = push
        self._on_job_event = on_job_event
        self.manager: SubscriptionManager | None = None
        self._subscription_id: str | None = None
        self._push_confirmed = False
        #: Liveness checks since the status was last read.
        self._liveness_checks = 0

    @property
    def push_state(self) -> PushState:
        """How status currently reaches Home Assistant."""
        if self._subscription_id is None:
            return PushState.OFF
        return PushState.WORKING if self._push_confirmed else PushState.PENDING

    @override
    async def _async_setup(self) -> None:
        """Describe the scanner: its metadata, scan service and capabilities."""
        entry = self.config_entry
        xaddrs: list[str] = entry.data[CONF_XADDRS]
        session = async_get_clientsession(self.hass)
        try:
            self.device = await get_device_info(
                session, entry.unique_id or xaddrs[0], xaddrs
            )
            if self.device.scan_service_url is None:
                raise ConfigEntryNotReady(
                    translation_domain=DOMAIN,
                    translation_key="no_scan_service",
                    translation_placeholders={"host": entry.data[CONF_HOST]},
                )
            self.scan_client = ScanClient(
                session,
                self.device.scan_service_url,
                quirks=quirks_for(self.device.manufacturer, self.device.model),
            )
            self.elements = await self.scan_client.get_elements()
        except WsdError as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={
                    "host": entry.data[CONF_HOST],
                    "error": str(err),
                },
            ) from err
        self.name = self.device.name

    async def async_start_push(self) -> None:
        """Subscribe to status events; without a callback URL, poll and raise an issue."""
        self.manager = self.push.subscription(
            self.scan_client,
            actions=STATUS_EVENTS,
            listener=self._handle_event,
            on_change=self._subscription_changed,
            expires=SUBSCRIPTION_LIFETIME,
        )
        if self.manager is None:
            _LOGGER.debug("No URL of Home Assistant for %s to notify", self.name)
            self._create_issue(PushIssue.NO_CALLBACK_URL)
            return
        await self.manager.start()

    @override
    async def async_shutdown(self) -> None:
        """Stop polling, unsubscribe and withdraw this scanner's repair issues."""
        await super().async_shutdown()
        if (manager := self.manager) is not None:
            self.manager = None
            manager.on_change = None
            await self.push.async_unsubscribe(manager)
        self._subscription_id = None
        for issue in PushIssue:
            ir.async_delete_issue(self.hass, DOMAIN, self._issue_id(issue))

    @override
    async def _async_update_data(self) -> ScannerStatus:
        """Read the status (at setup, by polling), or only check that it is there."""
        try:
            if self._liveness_check_only():
                await self.scan_client.check_reachable()
                return self.data
            status = await self.scan_client.get_status()
        except WsdError as err:
            # Gone, or not answering: poll until it answers and notifies again.
            self._push_confirmed = False
            self.update_interval = self._poll_interval
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="unreachable",
                translation_placeholders={"name": self.name, "error": str(err)},
            ) from err
        if self.push_state is PushState.PENDING and not _same_status(status, self.data):
            # The status changed, yet no notification came: the scanner cannot reach
            # the callback URL (firewall, container network, wrong URL override).
            self._create_issue(PushIssue.CALLBACK_UNREACHABLE)
        return status

    def _liveness_check_only(self) -> bool:
        """Whether this refresh only checks that the scanner is there (push works)."""
        if self.push_state is not PushState.WORKING:
            return False
        self._liveness_checks += 1
        if self._liveness_checks < STATUS_READ_EVERY:
            return True
        self._liveness_checks = 0
        return False

    @callback
    def _handle_event(self, event: WsdEvent) -> None:
        if not self._push_confirmed:
            _LOGGER.debug("Notifications from %s arrive; polling slows", self.name)
            self._push_confirmed = True
            self._liveness_checks = 0
            self.update_interval = LIVENESS_INTERVAL
            ir.async_delete_issue(
                self.hass, DOMAIN, self._issue_id(PushIssue.CALLBACK_UNREACHABLE)
            )
        if isinstance(event, (JobStatusEvent, JobEndStateEvent)):
            self._on_job_event(event)
            return
        self.async_set_updated_data(apply_event(self.data, event))

    @callback
    def _subscription_changed(self, subscription: Subscription | None) -> None:
        if subscription is None:
            self._subscription_id = None
            assert self.manager is not None
            error = self.manager.last_error
            if error is not None and error.kind not in ABSENT:
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
        base_url = self.push.base_url
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id(issue),
            # The fix flow (repairs.py) asks for the callback URL.
            is_fixable=issue is not PushIssue.SUBSCRIPTION_REFUSED,
            severity=ir.IssueSeverity.WARNING,
            translation_key=issue,
            translation_placeholders={
                "name": self.name,
                "url": f"{base_url}{NOTIFY_PATH}" if base_url else "",
                "error": error,
            },
            data={"entry_id": self.config_entry.entry_id},
        )
