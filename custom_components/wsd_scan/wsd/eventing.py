"""WS-Eventing for scan services: subscriptions, notifications and keeping them alive.

* `EventingClient` — Subscribe (status events, or ScanAvailableEvent with ScanDestinations),
  Renew, GetStatus and Unsubscribe against one scan service.
* `decode_event` — a notification envelope → a typed event from `models`.
* `NotificationHandler` — what the caller's HTTP endpoint hands every notification to: it
  accepts only live subscription identifiers from the device's own address, caps the body
  size, decodes the event, tells the subscription's listener and says what to answer
  (202 with an empty body).
* `SubscriptionManager` — keeps one subscription alive: renews before the granted expiry,
  subscribes again after a failed renewal, a SubscriptionEnd or a device reboot (told by
  its Hello: `announced`).
* `check_notify_url`, `check_delivery` — whether a notify URL reaches the caller's
  handler, and whether the device accepts it and delivers to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
import logging
import re
from typing import Final
import uuid

import aiohttp
from aiohttp import web
from lxml import etree

from . import soap
from .addresses import normalize_host
from .elements import int_or_none, parse_condition, parse_scanner_elements, parse_status
from .exceptions import ErrorKind, WsdError
from .models import (
    AppSequence,
    JobEndStateEvent,
    JobState,
    JobStatusEvent,
    ScanAvailableEvent,
    ScanDestination,
    ScannerElementsChangeEvent,
    ScannerStatusConditionClearedEvent,
    ScannerStatusConditionEvent,
    ScannerStatusSummaryEvent,
    Subscription,
    SubscriptionEndEvent,
    WsdEvent,
)
from .recent import RecentIds
from .xml import (
    SCAN,
    WSDP,
    WSE,
    Element,
    Envelope,
    build_envelope,
    element,
    find,
    findall,
    local_name,
    parse,
    parse_envelope,
    sub,
    text,
)

_LOGGER = logging.getLogger(__name__)

STATUS_EVENTS: Final = tuple(
    f"{SCAN}/{name}"
    for name in (
        "ScannerElementsChangeEvent",
        "ScannerStatusSummaryEvent",
        "ScannerStatusConditionEvent",
        "ScannerStatusConditionClearedEvent",
        "JobStatusEvent",
        "JobEndStateEvent",
    )
)
SCAN_AVAILABLE_EVENT: Final = f"{SCAN}/ScanAvailableEvent"
ACTION_DIALECT: Final = f"{WSDP}/Action"
PUSH_MODE: Final = f"{WSE}/DeliveryModes/Push"
#: Requested lifetime; devices may grant less (Epson: 15 minutes).
DEFAULT_EXPIRES: Final = 3600.0
#: Notifications are a few kilobytes; ScannerElementsChangeEvent of a big MFP the most.
MAX_NOTIFICATION_SIZE: Final = 256 * 1024
#: The action of the notification `check_notify_url` posts (no device sends it).
NOTIFY_URL_CHECK: Final = "urn:wsd-scan:notify-url-check"
#: Lifetime asked for the subscription of `check_delivery` (it is ended right after).
CHECK_EXPIRES: Final = 60.0

_DURATION: Final = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
_JOB_STATES: Final = {state.value: state for state in JobState} | {
    "Held": JobState.PENDING_HELD
}

type Clock = Callable[[], datetime]
type Sleep = Callable[[float], Awaitable[None]]
type EventListener = Callable[[WsdEvent], None]


def parse_expires(value: str | None, now: datetime) -> float | None:
    """Return the lifetime in seconds of an xs:duration or xs:dateTime, None if unknown."""
    if not value:
        return None
    value = value.strip()
    if (match := _DURATION.match(value)) and value not in {"P", "PT"}:
        years, months, days, hours, minutes, seconds = match.groups()
        return (
            (int(years or 0) * 365 + int(months or 0) * 30 + int(days or 0)) * 86400
            + int(hours or 0) * 3600
            + int(minutes or 0) * 60
            + float(seconds or 0)
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        _LOGGER.debug("unreadable Expires %r", value)
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - now).total_seconds()


def format_duration(seconds: float) -> str:
    """Format a lifetime as an xs:duration (`PT1H`, `PT15M`, `PT90S`)."""
    whole = max(1, round(seconds))
    if whole % 3600 == 0:
        return f"PT{whole // 3600}H"
    if whole % 60 == 0:
        return f"PT{whole // 60}M"
    return f"PT{whole}S"


def _endpoint(parent: Element, tag: str, address: str, identifier: str) -> None:
    """Append an EPR whose reference parameter the device echoes in notifications."""
    reference = sub(parent, tag)
    sub(reference, "wsa:Address", address)
    sub(sub(reference, "wsa:ReferenceParameters"), "wse:Identifier", identifier)


class EventingClient:
    """WS-Eventing requests to one scan service (its own event source and manager)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        timeout: float = soap.REQUEST_TIMEOUT,
        now: Clock = lambda: datetime.now(UTC),
    ) -> None:
        """Use `session` to reach the scan service at `url`; `now` reads the wall clock."""
        self.session = session
        self.url = url
        self.timeout = timeout
        self.now = now

    async def _post(
        self, url: str, action: str, body: Element, headers: Iterable[Element] = ()
    ) -> Envelope | None:
        payload = build_envelope(f"{WSE}/{action}", url, body, headers=headers)
        return await soap.post(self.session, url, payload, timeout=self.timeout)

    async def subscribe(
        self,
        notify_url: str,
        actions: Sequence[str],
        *,
        identifier: str | None = None,
        destinations: Sequence[ScanDestination] = (),
        expires: float = DEFAULT_EXPIRES,
    ) -> Subscription:
        """Subscribe `notify_url` to `actions`; ScanDestinations register panel entries.

        Shaped like Windows 10 (EndTo and NotifyTo with a wse:Identifier reference
        parameter): Epson WF-3640 / ET-2750 expect exactly that.
        """
        identifier = identifier or f"urn:uuid:{uuid.uuid4()}"
        request = element("wse:Subscribe")
        _endpoint(request, "wse:EndTo", notify_url, identifier)
        delivery = sub(request, "wse:Delivery")
        delivery.set("Mode", PUSH_MODE)
        _endpoint(delivery, "wse:NotifyTo", notify_url, identifier)
        sub(request, "wse:Expires", format_duration(expires))
        sub(request, "wse:Filter", " ".join(actions)).set("Dialect", ACTION_DIALECT)
        if destinations:
            registrations = sub(request, "sca:ScanDestinations")
            for destination in destinations:
                entry = sub(registrations, "sca:ScanDestination")
                sub(entry, "sca:ClientDisplayName", destination.display_name)
                sub(entry, "sca:ClientContext", destination.client_context)
        envelope = await self._post(self.url, "Subscribe", request)
        answer = envelope.payload if envelope is not None else None
        manager = (
            find(answer, "wse:SubscriptionManager") if answer is not None else None
        )
        address = text(manager, "wsa:Address")
        if answer is None or manager is None or address is None:
            raise WsdError(ErrorKind.PROTOCOL, "SubscribeResponse without a manager")
        return Subscription(
            identifier=identifier,
            notify_url=notify_url,
            manager_address=address,
            manager_parameters=tuple(
                etree.tostring(parameter)
                for parameter in findall(manager, "wsa:ReferenceParameters/*")
            ),
            expires_in=parse_expires(text(answer, "wse:Expires"), self.now()),
            destination_tokens={
                context: token
                for node in findall(
                    answer, "sca:DestinationResponses/sca:DestinationResponse"
                )
                if (context := text(node, "sca:ClientContext")) is not None
                and (token := text(node, "sca:DestinationToken")) is not None
            },
        )

    async def _manage(
        self, subscription: Subscription, action: str, body: Element
    ) -> Element | None:
        """Send a request to the subscription manager, its reference parameters as headers."""
        headers = [parse(parameter) for parameter in subscription.manager_parameters]
        envelope = await self._post(
            subscription.manager_address, action, body, headers=headers
        )
        return envelope.payload if envelope is not None else None

    async def renew(
        self, subscription: Subscription, expires: float = DEFAULT_EXPIRES
    ) -> Subscription:
        """Renew; return the subscription with its newly granted lifetime."""
        request = element("wse:Renew")
        sub(request, "wse:Expires", format_duration(expires))
        answer = await self._manage(subscription, "Renew", request)
        granted = parse_expires(text(answer, "wse:Expires"), self.now())
        return replace(subscription, expires_in=granted or subscription.expires_in)

    async def get_status(self, subscription: Subscription) -> float | None:
        """Return the remaining lifetime the device reports (GetStatus is optional)."""
        answer = await self._manage(subscription, "GetStatus", element("wse:GetStatus"))
        return parse_expires(text(answer, "wse:Expires"), self.now())

    async def unsubscribe(self, subscription: Subscription) -> None:
        """End the subscription (its ScanDestinations disappear from the panel)."""
        await self._manage(subscription, "Unsubscribe", element("wse:Unsubscribe"))


# --- notifications ----------------------------------------------------------------------


def _job_state(value: str | None) -> JobState:
    return _JOB_STATES.get(local_name(value or ""), JobState.UNKNOWN)


def _reasons(node: Element | None, path: str) -> tuple[str, ...]:
    if node is None:
        return ()
    return tuple(
        local_name(r.text) for r in findall(node, path) if r.text and r.text.strip()
    )


def _decode_scan_event(name: str, payload: Element) -> WsdEvent | None:
    if name == "ScanAvailableEvent":
        context = text(payload, "sca:ClientContext")
        identifier = text(payload, "sca:ScanIdentifier")
        if context is None or identifier is None:
            return None
        return ScanAvailableEvent(context, identifier, text(payload, "sca:InputSource"))
    if name == "ScannerElementsChangeEvent":
        return ScannerElementsChangeEvent(parse_scanner_elements(payload))
    if name == "ScannerStatusSummaryEvent":
        summary = find(payload, "sca:StatusSummary")
        if summary is None:
            return None
        status = parse_status(summary)
        return ScannerStatusSummaryEvent(status.state, status.raw_state, status.reasons)
    if name == "ScannerStatusConditionEvent":
        condition = find(payload, "sca:DeviceCondition")
        return (
            ScannerStatusConditionEvent(parse_condition(condition))
            if condition is not None
            else None
        )
    if name == "ScannerStatusConditionClearedEvent":
        cleared = find(payload, "sca:DeviceConditionCleared")
        condition_id = text(cleared, "sca:ConditionId")
        if condition_id is None:
            return None
        return ScannerStatusConditionClearedEvent(
            condition_id, text(cleared, "sca:ConditionClearTime")
        )
    if name == "JobStatusEvent":
        job = find(payload, "sca:JobStatus")
        job_id = text(job, "sca:JobId")
        if job_id is None:
            return None
        return JobStatusEvent(
            job_id,
            _job_state(text(job, "sca:JobState")),
            _reasons(job, "sca:JobStateReasons/sca:JobStateReason"),
            int_or_none(text(job, "sca:ScansCompleted")),
        )
    if name == "JobEndStateEvent":
        end = find(payload, "sca:JobEndState")
        job_id = text(end, "sca:JobId")
        if job_id is None:
            return None
        return JobEndStateEvent(
            job_id,
            _job_state(text(end, "sca:JobCompletedState")),
            _reasons(end, "sca:JobCompletedStateReasons/sca:JobStateReason"),
            int_or_none(text(end, "sca:ScansCompleted")),
            text(end, "sca:JobName"),
        )
    return None


def decode_event(envelope: Envelope) -> WsdEvent | None:
    """Decode a notification; None for bodies this library does not know."""
    payload = envelope.payload
    if payload is None:
        return None
    qname = etree.QName(payload)
    if qname.namespace == WSE and qname.localname == "SubscriptionEnd":
        status = text(payload, "wse:Status")
        return SubscriptionEndEvent(status or "", text(payload, "wse:Reason"))
    if qname.namespace == SCAN:
        return _decode_scan_event(qname.localname, payload)
    return None


@dataclass(frozen=True, slots=True)
class NotificationReply:
    """What to answer the device, and the event it sent (None when rejected/unknown)."""

    status: int
    event: WsdEvent | None = None
    identifier: str | None = None


@dataclass(slots=True)
class _Registration:
    #: None: from any address.
    hosts: frozenset[str] | None
    listener: EventListener


class NotificationHandler:
    """Accepts notifications for live subscriptions only; mount one per HTTP endpoint."""

    def __init__(
        self, *, max_body_size: int = MAX_NOTIFICATION_SIZE, remembered: int = 64
    ) -> None:
        """Create a handler; `remembered` MessageIDs are kept to drop repeated deliveries."""
        self.max_body_size = max_body_size
        self._registrations: dict[str, _Registration] = {}
        self._seen = RecentIds(remembered)

    def register(
        self,
        identifier: str,
        device_hosts: Iterable[str] | None,
        listener: EventListener,
    ) -> None:
        """Accept notifications for `identifier` sent from one of `device_hosts`.

        None accepts them from any address: only for `check_notify_url`, whose sender
        is the caller itself, seen through whatever NAT the URL passes.
        """
        hosts = (
            None
            if device_hosts is None
            else frozenset(normalize_host(h) for h in device_hosts)
        )
        self._registrations[identifier] = _Registration(hosts, listener)

    def unregister(self, identifier: str) -> None:
        """Stop accepting notifications for `identifier`."""
        self._registrations.pop(identifier, None)

    def handle(
        self,
        source: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        path_identifier: str | None = None,
    ) -> NotificationReply:
        """Check, decode and dispatch one notification; return what to answer.

        The identifier is the echoed wse:Identifier header, else the one the caller took
        from the URL path (some devices drop reference parameters).
        """
        declared = int_or_none(headers.get("Content-Length"))
        if len(body) > self.max_body_size or (declared or 0) > self.max_body_size:
            return NotificationReply(413)
        try:
            envelope = parse_envelope(body, max_size=self.max_body_size)
        except WsdError as err:
            _LOGGER.debug("malformed notification from %s: %s", source, err)
            return NotificationReply(400)
        echoed = text(envelope.header, "wse:Identifier")
        identifier = echoed or path_identifier
        registration = self._registrations.get(identifier or "")
        if (
            identifier is None
            or registration is None
            or (echoed and path_identifier and echoed != path_identifier)
            or (
                registration.hosts is not None
                and normalize_host(source) not in registration.hosts
            )
        ):
            _LOGGER.debug("rejected a notification for %s from %s", identifier, source)
            return NotificationReply(403)
        if self._seen.seen(envelope.message_id):
            return NotificationReply(202, identifier=identifier)
        event = decode_event(envelope)
        if event is not None:
            registration.listener(event)
        return NotificationReply(202, event, identifier)

    async def aiohttp_handler(self, request: web.Request) -> web.Response:
        """Serve notifications with aiohttp.web (route may capture `{identifier}`)."""
        body = bytearray()
        # One byte past the cap is enough to refuse the body.
        while chunk := await request.content.read(self.max_body_size + 1 - len(body)):
            body += chunk
        reply = self.handle(
            request.remote or "",
            request.headers,
            bytes(body),
            path_identifier=request.match_info.get("identifier"),
        )
        return web.Response(status=reply.status)


# --- checking a notify URL ---------------------------------------------------------------


async def check_notify_url(
    session: aiohttp.ClientSession,
    handler: NotificationHandler,
    notify_url: Callable[[str], str],
    *,
    timeout: float = soap.REQUEST_TIMEOUT,
) -> None:
    """Check that a notification posted to `notify_url(identifier)` reaches `handler`.

    The notification is for a fresh identifier that only `handler` knows, accepted from
    any address for the moment of the check: `handler` answers it 202, any other server
    refuses it (another handler answers 403 to an identifier it does not know, other
    servers 404 or nothing). Raises `WsdError` (UNREACHABLE, TIMEOUT, or PROTOCOL for
    another answer) when it does not arrive.
    """
    identifier = f"urn:uuid:{uuid.uuid4()}"
    url = notify_url(identifier)
    handler.register(identifier, None, lambda _event: None)
    try:
        async with (
            asyncio.timeout(timeout),
            soap.exchange(
                session, url, build_envelope(NOTIFY_URL_CHECK, url)
            ) as answer,
        ):
            status = answer.status
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        raise soap.connection_error(url, err) from err
    finally:
        handler.unregister(identifier)
    if status != web.HTTPAccepted.status_code:
        raise WsdError(
            ErrorKind.PROTOCOL,
            f"{url} answered HTTP {status}: it is not served by this notification handler",
        )


async def check_delivery(
    client: EventingClient,
    handler: NotificationHandler,
    *,
    notify_url: Callable[[str], str],
    device_hosts: Iterable[str],
    actions: Sequence[str],
    wait: float,
) -> bool:
    """Subscribe with `notify_url`, wait up to `wait` seconds for a notification, end it.

    Returns whether a notification arrived. Devices notify only when something changes,
    so none arriving proves nothing. A refused Subscribe raises its `WsdError`.
    """
    arrived = asyncio.Event()
    identifier = f"urn:uuid:{uuid.uuid4()}"
    handler.register(identifier, device_hosts, lambda _event: arrived.set())
    try:
        subscription = await client.subscribe(
            notify_url(identifier),
            actions,
            identifier=identifier,
            expires=CHECK_EXPIRES,
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await arrived.wait()
        try:
            await client.unsubscribe(subscription)
        except WsdError as err:
            _LOGGER.debug("Unsubscribe after the delivery check failed: %s", err)
        return arrived.is_set()
    finally:
        handler.unregister(identifier)


# --- keeping a subscription alive ------------------------------------------------------


class SubscriptionManager:
    """Keeps one subscription alive until `stop`.

    Renews at `renew_fraction` of the granted lifetime; when a renewal fails, the device
    ends the subscription or `resubscribe()` is called, it subscribes again — with new
    DestinationTokens, reported through `on_change`. Subscribe failures are retried with a
    growing delay. A device's Hello (`announced`) checks the subscription at once, so a
    restarted device is registered again within seconds, not at the next renewal. Samsung
    M288x adds a panel entry for every Subscribe: the old subscription is ended first, and
    nothing re-subscribes while the current one is healthy.
    """

    def __init__(
        self,
        client: EventingClient,
        handler: NotificationHandler,
        *,
        notify_url: Callable[[str], str],
        device_hosts: Iterable[str],
        actions: Sequence[str],
        listener: EventListener,
        destinations: Sequence[ScanDestination] = (),
        on_change: Callable[[Subscription | None], None] | None = None,
        expires: float = DEFAULT_EXPIRES,
        renew_fraction: float = 0.5,
        retry_delay: float = 10.0,
        max_retry_delay: float = 300.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Prepare the manager; `notify_url(identifier)` gives the sink URL to register."""
        self.client = client
        self.handler = handler
        self.notify_url = notify_url
        self.device_hosts = tuple(device_hosts)
        self.actions = tuple(actions)
        self.listener = listener
        self.destinations = tuple(destinations)
        self.on_change = on_change
        self.expires = expires
        self.renew_fraction = renew_fraction
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.sleep = sleep
        self.subscription: Subscription | None = None
        self.last_error: WsdError | None = None
        self._failures = 0
        self._resubscribe = False
        #: The device's AppSequence InstanceId, once a Hello told it.
        self._instance_id: int | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def destination_tokens(self) -> dict[str, str]:
        """DestinationToken per ClientContext of the current subscription."""
        return dict(self.subscription.destination_tokens) if self.subscription else {}

    async def start(self) -> None:
        """Subscribe (failures are retried in the background) and start renewing."""
        await self._subscribe()
        self._task = asyncio.create_task(self._run(), name="wsd subscription")

    async def stop(self) -> None:
        """Stop renewing and unsubscribe; leaves no task behind."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._end_current()
        self._set(None)

    def resubscribe(self) -> None:
        """Subscribe again now (the device restarted or dropped the subscription)."""
        self._resubscribe = True
        self._wake.set()

    def announced(self, sequence: AppSequence | None) -> None:
        """Check the subscription now: the device sent a Hello (it joined the network).

        A higher InstanceId than the last Hello's means a restart (WS-Discovery 1.1 §7):
        subscribe again. A Hello whose InstanceId is not known to be the same as before
        (the first one heard, or none in it) may follow a restart nobody saw: renew now;
        a device that forgot the subscription refuses, and the failed renewal subscribes
        again. Without a subscription (the device was away), subscribe now, and should
        that fail (its web server may start later), retry after `retry_delay`, not
        after the long delay reached while it was away.
        """
        self._failures = 0
        known = self._instance_id
        if sequence is not None:
            self._instance_id = sequence.instance_id
        if self.subscription is None or (
            sequence is not None and known is not None and sequence.instance_id > known
        ):
            self.resubscribe()
        elif sequence is None or known is None:
            self._wake.set()

    def _set(self, subscription: Subscription | None) -> None:
        self.subscription = subscription
        if self.on_change is not None:
            self.on_change(subscription)

    def _dispatch(self, event: WsdEvent) -> None:
        if isinstance(event, SubscriptionEndEvent):
            _LOGGER.debug("the device ended the subscription: %s", event.status)
            self.resubscribe()
        self.listener(event)

    def _next_delay(self) -> float:
        if self.subscription is None:
            backoff: float = self.retry_delay * 2 ** max(self._failures - 1, 0)
            return min(backoff, self.max_retry_delay)
        lifetime = self.subscription.expires_in
        return max(1.0, (lifetime or self.expires) * self.renew_fraction)

    async def _run(self) -> None:
        while True:
            await self._wait(self._next_delay())
            if self._resubscribe or self.subscription is None:
                await self._subscribe()
            else:
                await self._renew()

    async def _wait(self, delay: float) -> None:
        """Sleep `delay` seconds, or less when `resubscribe` is called."""
        if self._wake.is_set():
            self._wake.clear()
            return
        sleeper = asyncio.ensure_future(self.sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in (sleeper, waker):
                waiting.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)
        self._wake.clear()

    async def _end_current(self) -> None:
        current = self.subscription
        if current is None:
            return
        self.handler.unregister(current.identifier)
        try:
            await self.client.unsubscribe(current)
        except WsdError as err:
            _LOGGER.debug(
                "Unsubscribe failed (the device may have forgotten it): %s", err
            )

    async def _subscribe(self) -> None:
        self._resubscribe = False
        await self._end_current()
        identifier = f"urn:uuid:{uuid.uuid4()}"
        # Registered first: devices may notify before the SubscribeResponse arrives.
        self.handler.register(identifier, self.device_hosts, self._dispatch)
        try:
            subscription = await self.client.subscribe(
                self.notify_url(identifier),
                self.actions,
                identifier=identifier,
                destinations=self.destinations,
                expires=self.expires,
            )
        except WsdError as err:
            self.handler.unregister(identifier)
            self._failures += 1
            self.last_error = err
            _LOGGER.debug("Subscribe failed (attempt %d): %s", self._failures, err)
            self._set(None)
            return
        self._failures = 0
        self.last_error = None
        self._set(subscription)

    async def _renew(self) -> None:
        assert self.subscription is not None
        try:
            renewed = await self.client.renew(self.subscription, self.expires)
        except WsdError as err:
            # Samsung C480W answered Renew with HTTP 500; a fresh Subscribe works.
            _LOGGER.debug("Renew failed, subscribing again: %s", err)
            self.last_error = err
            await self._subscribe()
            return
        self._set(renewed)
