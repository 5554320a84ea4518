"""WS-Eventing: subscriptions, notifications, push scan through ScanDestinations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import uuid

from aiohttp import web
from lxml import etree
import pytest

from simulator import SimulatedScanner

from .conftest import NS, SCAN, WSE, Client, fault_subcode, ticket

pytestmark = pytest.mark.usefixtures("socket_enabled")


class Sink:
    """An event sink that answers 202 and records notifications."""

    def __init__(self) -> None:
        """Start empty."""
        self.received: list[etree._Element] = []
        self.status = 202
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        """Record and acknowledge."""
        self.received.append(etree.fromstring(await request.read()))
        return web.Response(status=self.status)

    def actions(self) -> list[str]:
        """Return the event names received, in order."""
        return [
            (m.findtext(".//a:Action", namespaces=NS) or "").rsplit("/", 1)[-1]
            for m in self.received
        ]


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    """Run a sink on loopback."""
    recorder = Sink()
    app = web.Application()
    app.router.add_post("/events", recorder.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    recorder.url = f"http://127.0.0.1:{runner.addresses[0][1]}/events"
    yield recorder
    await runner.cleanup()


def subscribe_body(
    sink_url: str,
    *,
    events: tuple[str, ...] = (
        "ScannerStatusSummaryEvent",
        "ScannerStatusConditionEvent",
        "ScannerStatusConditionClearedEvent",
        "JobStatusEvent",
        "JobEndStateEvent",
        "ScannerElementsChangeEvent",
    ),
    destinations: tuple[str, ...] = (),
    expires: str | None = "PT1H",
    identifier: str = "urn:uuid:sink-1",
    mode: str = f"{WSE}/DeliveryModes/Push",
) -> str:
    """Return a Subscribe body."""
    actions = " ".join(f"{SCAN}/{e}" for e in events)
    dest = "".join(
        f"<sca:ScanDestination><sca:ClientDisplayName>{d}</sca:ClientDisplayName>"
        f"<sca:ClientContext>ctx-{d}</sca:ClientContext></sca:ScanDestination>"
        for d in destinations
    )
    return (
        f"<wse:Subscribe><wse:EndTo><wsa:Address>{sink_url}</wsa:Address></wse:EndTo>"
        f'<wse:Delivery Mode="{mode}"><wse:NotifyTo><wsa:Address>{sink_url}</wsa:Address>'
        f"<wsa:ReferenceParameters><wse:Identifier>{identifier}</wse:Identifier></wsa:ReferenceParameters>"
        "</wse:NotifyTo></wse:Delivery>"
        + (f"<wse:Expires>{expires}</wse:Expires>" if expires else "")
        + f'<wse:Filter Dialect="http://schemas.xmlsoap.org/ws/2006/02/devprof/Action">{actions}</wse:Filter>'
        + (f"<sca:ScanDestinations>{dest}</sca:ScanDestinations>" if dest else "")
        + "</wse:Subscribe>"
    )


async def subscribe(client: Client, body: str) -> etree._Element:
    """Subscribe and return the response."""
    status, reply = await client.call("Subscribe", body, namespace=WSE)
    assert status == 200, etree.tostring(reply)
    return reply


def manager_header(reply: etree._Element) -> str:
    """Return the wse:Identifier header for Renew/GetStatus/Unsubscribe."""
    identifier = reply.findtext(
        ".//wse:SubscriptionManager/a:ReferenceParameters/wse:Identifier", namespaces=NS
    )
    return f"<wse:Identifier>{identifier}</wse:Identifier>"


async def test_status_events_reach_the_sink(
    client: Client, sim: SimulatedScanner, sink: Sink
) -> None:
    """Conditions, job and status events are POSTed with the reference parameter echoed."""
    reply = await subscribe(client, subscribe_body(sink.url, expires="PT2H"))
    assert reply.findtext(".//wse:Expires", namespaces=NS) == "PT1H"  # capped grant
    sim.raise_condition("CoverOpen")
    sim.clear_condition("CoverOpen")
    job_id, token = await client.create_job(ticket())
    await client.retrieve(job_id, token)
    sim.set_scanner_name("Renamed")
    await sim.wait_for_notifications()
    assert sink.actions() == [
        "ScannerStatusConditionEvent",
        "ScannerStatusSummaryEvent",
        "ScannerStatusConditionClearedEvent",
        "ScannerStatusSummaryEvent",
        "JobStatusEvent",
        "ScannerStatusSummaryEvent",
        "JobStatusEvent",
        "JobStatusEvent",
        "JobEndStateEvent",
        "ScannerStatusSummaryEvent",
        "ScannerElementsChangeEvent",
    ]
    assert all(
        m.findtext(".//s:Header/wse:Identifier", namespaces=NS) == "urn:uuid:sink-1"
        for m in sink.received
    )
    assert sink.received[1].findtext(".//sca:ScannerState", namespaces=NS) == "Stopped"
    assert (
        sink.received[8].findtext(".//sca:JobCompletedState", namespaces=NS)
        == "Completed"
    )
    assert all(n.status == 202 for n in sim.notifications)


async def test_renew_get_status_unsubscribe(
    client: Client, sim: SimulatedScanner, sink: Sink
) -> None:
    """The subscription manager operations find the subscription by wse:Identifier."""
    reply = await subscribe(client, subscribe_body(sink.url, expires=None))
    header = manager_header(reply)
    status, renewed = await client.call(
        "Renew",
        "<wse:Renew><wse:Expires>PT10M</wse:Expires></wse:Renew>",
        namespace=WSE,
        headers=header,
    )
    assert renewed.findtext(".//wse:Expires", namespaces=NS) == "PT10M"
    status, current = await client.call(
        "GetStatus", "<wse:GetStatus/>", namespace=WSE, headers=header
    )
    assert current.findtext(".//wse:Expires", namespaces=NS) in (
        "PT10M",
        "PT599S",
        "PT600S",
    )
    status, _ = await client.call(
        "Unsubscribe", "<wse:Unsubscribe/>", namespace=WSE, headers=header
    )
    assert status == 200 and not sim.subscriptions
    status, gone = await client.call(
        "Renew", "<wse:Renew/>", namespace=WSE, headers=header
    )
    assert fault_subcode(gone) == "UnableToRenew"
    status, gone = await client.call(
        "GetStatus", "<wse:GetStatus/>", namespace=WSE, headers=header
    )
    assert fault_subcode(gone) == "DestinationUnreachable"


@pytest.mark.parametrize(
    ("body", "subcode"),
    [
        (
            subscribe_body("http://127.0.0.1:9/e", expires="PT0S"),
            "InvalidExpirationTime",
        ),
        (
            subscribe_body("http://127.0.0.1:9/e", expires="tomorrow"),
            "UnsupportedExpirationType",
        ),
        (
            subscribe_body("http://127.0.0.1:9/e", events=("NoSuchEvent",)),
            "FilterActionNotSupported",
        ),
        (
            subscribe_body("http://127.0.0.1:9/e", mode="urn:pull"),
            "DeliveryModeRequestedUnavailable",
        ),
        (subscribe_body("urn:uuid:not-http"), "InvalidMessage"),
        ("<wse:Subscribe/>", "InvalidMessage"),
        (
            subscribe_body("http://127.0.0.1:9/e").replace(
                "devprof/Action", "devprof/XPath"
            ),
            "FilteringRequestedUnavailable",
        ),
    ],
)
async def test_subscribe_faults(client: Client, body: str, subcode: str) -> None:
    """Bad subscriptions fault with the WS-Eventing / DPWS subcodes."""
    _status, reply = await client.call("Subscribe", body, namespace=WSE)
    assert fault_subcode(reply) == subcode


async def test_absolute_expiry_and_bare_namespace_filter(
    client: Client, sim: SimulatedScanner
) -> None:
    """An absolute (dateTime) Expires is accepted; the bare 2006/01 namespace matches every scan event."""
    body = subscribe_body(
        "http://127.0.0.1:9/e", expires="2999-01-01T00:00:00Z"
    ).replace(
        f"{SCAN}/ScannerStatusSummaryEvent",
        "http://schemas.microsoft.com/windows/2006/01/wdp/scan",
    )
    reply = await subscribe(client, body)
    assert reply.findtext(".//wse:Expires", namespaces=NS) == "PT1H"
    assert next(iter(sim.subscriptions.values())).wants(f"{SCAN}/ScanAvailableEvent")


async def test_delivery_failure_ends_subscription(
    client: Client, sim: SimulatedScanner, sink: Sink
) -> None:
    """A sink that refuses notifications loses its subscription (SubscriptionEnd to EndTo)."""
    await subscribe(client, subscribe_body(sink.url))
    sink.status = 500
    sim.raise_condition("MediaJam")
    await sim.wait_for_notifications()
    assert not sim.subscriptions
    assert sink.actions()[-1] == "SubscriptionEnd"
    assert (
        sink.received[-1].findtext(".//wse:Status", namespaces=NS)
        == f"{WSE}/DeliveryFailure"
    )


async def test_non_loopback_sink_is_never_contacted(
    client: Client, sim: SimulatedScanner
) -> None:
    """Network safety: notifications to non-loopback addresses are refused locally."""
    await subscribe(client, subscribe_body("http://192.0.2.10:1/events"))
    sim.raise_condition("MediaJam")
    await sim.wait_for_notifications()
    assert sim.notifications[0].status is None
    assert "loopback" in (sim.notifications[0].error or "")


async def test_push_scan_flow(
    client: Client, sim: SimulatedScanner, sink: Sink
) -> None:
    """Button → ScanAvailableEvent → CreateScanJob with ScanIdentifier + DestinationToken."""
    reply = await subscribe(
        client,
        subscribe_body(
            sink.url, events=("ScanAvailableEvent",), destinations=("Home", "PDF")
        ),
    )
    tokens = {
        r.findtext("sca:ClientContext", namespaces=NS): r.findtext(
            "sca:DestinationToken", namespaces=NS
        )
        for r in reply.findall(".//sca:DestinationResponse", NS)
    }
    assert set(tokens) == {"ctx-Home", "ctx-PDF"}
    assert sim.press_scan_button("nobody") is False
    sim.load_feeder(1)
    assert sim.press_scan_button("PDF") is True
    await sim.wait_for_notifications()
    event = sink.received[-1]
    assert event.findtext(".//sca:ClientContext", namespaces=NS) == "ctx-PDF"
    assert event.findtext(".//sca:InputSource", namespaces=NS) == "ADF"
    scan_identifier = event.findtext(".//sca:ScanIdentifier", namespaces=NS)
    job_id, token = await client.create_job(
        ticket(source="ADF"),
        extra=f"<sca:ScanIdentifier>{scan_identifier}</sca:ScanIdentifier><sca:DestinationToken>{tokens['ctx-PDF']}</sca:DestinationToken>",
    )
    assert sim.jobs[int(job_id)].scan_identifier == scan_identifier
    assert sim.push_scan_failures == []
    # Replaying the same identifier, or a wrong token, is recorded and refused.
    _status, replay = await client.call(
        "CreateScanJob",
        f"<sca:CreateScanJobRequest><sca:ScanIdentifier>{scan_identifier}</sca:ScanIdentifier>"
        f"<sca:DestinationToken>{tokens['ctx-PDF']}</sca:DestinationToken>{ticket()}</sca:CreateScanJobRequest>",
    )
    assert fault_subcode(replay) == "ClientErrorInvalidScanIdentifier"
    _status, wrong = await client.call(
        "CreateScanJob",
        f"<sca:CreateScanJobRequest><sca:ScanIdentifier>x</sca:ScanIdentifier>"
        f"<sca:DestinationToken>{uuid.uuid4()}</sca:DestinationToken>{ticket()}</sca:CreateScanJobRequest>",
    )
    assert fault_subcode(wrong) == "ClientErrorInvalidDestinationToken"
    assert len(sim.push_scan_failures) == 2


async def test_push_scan_window(
    client: Client, sim: SimulatedScanner, sink: Sink
) -> None:
    """No CreateScanJob within the window is recorded; a late one is refused and recorded."""
    reply = await subscribe(
        client,
        subscribe_body(
            sink.url, events=("ScanAvailableEvent",), destinations=("Home",)
        ),
    )
    token = reply.findtext(".//sca:DestinationToken", namespaces=NS)
    sim.settings.push_scan_window = 0.05
    assert sim.press_scan_button("ctx-Home")
    await sim.wait_for_notifications()
    await asyncio.sleep(0.1)
    assert (
        sim.push_scan_failures[-1].reason
        == "no CreateScanJob within the device's window"
    )
    sim.settings.push_scan_window = 30
    sim.service.clock = lambda: (
        0.0
    )  # freeze the device clock, then jump past the window
    assert sim.press_scan_button("Home")
    await sim.wait_for_notifications()
    scan_identifier = sink.received[-1].findtext(".//sca:ScanIdentifier", namespaces=NS)
    sim.service.clock = lambda: 100.0
    _status, late = await client.call(
        "CreateScanJob",
        f"<sca:CreateScanJobRequest><sca:ScanIdentifier>{scan_identifier}</sca:ScanIdentifier>"
        f"<sca:DestinationToken>{token}</sca:DestinationToken>{ticket()}</sca:CreateScanJobRequest>",
    )
    assert fault_subcode(late) == "ClientErrorInvalidScanIdentifier"
    assert (
        sim.push_scan_failures[-1].reason
        == "CreateScanJob arrived after the device's window"
    )


async def test_reboot_drops_subscriptions(
    client: Client, sim: SimulatedScanner, sink: Sink
) -> None:
    """After a reboot the subscription and its destinations are gone."""
    await subscribe(
        client,
        subscribe_body(
            sink.url, events=("ScanAvailableEvent",), destinations=("Home",)
        ),
    )
    await sim.reboot()
    assert not sim.subscriptions
    assert sim.press_scan_button("Home") is False
