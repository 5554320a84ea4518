"""The scan service's WS-Eventing event source and subscription manager (W3C, March 2006)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
import ipaddress
import logging
import re
from urllib.parse import urlsplit
import uuid

import aiohttp
from lxml import etree

from .settings import Settings
from .soap import (
    SCAN,
    SCAN_2006_01,
    WSA,
    WSDP,
    WSE,
    SoapFault,
    SoapRequest,
    Writer,
    child,
    children,
    serialize,
    sub,
    text,
)

_LOGGER = logging.getLogger(__name__)

PUSH_MODE = f"{WSE}/DeliveryModes/Push"
ACTION_DIALECT = f"{WSDP}/Action"
EVENTS = (
    "ScanAvailableEvent",
    "ScannerElementsChangeEvent",
    "ScannerStatusSummaryEvent",
    "ScannerStatusConditionEvent",
    "ScannerStatusConditionClearedEvent",
    "JobStatusEvent",
    "JobEndStateEvent",
)
EVENT_ACTIONS = frozenset(f"{SCAN}/{name}" for name in EVENTS)
_DURATION = re.compile(
    r"^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def parse_expires(value: str, now: datetime) -> float:
    """Return the lifetime in seconds of an xs:duration or xs:dateTime `Expires`."""
    match = _DURATION.match(value)
    if match and value not in ("P", "PT"):
        sign, years, months, days, hours, minutes, seconds = match.groups()
        total = (
            (int(years or 0) * 365 + int(months or 0) * 30 + int(days or 0)) * 86400
            + int(hours or 0) * 3600
            + int(minutes or 0) * 60
            + float(seconds or 0)
        )
        return -total if sign else total
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise SoapFault.sender(
            WSE, "UnsupportedExpirationType", f"cannot read Expires {value!r}"
        ) from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - now).total_seconds()


def format_duration(seconds: float) -> str:
    """Format a lifetime as an xs:duration such as `PT1H` or `PT90S`."""
    whole = max(0, round(seconds))
    if whole and whole % 3600 == 0:
        return f"PT{whole // 3600}H"
    if whole and whole % 60 == 0:
        return f"PT{whole // 60}M"
    return f"PT{whole}S"


def is_loopback_url(url: str) -> bool:
    """Whether `url` points at this machine (the only place the simulator may send to)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def filter_selects(entries: frozenset[str], action: str) -> bool:
    """Whether an Action-dialect filter selects `action` (segment-wise rfc2396 prefix)."""
    return any(
        action == entry or action.startswith(entry.rstrip("/") + "/")
        for entry in entries
    )


@dataclass
class Destination:
    """A ScanDestination registered by a subscriber (shown on the device panel)."""

    display_name: str
    client_context: str
    token: str


@dataclass
class Subscription:
    """One WS-Eventing subscription."""

    id: str
    notify_to: str
    notify_parameters: list[etree._Element]
    end_to: str | None
    end_parameters: list[etree._Element]
    actions: frozenset[str] | None
    expires_at: float
    destinations: list[Destination] = field(default_factory=list)

    @property
    def identifier(self) -> str:
        """The wse:Identifier reference parameter of the subscription manager EPR."""
        return f"urn:uuid:{self.id}"

    def wants(self, action: str) -> bool:
        """Whether the subscription's filter selects `action`."""
        return self.actions is None or filter_selects(self.actions, action)


@dataclass(frozen=True)
class Notification:
    """A delivery attempt, recorded for tests."""

    subscription_id: str
    action: str
    address: str
    status: int | None
    error: str | None = None


def _reference_parameters(epr: etree._Element | None) -> list[etree._Element]:
    params = child(epr, "ReferenceParameters")
    if params is None:
        return []
    return [copy.deepcopy(el) for el in params if isinstance(el.tag, str)]


class EventSource:
    """Subscriptions, their lifetimes, and in-order delivery of notifications."""

    def __init__(
        self,
        writer: Writer,
        manager_address: Callable[[], str],
        clock: Callable[[], float],
        wall_clock: Callable[[], datetime],
        settings: Settings,
    ) -> None:
        """Create an event source whose manager EPR is `manager_address()`.

        `settings` bound the subscription lifetimes it grants and how many it holds.
        """
        self.writer = writer
        self.manager_address = manager_address
        self.clock = clock
        self.wall_clock = wall_clock
        self.settings = settings
        self.subscriptions: dict[str, Subscription] = {}
        self.notifications: list[Notification] = []
        self._queue: asyncio.Queue[tuple[Subscription, str, bytes]] = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task[None] | None = None
        self._token_counter = 0
        #: Cleared by `hold()`: notifications queue up until `release()`.
        self._released = asyncio.Event()
        self._released.set()

    def hold(self) -> None:
        """Queue notifications without sending them until `release()`.

        A scanner whose events trail its images: the client knows a job ended before
        the job's Processing events arrive.
        """
        self._released.clear()

    def release(self) -> None:
        """Send the held notifications, in order, and the next ones at once."""
        self._released.set()

    async def start(self) -> None:
        """Start the delivery worker."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._worker = asyncio.create_task(self._deliver_forever())

    async def stop(self, *, status: str | None = f"{WSE}/SourceShuttingDown") -> None:
        """End every subscription (telling EndTo when `status` is given) and stop."""
        if status is not None:
            for subscription in list(self.subscriptions.values()):
                await self._send_subscription_end(subscription, status)
        self.subscriptions.clear()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._queue = asyncio.Queue()

    async def drain(self) -> None:
        """Wait until every queued notification was delivered (or failed)."""
        await self._queue.join()

    def live(self) -> list[Subscription]:
        """Drop expired subscriptions and return the others."""
        now = self.clock()
        for key in [k for k, s in self.subscriptions.items() if s.expires_at <= now]:
            del self.subscriptions[key]
        return list(self.subscriptions.values())

    def find_destination(self, name: str) -> tuple[Subscription, Destination] | None:
        """Find a live destination by display name or client context."""
        for subscription in self.live():
            for destination in subscription.destinations:
                if name in (destination.display_name, destination.client_context):
                    return subscription, destination
        return None

    def token_known(self, token: str) -> Destination | None:
        """Return the live destination owning a DestinationToken."""
        for subscription in self.live():
            for destination in subscription.destinations:
                if destination.token == token:
                    return destination
        return None

    # --- operations -------------------------------------------------------------

    def _granted(self, requested: str | None) -> float:
        if requested is None:
            return self.settings.max_subscription_seconds
        lifetime = parse_expires(requested, self.wall_clock())
        if lifetime <= 0:
            raise SoapFault.sender(
                WSE, "InvalidExpirationTime", "Expires is zero or in the past"
            )
        return min(lifetime, self.settings.max_subscription_seconds)

    def subscribe(self, request: SoapRequest, body: etree._Element) -> etree._Element:
        """Handle Subscribe; return the SubscribeResponse envelope."""
        delivery = child(body, "Delivery")
        if delivery is None:
            raise SoapFault.sender(WSE, "InvalidMessage", "Subscribe without Delivery")
        if delivery.get("Mode", PUSH_MODE) != PUSH_MODE:
            raise SoapFault.sender(
                WSE,
                "DeliveryModeRequestedUnavailable",
                "only Push delivery is supported",
            )
        notify_to = child(delivery, "NotifyTo")
        address = text(notify_to, "Address")
        if not address or urlsplit(address).scheme not in ("http", "https"):
            raise SoapFault.sender(
                WSE, "InvalidMessage", "NotifyTo must be an HTTP URL"
            )
        slots = self.settings.subscription_slots
        if slots is not None and len(self.live()) >= slots:
            raise SoapFault.receiver(
                WSE, "EventSourceUnableToProcess", "no free subscription slot"
            )
        actions = self._filter(child(body, "Filter"))
        lifetime = self._granted(text(body, "Expires"))
        end_to = child(body, "EndTo")
        subscription = Subscription(
            id=str(uuid.uuid4()),
            notify_to=address,
            notify_parameters=_reference_parameters(notify_to),
            end_to=text(end_to, "Address"),
            end_parameters=_reference_parameters(end_to),
            actions=actions,
            expires_at=self.clock() + lifetime,
        )
        destinations = child(body, "ScanDestinations")
        if destinations is not None:
            for node in children(destinations, "ScanDestination"):
                self._token_counter += 1
                subscription.destinations.append(
                    Destination(
                        display_name=text(node, "ClientDisplayName")
                        or text(node, "ClientDisplayString")
                        or "",
                        client_context=text(node, "ClientContext") or "",
                        token=f"dt-{self._token_counter:04d}-{uuid.uuid4().hex[:8]}",
                    )
                )
        self.subscriptions[subscription.id] = subscription
        root, _header, response_body = self.writer.envelope(
            f"{WSE}/SubscribeResponse", relates_to=request.message_id
        )
        response = sub(response_body, WSE, "SubscribeResponse")
        self._write_manager(response, subscription)
        sub(response, WSE, "Expires", format_duration(lifetime))
        if subscription.destinations:
            responses = sub(response, SCAN, "DestinationResponses")
            for destination in subscription.destinations:
                item = sub(responses, SCAN, "DestinationResponse")
                sub(item, SCAN, "ClientContext", destination.client_context)
                sub(item, SCAN, "DestinationToken", destination.token)
        return root

    def _write_manager(
        self, parent: etree._Element, subscription: Subscription
    ) -> None:
        """Append the SubscriptionManager EPR, its wse:Identifier naming `subscription`."""
        manager = sub(parent, WSE, "SubscriptionManager")
        sub(manager, WSA, "Address", self.manager_address())
        parameters = sub(manager, WSA, "ReferenceParameters")
        sub(parameters, WSE, "Identifier", subscription.identifier)

    def _filter(self, node: etree._Element | None) -> frozenset[str] | None:
        if node is None:
            return None
        dialect = node.get("Dialect", ACTION_DIALECT)
        if dialect != ACTION_DIALECT:
            raise SoapFault.sender(
                WSE,
                "FilteringRequestedUnavailable",
                f"filter dialect {dialect} unsupported",
            )
        entries = frozenset(
            entry.replace(SCAN_2006_01, SCAN) for entry in (node.text or "").split()
        )
        if not any(filter_selects(entries, action) for action in EVENT_ACTIONS):
            raise SoapFault.sender(
                WSDP, "FilterActionNotSupported", "no event matches the filter"
            )
        return entries

    def _subscription_of(
        self, request: SoapRequest, fault_subcode: str
    ) -> Subscription:
        identifier = request.header_value("Identifier") or ""
        for subscription in self.live():
            if subscription.identifier == identifier:
                return subscription
        if fault_subcode == "UnableToRenew":
            raise SoapFault.receiver(
                WSE, fault_subcode, "unknown or expired subscription"
            )
        raise SoapFault.sender(WSA, fault_subcode, "unknown or expired subscription")

    def renew(self, request: SoapRequest, body: etree._Element) -> etree._Element:
        """Handle Renew."""
        subscription = self._subscription_of(request, "UnableToRenew")
        lifetime = self._granted(text(body, "Expires"))
        subscription.expires_at = self.clock() + lifetime
        return self._expires_response("RenewResponse", request, lifetime)

    def get_status(self, request: SoapRequest) -> etree._Element:
        """Handle GetStatus."""
        subscription = self._subscription_of(request, "DestinationUnreachable")
        return self._expires_response(
            "GetStatusResponse", request, subscription.expires_at - self.clock()
        )

    def unsubscribe(self, request: SoapRequest) -> etree._Element:
        """Handle Unsubscribe."""
        subscription = self._subscription_of(request, "DestinationUnreachable")
        del self.subscriptions[subscription.id]
        root, _header, body = self.writer.envelope(
            f"{WSE}/UnsubscribeResponse", relates_to=request.message_id
        )
        sub(body, WSE, "UnsubscribeResponse")
        return root

    def _expires_response(
        self, name: str, request: SoapRequest, lifetime: float
    ) -> etree._Element:
        root, _header, body = self.writer.envelope(
            f"{WSE}/{name}", relates_to=request.message_id
        )
        sub(sub(body, WSE, name), WSE, "Expires", format_duration(lifetime))
        return root

    # --- delivery ---------------------------------------------------------------

    def publish(
        self,
        event: str,
        build: Callable[[etree._Element], None],
        *,
        only: Subscription | None = None,
    ) -> int:
        """Queue event `event` (a local name) for every subscription that wants it.

        `build` appends the event's body element. Returns the number of notifications.
        """
        action = f"{SCAN}/{event}"
        targets = (
            [only] if only is not None else [s for s in self.live() if s.wants(action)]
        )
        for subscription in targets:
            root, _header, body = self.writer.envelope(
                action,
                to=subscription.notify_to,
                extra_headers=[
                    copy.deepcopy(p) for p in subscription.notify_parameters
                ],
            )
            build(body)
            self._queue.put_nowait((subscription, action, serialize(root)))
        return len(targets)

    async def _post(self, address: str, payload: bytes) -> int:
        if not is_loopback_url(address):
            raise ConnectionRefusedError(
                "the simulator only sends to loopback addresses"
            )
        assert self._session is not None
        async with self._session.post(
            address,
            data=payload,
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        ) as response:
            await response.read()
            return response.status

    async def _deliver_forever(self) -> None:
        while True:
            subscription, action, payload = await self._queue.get()
            await self._released.wait()
            try:
                if subscription.id not in self.subscriptions:
                    continue
                try:
                    status = await self._post(subscription.notify_to, payload)
                except (aiohttp.ClientError, OSError, TimeoutError) as err:
                    self.notifications.append(
                        Notification(
                            subscription.id,
                            action,
                            subscription.notify_to,
                            None,
                            str(err) or type(err).__name__,
                        )
                    )
                    await self._delivery_failed(subscription)
                    continue
                self.notifications.append(
                    Notification(
                        subscription.id, action, subscription.notify_to, status
                    )
                )
                if status >= 300:
                    await self._delivery_failed(subscription)
            finally:
                self._queue.task_done()

    async def _delivery_failed(self, subscription: Subscription) -> None:
        self.subscriptions.pop(subscription.id, None)
        await self._send_subscription_end(subscription, f"{WSE}/DeliveryFailure")

    async def _send_subscription_end(
        self, subscription: Subscription, status: str
    ) -> None:
        if subscription.end_to is None:
            return
        root, _header, body = self.writer.envelope(
            f"{WSE}/SubscriptionEnd",
            to=subscription.end_to,
            extra_headers=[copy.deepcopy(p) for p in subscription.end_parameters],
        )
        end = sub(body, WSE, "SubscriptionEnd")
        self._write_manager(end, subscription)
        sub(end, WSE, "Status", status)
        try:
            await self._post(subscription.end_to, serialize(root))
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            _LOGGER.debug("SubscriptionEnd to %s failed: %s", subscription.end_to, err)
