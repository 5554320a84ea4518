"""WS-Eventing against the simulator: subscriptions, notifications, keeping them alive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.wsd_scan.wsd import ScanClient, build_ticket
from custom_components.wsd_scan.wsd.eventing import (
    SCAN_AVAILABLE_EVENT,
    STATUS_EVENTS,
    EventingClient,
    NotificationHandler,
    SubscriptionManager,
    check_delivery,
    check_notify_url,
    format_duration,
    parse_expires,
)
from custom_components.wsd_scan.wsd.exceptions import ErrorKind, WsdError, WsdFault
from custom_components.wsd_scan.wsd.models import (
    AppSequence,
    JobEndStateEvent,
    JobState,
    JobStatusEvent,
    ScanAvailableEvent,
    ScanDestination,
    ScannerElementsChangeEvent,
    ScannerState,
    ScannerStatusConditionClearedEvent,
    ScannerStatusConditionEvent,
    ScannerStatusSummaryEvent,
    ScanSettings,
    Subscription,
    SubscriptionEndEvent,
    WsdEvent,
)
from simulator import SimulatedScanner

pytestmark = pytest.mark.usefixtures("socket_enabled")

NOW = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)
DESTINATIONS = (
    ScanDestination("Home Assistant", "ha-default"),
    ScanDestination("Home Assistant PDF", "ha-pdf"),
)


@dataclass
class Sink:
    """A loopback HTTP event sink serving a `NotificationHandler`."""

    handler: NotificationHandler
    base_url: str
    events: list[WsdEvent] = field(default_factory=list)

    def url(self, identifier: str) -> str:
        """Return the notify URL for a subscription identifier."""
        return f"{self.base_url}/events/{identifier}"

    def listen(self, event: WsdEvent) -> None:
        """Record an event."""
        self.events.append(event)


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    """Start an aiohttp server on loopback routing /events/{identifier} to a handler."""
    handler = NotificationHandler()
    app = web.Application()
    app.router.add_post("/events/{identifier}", handler.aiohttp_handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield Sink(handler, f"http://{host}:{port}")
    await runner.cleanup()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedScanner]:
    """Start an office MFP without UDP discovery."""
    async with SimulatedScanner("office_mfp", discovery=False) as scanner:
        yield scanner


async def subscribe(
    client: EventingClient,
    sink: Sink,
    actions: tuple[str, ...] = STATUS_EVENTS,
    destinations: tuple[ScanDestination, ...] = (),
) -> Subscription:
    """Subscribe and register the subscription with the sink's handler."""
    identifier = "urn:uuid:00000000-0000-4000-8000-000000000001"
    sink.handler.register(identifier, ["127.0.0.1"], sink.listen)
    return await client.subscribe(
        sink.url(identifier), actions, identifier=identifier, destinations=destinations
    )


async def test_status_events_are_decoded(
    session: aiohttp.ClientSession, sim: SimulatedScanner, sink: Sink
) -> None:
    """Conditions raised and cleared on the device arrive as typed events."""
    client = EventingClient(session, sim.scan_url)
    subscription = await subscribe(client, sink)
    assert subscription.expires_in == 3600
    assert subscription.manager_address == sim.scan_url
    assert subscription.destination_tokens == {}

    sim.raise_condition("MediaJam")
    sim.clear_condition("MediaJam")
    sim.set_scanner_name("Renamed")
    await sim.wait_for_notifications()

    condition = next(
        e for e in sink.events if isinstance(e, ScannerStatusConditionEvent)
    )
    assert condition.condition.name == "MediaJam"
    assert condition.condition.critical
    summaries = [e for e in sink.events if isinstance(e, ScannerStatusSummaryEvent)]
    assert summaries[0].state is ScannerState.STOPPED
    assert "MediaJam" in summaries[0].reasons
    assert summaries[-1].state is ScannerState.IDLE
    cleared = next(
        e for e in sink.events if isinstance(e, ScannerStatusConditionClearedEvent)
    )
    assert cleared.condition_id == condition.condition.condition_id
    change = next(e for e in sink.events if isinstance(e, ScannerElementsChangeEvent))
    assert change.elements.description is not None
    assert change.elements.description.name == "Renamed"


async def test_job_events(
    session: aiohttp.ClientSession, sim: SimulatedScanner, sink: Sink, tmp_path: Path
) -> None:
    """A scan produces JobStatusEvents and a JobEndStateEvent."""
    await subscribe(EventingClient(session, sim.scan_url), sink)
    scanner = ScanClient(session, sim.scan_url)
    elements = await scanner.get_elements()
    assert elements.capabilities is not None
    ticket = build_ticket(elements.capabilities, ScanSettings(resolution=75))
    result = await scanner.scan(ticket, tmp_path / "scans")
    await sim.wait_for_notifications()
    statuses = [e for e in sink.events if isinstance(e, JobStatusEvent)]
    assert statuses[0] == JobStatusEvent(
        result.job_id, JobState.STARTED, ("JobScanning",), 0
    )
    end = next(e for e in sink.events if isinstance(e, JobEndStateEvent))
    assert end.job_id == result.job_id
    assert end.state is JobState.COMPLETED
    assert end.scans_completed == 1


async def test_renew_get_status_unsubscribe(
    session: aiohttp.ClientSession, sim: SimulatedScanner, sink: Sink
) -> None:
    """Renew and GetStatus report the lifetime; Unsubscribe removes the subscription."""
    client = EventingClient(session, sim.scan_url)
    subscription = await subscribe(client, sink)
    renewed = await client.renew(subscription, 600)
    assert renewed.expires_in == 600
    assert renewed.identifier == subscription.identifier
    remaining = await client.get_status(renewed)
    assert remaining is not None
    assert 0 < remaining <= 600
    await client.unsubscribe(renewed)
    assert sim.subscriptions == {}
    with pytest.raises(WsdFault) as err:
        await client.renew(renewed)
    assert err.value.subcode == "UnableToRenew"


async def test_push_scan(
    session: aiohttp.ClientSession, sim: SimulatedScanner, sink: Sink, tmp_path: Path
) -> None:
    """Two destinations, a button press, then CreateScanJob with identifier and token."""
    subscription = await subscribe(
        EventingClient(session, sim.scan_url),
        sink,
        (SCAN_AVAILABLE_EVENT,),
        DESTINATIONS,
    )
    assert set(subscription.destination_tokens) == {"ha-default", "ha-pdf"}

    assert sim.press_scan_button("Home Assistant PDF")
    await sim.wait_for_notifications()
    (event,) = sink.events
    assert isinstance(event, ScanAvailableEvent)
    assert event.client_context == "ha-pdf"

    scanner = ScanClient(session, sim.scan_url)
    elements = await scanner.get_elements()
    assert elements.capabilities is not None
    ticket = build_ticket(elements.capabilities, ScanSettings(resolution=75))
    result = await scanner.scan(
        ticket,
        tmp_path / "scans",
        scan_identifier=event.scan_identifier,
        destination_token=subscription.destination_tokens[event.client_context],
    )
    assert len(result.pages) == 1
    assert sim.jobs[int(result.job_id)].scan_identifier == event.scan_identifier


async def test_stale_destination_token(
    session: aiohttp.ClientSession, sim: SimulatedScanner, sink: Sink, tmp_path: Path
) -> None:
    """An unknown token is STALE_DESTINATION: re-subscribe and wait for the next press."""
    scanner = ScanClient(session, sim.scan_url)
    elements = await scanner.get_elements()
    assert elements.capabilities is not None
    ticket = build_ticket(elements.capabilities, ScanSettings(resolution=75))
    with pytest.raises(WsdError) as err:
        await scanner.scan(
            ticket, tmp_path, scan_identifier="nope", destination_token="stale"
        )
    assert err.value.kind is ErrorKind.STALE_DESTINATION
    assert getattr(err.value, "subcode", "") in {
        "ClientErrorInvalidDestinationToken",
        "ClientErrorInvalidScanIdentifier",
    }


# --- the handler's checks ---------------------------------------------------------------

IDENTIFIER = "urn:uuid:11111111-2222-4333-8444-555555555555"


def notification(
    identifier: str = IDENTIFIER,
    message_id: str = "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001",
    body: str = (
        "<sca:ScanAvailableEvent><sca:ClientContext>ha-default</sca:ClientContext>"
        "<sca:ScanIdentifier>42</sca:ScanIdentifier><sca:InputSource>ADF</sca:InputSource>"
        "</sca:ScanAvailableEvent>"
    ),
) -> bytes:
    """Return a notification envelope like devices send."""
    return (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
        ' xmlns:e="http://schemas.xmlsoap.org/ws/2004/08/eventing"'
        ' xmlns:sca="http://schemas.microsoft.com/windows/2006/08/wdp/scan"><s:Header>'
        f"<a:MessageID>{message_id}</a:MessageID><e:Identifier>{identifier}</e:Identifier>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def registered_handler(events: list[WsdEvent]) -> NotificationHandler:
    """Return a handler with one live subscription from 192.0.2.40."""
    handler = NotificationHandler(max_body_size=4096)
    handler.register(IDENTIFIER, ["192.0.2.40"], events.append)
    return handler


def test_accepts_live_identifier_from_the_device() -> None:
    """202 with the decoded event; repeated deliveries are answered but not re-sent."""
    events: list[WsdEvent] = []
    handler = registered_handler(events)
    reply = handler.handle("::ffff:192.0.2.40", {}, notification())
    assert reply.status == 202
    assert reply.event == ScanAvailableEvent("ha-default", "42", "ADF")
    assert reply.identifier == IDENTIFIER
    assert handler.handle("192.0.2.40", {}, notification()).status == 202
    assert events == [reply.event]


@pytest.mark.parametrize(
    ("source", "body", "path_identifier", "headers", "status"),
    [
        ("192.0.2.66", notification(), None, {}, 403),  # wrong source
        ("192.0.2.40", notification(identifier="urn:uuid:spoofed"), None, {}, 403),
        ("192.0.2.40", notification(identifier=""), None, {}, 403),
        ("192.0.2.40", notification(), "urn:uuid:other", {}, 403),
        ("192.0.2.40", b"<not-xml", None, {}, 400),
        ("192.0.2.40", b"<a/>" + b" " * 5000, None, {}, 413),
        ("192.0.2.40", notification(), None, {"Content-Length": "99999"}, 413),
    ],
)
def test_rejects_without_side_effects(
    source: str,
    body: bytes,
    path_identifier: str | None,
    headers: dict[str, str],
    status: int,
) -> None:
    """Spoofed identifiers, foreign senders, garbage and oversized bodies are refused."""
    events: list[WsdEvent] = []
    reply = registered_handler(events).handle(
        source, headers, body, path_identifier=path_identifier
    )
    assert reply.status == status
    assert reply.event is None
    assert events == []


def test_identifier_from_the_path_and_unregister() -> None:
    """Without an echoed header, the URL path routes; unregistered ones are refused."""
    events: list[WsdEvent] = []
    handler = registered_handler(events)
    body = notification(identifier="").replace(b"<e:Identifier></e:Identifier>", b"")
    assert (
        handler.handle("192.0.2.40", {}, body, path_identifier=IDENTIFIER).status == 202
    )
    handler.unregister(IDENTIFIER)
    other = notification(message_id="urn:uuid:aaaaaaaa-0000-4000-8000-000000000002")
    assert handler.handle("192.0.2.40", {}, other).status == 403
    assert len(events) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            (
                "<e:SubscriptionEnd><e:Status>http://schemas.xmlsoap.org/ws/2004/08/eventing/"
                "SourceShuttingDown</e:Status><e:Reason>bye</e:Reason></e:SubscriptionEnd>"
            ),
            SubscriptionEndEvent(
                "http://schemas.xmlsoap.org/ws/2004/08/eventing/SourceShuttingDown",
                "bye",
            ),
        ),
        (
            (
                "<sca:JobEndStateEvent><sca:JobEndState><sca:JobId>5</sca:JobId>"
                "<sca:JobCompletedState>Held</sca:JobCompletedState><sca:JobCompletedStateReasons>"
                "<sca:JobStateReason>x:Vendor</sca:JobStateReason></sca:JobCompletedStateReasons>"
                "<sca:JobName>n</sca:JobName><sca:ScansCompleted>bad</sca:ScansCompleted>"
                "</sca:JobEndState></sca:JobEndStateEvent>"
            ),
            JobEndStateEvent("5", JobState.PENDING_HELD, ("Vendor",), None, "n"),
        ),
        (
            (
                "<sca:JobStatusEvent><sca:JobStatus><sca:JobState>Odd</sca:JobState>"
                "</sca:JobStatus></sca:JobStatusEvent>"
            ),
            None,
        ),
        ("<sca:JobEndStateEvent/>", None),
        ("<sca:ScanAvailableEvent/>", None),
        ("<sca:ScannerStatusSummaryEvent/>", None),
        ("<sca:ScannerStatusConditionEvent/>", None),
        ("<sca:ScannerStatusConditionClearedEvent/>", None),
        ("<sca:SomethingNew/>", None),
        ("<other xmlns='urn:x'/>", None),
        ("", None),
    ],
)
def test_decoding_edge_cases(body: str, expected: WsdEvent | None) -> None:
    """Odd and incomplete bodies decode to None (still 202), vendor values survive."""
    events: list[WsdEvent] = []
    reply = registered_handler(events).handle("192.0.2.40", {}, notification(body=body))
    assert reply.status == 202
    assert reply.event == expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("PT1H", 3600),
        ("PT15M", 900),
        ("P1DT0.5S", 86400.5),
        ("P1Y2M", (365 + 60) * 86400),
        (" PT90S ", 90),
        ("2024-05-14T10:00:00Z", 3600),
        ("2024-05-14T09:30:00", 1800),
        ("P", None),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_expires(value: str | None, seconds: float | None) -> None:
    """Durations and absolute times both become a lifetime in seconds."""
    assert parse_expires(value, NOW) == seconds


def test_format_duration() -> None:
    """Lifetimes are written the way Windows writes them."""
    assert [format_duration(s) for s in (3600, 900, 90, 0)] == [
        "PT1H",
        "PT15M",
        "PT90S",
        "PT1S",
    ]


async def test_subscribe_answer_without_manager(
    session: aiohttp.ClientSession, http_device: object
) -> None:
    """A SubscribeResponse without SubscriptionManager is a protocol error."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            body=notification(body="<e:SubscribeResponse/>"),
            content_type="application/soap+xml",
        )

    url = await http_device(answer)  # type: ignore[operator]
    with pytest.raises(WsdError) as err:
        await EventingClient(session, url).subscribe(
            "http://127.0.0.1/x", STATUS_EVENTS
        )
    assert err.value.kind is ErrorKind.PROTOCOL


# --- the subscription manager ----------------------------------------------------------


class GatedSleep:
    """Stands in for asyncio.sleep: returns at once `free` times, then when released."""

    def __init__(self, free: int = 0) -> None:
        """Allow `free` immediate returns."""
        self.delays: list[float] = []
        self._permits = asyncio.Semaphore(free)

    async def __call__(self, delay: float) -> None:
        """Record `delay` and wait for a permit."""
        self.delays.append(delay)
        await self._permits.acquire()

    def release(self) -> None:
        """Let one sleep end."""
        self._permits.release()


@dataclass
class Changes:
    """Subscriptions reported through `on_change`, with a way to wait for the next."""

    seen: list[Subscription | None] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, subscription: Subscription | None) -> None:
        """Record a change."""
        self.seen.append(subscription)
        self.changed.set()

    async def count(self, total: int) -> Subscription | None:
        """Wait until `total` changes were reported; return the latest."""
        async with asyncio.timeout(10):  # a hang guard, not a timing assertion
            while len(self.seen) < total:
                self.changed.clear()
                await self.changed.wait()
        return self.seen[-1]


@dataclass
class Managed:
    """A started subscription manager, what it reported and what it slept."""

    manager: SubscriptionManager
    changes: Changes
    sleep: GatedSleep

    @property
    def subscription(self) -> Subscription:
        """The current subscription (there must be one)."""
        assert self.manager.subscription is not None
        return self.manager.subscription


type StartManager = Callable[..., Awaitable[Managed]]


@pytest.fixture
async def managed(
    session: aiohttp.ClientSession, sim: SimulatedScanner, sink: Sink
) -> AsyncIterator[StartManager]:
    """Start subscription managers for `sim` (panel entries unless told); stop them after.

    `managed(sleep, **options)`: `options` replace the manager's defaults.
    """
    started: list[SubscriptionManager] = []

    async def start(sleep: GatedSleep | None = None, **options: Any) -> Managed:
        changes = Changes()
        sleep = sleep or GatedSleep()
        defaults: dict[str, Any] = {
            "notify_url": sink.url,
            "device_hosts": ["127.0.0.1"],
            "actions": (SCAN_AVAILABLE_EVENT,),
            "destinations": DESTINATIONS,
            "listener": sink.listen,
            "expires": 900,
        }
        subscriptions = SubscriptionManager(
            EventingClient(session, sim.scan_url),
            sink.handler,
            **(defaults | options),
            on_change=changes,
            sleep=sleep,
        )
        started.append(subscriptions)
        await subscriptions.start()
        return Managed(subscriptions, changes, sleep)

    yield start
    for subscriptions in started:
        await subscriptions.stop()


async def test_manager_renews_at_half_life_and_stops_cleanly(
    sim: SimulatedScanner, sink: Sink, managed: StartManager
) -> None:
    """Renewals at half the granted lifetime keep subscription and tokens; stop() ends."""
    sim.settings.max_subscription_seconds = 120
    subscriptions = await managed(GatedSleep(free=2))
    first = subscriptions.subscription
    assert first.expires_in == 120  # 900 s asked, 120 s granted
    tokens = subscriptions.manager.destination_tokens
    assert set(tokens) == {"ha-default", "ha-pdf"}
    await subscriptions.changes.count(3)  # subscribed, then renewed twice
    assert subscriptions.sleep.delays[:2] == [60, 60]
    assert subscriptions.subscription == first
    assert subscriptions.manager.destination_tokens == tokens
    assert len(sim.subscriptions) == 1

    assert sim.press_scan_button("Home Assistant")
    await sim.wait_for_notifications()
    assert [type(e) for e in sink.events] == [ScanAvailableEvent]

    await subscriptions.manager.stop()
    assert sim.subscriptions == {}
    assert subscriptions.manager.subscription is None
    assert subscriptions.changes.seen[-1] is None


async def test_manager_resubscribes_after_reboot(
    sim: SimulatedScanner, sink: Sink, managed: StartManager
) -> None:
    """After a reboot the renewal fails; a new subscription brings new tokens."""
    await sim.reboot()  # nothing subscribed yet: a reboot leaves the device usable
    subscriptions = await managed()
    old = subscriptions.subscription
    await sim.reboot()
    assert sim.subscriptions == {}
    subscriptions.sleep.release()  # time to renew: it fails, and it subscribes again
    renewed = await subscriptions.changes.count(2)
    assert renewed is not None
    assert renewed.identifier != old.identifier
    assert renewed.destination_tokens != old.destination_tokens
    assert len(sim.subscriptions) == 1

    # Notifications for the old identifier are refused now.
    stale = sink.handler.handle(
        "127.0.0.1", {}, notification(identifier=old.identifier)
    )
    assert stale.status == 403
    assert sim.press_scan_button("Home Assistant PDF")
    await sim.wait_for_notifications()
    assert isinstance(sink.events[-1], ScanAvailableEvent)


async def test_manager_resubscribe_on_request_and_subscription_end(
    sim: SimulatedScanner, sink: Sink, managed: StartManager
) -> None:
    """resubscribe() (a Hello with a new InstanceId) and SubscriptionEnd both renew."""
    subscriptions = await managed()
    first = subscriptions.subscription

    subscriptions.manager.resubscribe()
    second = await subscriptions.changes.count(2)
    assert second is not None
    assert second.identifier != first.identifier
    # The old registration was ended first (Samsung M288x multiplies panel entries).
    assert len(sim.subscriptions) == 1

    end = notification(
        identifier=second.identifier,
        body="<e:SubscriptionEnd><e:Status>http://schemas.xmlsoap.org/ws/2004/08/"
        "eventing/SourceCanceling</e:Status></e:SubscriptionEnd>",
    )
    assert sink.handler.handle("127.0.0.1", {}, end).status == 202
    third = await subscriptions.changes.count(3)
    assert third is not None
    assert third.identifier != second.identifier
    assert isinstance(sink.events[-1], SubscriptionEndEvent)


async def test_manager_checks_itself_on_every_new_hello(
    sim: SimulatedScanner, managed: StartManager
) -> None:
    """A Hello renews at once when its InstanceId is new to the manager, else nothing.

    The first Hello heard may follow a restart nobody saw: the renewal tells (a healthy
    subscription is kept, with its DestinationTokens). A higher InstanceId than the
    last Hello's is a restart: subscribe again without asking.
    """
    subscriptions = await managed()
    first = subscriptions.subscription

    subscriptions.manager.announced(AppSequence(sim.sequence.instance_id, 1))
    renewed = await subscriptions.changes.count(2)
    assert renewed is not None
    assert renewed.identifier == first.identifier
    assert renewed.destination_tokens == first.destination_tokens

    await sim.reboot(hello=False)
    subscriptions.manager.announced(AppSequence(sim.sequence.instance_id, 1))
    again = await subscriptions.changes.count(3)
    assert again is not None
    assert again.identifier != first.identifier
    assert len(sim.subscriptions) == 1


async def test_first_hello_after_an_unseen_reboot_subscribes_again(
    sim: SimulatedScanner, managed: StartManager
) -> None:
    """The scanner restarted before any Hello was heard: the renewal fails, then Subscribe."""
    subscriptions = await managed()
    first = subscriptions.subscription

    await sim.reboot(hello=False)
    subscriptions.manager.announced(None)  # a Hello without AppSequence is checked too
    again = await subscriptions.changes.count(2)
    assert again is not None
    assert again.identifier != first.identifier
    assert again.destination_tokens != first.destination_tokens
    assert len(sim.subscriptions) == 1


async def test_manager_retries_when_the_device_is_away(
    sim: SimulatedScanner, managed: StartManager
) -> None:
    """Subscribe failures back off; the subscription comes once the device is back."""
    await sim.set_online(False)
    subscriptions = await managed(
        GatedSleep(free=2),
        actions=STATUS_EVENTS,
        destinations=(),
        expires=3600,
        retry_delay=5,
        max_retry_delay=8,
    )
    manager, changes, sleep = (
        subscriptions.manager,
        subscriptions.changes,
        subscriptions.sleep,
    )
    assert manager.subscription is None
    assert manager.last_error is not None
    assert manager.last_error.kind is ErrorKind.UNREACHABLE
    await changes.count(3)  # the first attempt and two retries failed
    assert sleep.delays[:2] == [5, 8]
    # A Hello while it cannot be reached yet: tried at once, then soon again.
    manager.announced(AppSequence(sim.sequence.instance_id, 1))
    assert await changes.count(4) is None
    async with asyncio.timeout(10):  # a hang guard: the manager is about to wait
        while len(sleep.delays) < 4:
            await asyncio.sleep(0)
    assert sleep.delays[2:] == [8, 5]
    await sim.set_online(True)
    manager.announced(AppSequence(sim.sequence.instance_id, 1))  # it is back
    subscribed = await changes.count(5)
    assert subscribed is not None
    assert manager.last_error is None


async def test_sink_reads_large_bodies_whole_and_refuses_huge_ones(
    session: aiohttp.ClientSession, sink: Sink
) -> None:
    """Bodies arriving in many chunks are read whole; past the cap they are refused."""
    sink.handler.register(IDENTIFIER, ["127.0.0.1"], sink.listen)
    padded = notification().replace(b"<s:Body>", b"<s:Body>" + b" " * 200_000)
    async with session.post(sink.url(IDENTIFIER), data=padded) as response:
        assert response.status == 202
    assert sink.events == [ScanAvailableEvent("ha-default", "42", "ADF")]
    huge = notification().replace(b"<s:Body>", b"<s:Body>" + b" " * 300_000)
    async with session.post(sink.url(IDENTIFIER), data=huge) as response:
        assert response.status == 413
    assert len(sink.events) == 1


# --- checking a notify URL -------------------------------------------------------------


async def test_check_notify_url_reaches_only_its_own_handler(
    session: aiohttp.ClientSession, sink: Sink, closed_port: int
) -> None:
    """The sink's handler answers the check; another handler or nothing at all do not."""
    await check_notify_url(session, sink.handler, sink.url)

    with pytest.raises(WsdError) as err:
        await check_notify_url(session, NotificationHandler(), sink.url)
    assert err.value.kind is ErrorKind.PROTOCOL
    assert "HTTP 403" in str(err.value)
    with pytest.raises(WsdError) as err:
        await check_notify_url(
            session, sink.handler, lambda identifier: f"http://127.0.0.1:{closed_port}"
        )
    assert err.value.kind is ErrorKind.UNREACHABLE
    # Nothing stays registered after a check.
    assert sink.handler.handle("127.0.0.1", {}, notification()).status == 403


async def test_check_delivery_subscribes_waits_and_ends(
    session: aiohttp.ClientSession, sim: SimulatedScanner, sink: Sink
) -> None:
    """An event within the wait confirms delivery; without one, it says so."""
    client = EventingClient(session, sim.scan_url)

    async def check(wait: float) -> bool:
        return await check_delivery(
            client,
            sink.handler,
            notify_url=sink.url,
            device_hosts=["127.0.0.1"],
            actions=STATUS_EVENTS,
            wait=wait,
        )

    assert not await check(0.0)
    assert sim.subscriptions == {}

    delivered = asyncio.create_task(check(30.0))
    async with asyncio.timeout(10):  # a hang guard: the check subscribes first
        while not sim.subscriptions:
            await asyncio.sleep(0.01)
    sim.raise_condition("CoverOpen")
    assert await delivered
    assert sim.subscriptions == {}
    # The check's events are its own: the sink's listener heard none.
    assert sink.events == []

    sim.settings.subscription_slots = 0
    with pytest.raises(WsdFault) as refused:
        await check(0.0)
    assert refused.value.subcode == "EventSourceUnableToProcess"
