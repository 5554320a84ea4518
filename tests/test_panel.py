"""Scans started on the scanner's panel, against the simulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import replace
from datetime import timedelta

from homeassistant.components import persistent_notification
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.wsd_scan.const import (
    CONF_CALLBACK_URL,
    CONF_COLOR,
    CONF_FORMAT,
    CONF_PROFILE_ID,
    CONF_PROFILES,
    CONF_RESOLUTION,
    CONF_SESSION,
    CONF_SOURCE,
    DOMAIN,
    NOTIFY_PATH,
)
from custom_components.wsd_scan.wsd import SCAN_AVAILABLE_EVENT
from simulator import Settings, SimulatedScanner

from .ha_fixtures import (
    StartScanner,
    advance,
    entity_id,
    panel_subscriptions,
    scanner_entry,
    status_subscriptions,
    until,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

DOCUMENTS = {
    CONF_PROFILE_ID: "documents",
    CONF_NAME: "Home Assistant",
    CONF_SOURCE: "auto",
    CONF_FORMAT: "pdf",
    CONF_RESOLUTION: 75,
    CONF_COLOR: "gray",
}
PHOTOS = {
    CONF_PROFILE_ID: "photos",
    CONF_NAME: "Photos",
    CONF_SOURCE: "platen",
    CONF_FORMAT: "jpeg",
    CONF_RESOLUTION: 100,
    CONF_COLOR: "color",
}
#: Lifetime an Epson WF-3640 grants whatever is asked (PT15M in the test fixtures of occino).
GRANTED = 900.0
#: When the panel subscription is renewed (half the granted lifetime), plus a margin.
RENEWAL = timedelta(seconds=GRANTED / 2 + 1)


@pytest.fixture
async def panel_scanner(socket_enabled: None) -> AsyncGenerator[SimulatedScanner]:
    """Run an office MFP that grants subscriptions for 15 minutes at most."""
    async with SimulatedScanner(
        "office_mfp",
        discovery=False,
        settings=Settings(max_subscription_seconds=GRANTED),
    ) as sim:
        yield sim


@pytest.fixture
async def panel_entry(
    hass: HomeAssistant, panel_scanner: SimulatedScanner, callback_url: str
) -> AsyncGenerator[MockConfigEntry]:
    """Set up the scanner with two profiles."""
    entry = scanner_entry(
        panel_scanner,
        **{CONF_CALLBACK_URL: callback_url, CONF_PROFILES: [DOCUMENTS, PHOTOS]},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


async def press(hass: HomeAssistant, sim: SimulatedScanner, name: str) -> str:
    """Choose `name` on the panel, press Scan, and wait until the scan is stored."""
    scan_identifier = sim.service.press_scan_button(name)
    assert scan_identifier is not None, f"{name} is not on the panel"
    await sim.wait_for_notifications()
    await hass.async_block_till_done(wait_background_tasks=True)
    return scan_identifier


async def assert_press_scans(
    hass: HomeAssistant, sim: SimulatedScanner, entry: MockConfigEntry, name: str
) -> None:
    """Press `name` on the panel: the scanner must accept the scan, and it is stored."""
    await press(hass, sim, name)
    assert sim.push_scan_failures == []
    assert entry.runtime_data.activity.last_scan is not None


async def test_profiles_appear_on_the_panel(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    panel_scanner: SimulatedScanner,
    panel_entry: MockConfigEntry,
) -> None:
    """One subscription, apart from the status one, registers every profile."""
    (subscription,) = panel_subscriptions(panel_scanner).values()
    assert subscription.actions == frozenset({SCAN_AVAILABLE_EVENT})
    assert [(d.display_name, d.client_context) for d in subscription.destinations] == [
        ("Home Assistant", "documents"),
        ("Photos", "photos"),
    ]
    assert len(status_subscriptions(panel_scanner)) == 1
    panel = panel_entry.runtime_data.panel
    assert panel.destination_tokens == {
        d.client_context: d.token for d in subscription.destinations
    }
    event = entity_id(entity_registry, "event", panel_scanner.uuid, "scan_button")
    state = hass.states.get(event)
    # Event types are the profiles' ids: renaming a profile keeps automations working.
    assert state.attributes["event_types"] == ["documents", "photos"]
    assert state.attributes["device_class"] == "button"


async def test_each_press_runs_its_profile(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    panel_scanner: SimulatedScanner,
    panel_entry: MockConfigEntry,
) -> None:
    """The event fires with the profile, and the profile's settings scan and store."""
    event = entity_id(entity_registry, "event", panel_scanner.uuid, "scan_button")
    activity = panel_entry.runtime_data.activity

    scan_identifier = await press(hass, panel_scanner, "Photos")

    state = hass.states.get(event)
    assert state.attributes["event_type"] == "photos"
    assert state.attributes["profile"] == "Photos"
    assert state.attributes["scan_identifier"] == scan_identifier
    assert state.attributes["input_source"] == "platen"
    job = list(panel_scanner.jobs.values())[-1]
    assert job.scan_identifier == scan_identifier
    assert (job.ticket.format, job.ticket.input_source) == ("jfif", "Platen")
    assert job.ticket.front is not None
    assert job.ticket.front.color == "RGB24"
    last = activity.last_scan
    assert last is not None
    assert [f.mime_type for f in last.files] == ["image/jpeg"]
    assert all(f.path.is_file() for f in last.files)
    assert last.name.startswith("scan_photos_")
    notifications = persistent_notification._async_get_or_create_notifications(hass)  # noqa: SLF001
    notification = notifications[f"{DOMAIN}_scan_{panel_entry.entry_id}"]
    assert notification["message"] == (
        f"1 page stored in Media → WSD scans: {last.files[0].path.name}."
    )

    # The feeder holds paper: the scanner says ADF, and its word wins over "auto".
    panel_scanner.load_feeder(2)
    scan_identifier = await press(hass, panel_scanner, "Home Assistant")

    state = hass.states.get(event)
    assert state.attributes["event_type"] == "documents"
    assert state.attributes["profile"] == "Home Assistant"
    assert state.attributes["input_source"] == "feeder"
    job = list(panel_scanner.jobs.values())[-1]
    assert job.scan_identifier == scan_identifier
    # The office MFP offers no PDF: its JPEG pages become the profile's PDF here.
    assert (job.ticket.format, job.ticket.input_source) == ("jfif", "ADF")
    last = activity.last_scan
    assert last is not None
    assert (last.pages, [f.mime_type for f in last.files]) == (2, ["application/pdf"])
    assert panel_scanner.push_scan_failures == []


async def test_renewals_keep_the_tokens(
    hass: HomeAssistant, panel_scanner: SimulatedScanner, panel_entry: MockConfigEntry
) -> None:
    """Renewed before the granted 15 minutes run out, never re-registered."""
    panel = panel_entry.runtime_data.panel
    (before,) = panel_subscriptions(panel_scanner)
    tokens = panel.destination_tokens
    manager = panel.manager
    assert manager is not None
    renewed = 0

    def count_renewal(subscription: object) -> None:
        nonlocal renewed
        renewed += 1

    manager.on_change = count_renewal
    for renewal in range(1, 4):
        advance(hass, RENEWAL)
        await until(lambda: renewed == renewal)  # noqa: B023 - read at once
        # Let the manager go back to sleep before time moves on again.
        await asyncio.sleep(0.05)
    assert (
        sum(
            action.endswith("/Renew") and before in body.decode()
            for action, body in panel_scanner.requests
        )
        == 3
    )
    assert set(panel_subscriptions(panel_scanner)) == {before}
    assert panel.destination_tokens == tokens
    await assert_press_scans(hass, panel_scanner, panel_entry, "Photos")


async def test_reboot_registers_again_and_a_press_works(
    hass: HomeAssistant, panel_scanner: SimulatedScanner, panel_entry: MockConfigEntry
) -> None:
    """A rebooted scanner forgot its panel entries: they are registered anew."""
    panel = panel_entry.runtime_data.panel
    old_tokens = panel.destination_tokens
    await panel_scanner.reboot()
    assert panel_subscriptions(panel_scanner) == {}

    advance(hass, RENEWAL)
    await until(lambda: len(panel_subscriptions(panel_scanner)) == 1)
    await until(lambda: panel.destination_tokens not in ({}, old_tokens))

    await assert_press_scans(hass, panel_scanner, panel_entry, "Photos")


#: How soon after a scanner's Hello its registrations must be back (issue 12).
AFTER_HELLO = 10.0


@pytest.fixture
async def announced_scanner(start_scanner: StartScanner) -> SimulatedScanner:
    """Start a scanner whose Hello went out before Home Assistant listened."""
    return await start_scanner("office_mfp", discovery=True)


async def test_first_hello_heard_after_a_reboot_registers_again(
    hass: HomeAssistant, announced_scanner: SimulatedScanner, callback_url: str
) -> None:
    """Home Assistant started after the scanner; the scanner restarts and says Hello.

    No earlier InstanceId is known to compare with: the Hello makes both subscriptions
    renew at once, the renewals fail, and both are made anew within seconds (not at the
    next renewal, minutes later).
    """
    entry = scanner_entry(
        announced_scanner, **{CONF_CALLBACK_URL: callback_url, CONF_PROFILES: [PHOTOS]}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    panel = entry.runtime_data.panel
    old_tokens = panel.destination_tokens
    (old_status,) = status_subscriptions(announced_scanner)

    # The reboot forgets the subscriptions and sends the Hello.
    async with asyncio.timeout(AFTER_HELLO):
        await announced_scanner.reboot()
        await until(
            lambda: (
                len(panel_subscriptions(announced_scanner)) == 1
                and len(status_subscriptions(announced_scanner)) == 1
                and old_status not in status_subscriptions(announced_scanner)
                and panel.destination_tokens not in ({}, old_tokens)
            ),
            timeout=AFTER_HELLO,
        )
    await assert_press_scans(hass, announced_scanner, entry, "Photos")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_forgotten_subscription_is_recreated(
    hass: HomeAssistant, panel_scanner: SimulatedScanner, panel_entry: MockConfigEntry
) -> None:
    """A subscription the scanner let expire fails to renew and is made again."""
    panel = panel_entry.runtime_data.panel
    (before,) = panel_subscriptions(panel_scanner)
    del panel_scanner.events.subscriptions[before]

    advance(hass, RENEWAL)
    await until(lambda: len(panel_subscriptions(panel_scanner)) == 1)
    (after,) = panel_subscriptions(panel_scanner)
    assert after != before
    await until(
        lambda: (
            panel.destination_tokens
            == {
                d.client_context: d.token
                for d in panel_subscriptions(panel_scanner)[after].destinations
            }
        )
    )
    await assert_press_scans(hass, panel_scanner, panel_entry, "Home Assistant")


async def test_stale_token_registers_again(
    hass: HomeAssistant,
    panel_scanner: SimulatedScanner,
    panel_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A token the scanner no longer knows fails the scan and re-registers the entries."""
    manager = panel_entry.runtime_data.panel.manager
    assert manager is not None and manager.subscription is not None
    (before,) = panel_subscriptions(panel_scanner)
    manager.subscription = replace(
        manager.subscription, destination_tokens={"photos": "stale"}
    )

    await press(hass, panel_scanner, "Photos")

    assert "Scan from the panel of" in caplog.text
    assert "Press Scan on the panel again" in caplog.text
    await until(lambda: set(panel_subscriptions(panel_scanner)) - {before} != set())
    await press(hass, panel_scanner, "Photos")
    assert panel_entry.runtime_data.activity.last_scan is not None


async def test_repeated_and_unknown_events_start_nothing(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    panel_scanner: SimulatedScanner,
    panel_entry: MockConfigEntry,
) -> None:
    """A ScanAvailableEvent delivered twice scans once; an unknown entry not at all."""
    event = entity_id(entity_registry, "event", panel_scanner.uuid, "scan_button")
    manager = panel_entry.runtime_data.panel.manager
    assert manager is not None and manager.subscription is not None
    identifier = manager.subscription.identifier

    def deliver(context: str, scan_identifier: str, message: int) -> int:
        body = scan_available(identifier, context, scan_identifier)
        return manager.handler.handle(
            "127.0.0.1",
            {},
            body.replace(b"MESSAGE", str(message).encode()),
        ).status

    assert deliver("photos", "press-1", 1) == 202
    assert deliver("photos", "press-1", 2) == 202  # a new MessageID, the same press
    assert deliver("elsewhere", "press-2", 3) == 202
    await hass.async_block_till_done(wait_background_tasks=True)

    # The simulator never offered these presses: count the attempts, not the jobs.
    attempts = [
        body
        for action, body in panel_scanner.requests
        if action.endswith("/CreateScanJob")
    ]
    assert [b"press-1" in body for body in attempts] == [True]
    assert hass.states.get(event).attributes["scan_identifier"] == "press-1"


async def test_spoofed_and_malformed_notifications_are_refused(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    entity_registry: er.EntityRegistry,
    panel_scanner: SimulatedScanner,
    panel_entry: MockConfigEntry,
) -> None:
    """Wrong identifiers and broken XML are refused; nothing fires, nothing scans."""
    event = entity_id(entity_registry, "event", panel_scanner.uuid, "scan_button")
    manager = panel_entry.runtime_data.panel.manager
    assert manager is not None and manager.subscription is not None
    client = await hass_client_no_auth()
    spoofed = scan_available("urn:uuid:not-ours", "photos", "spoof").replace(
        b"MESSAGE", b"1"
    )
    for identifier, body, status in (
        ("urn:uuid:not-ours", spoofed, 403),
        (manager.subscription.identifier, spoofed, 403),  # path and header disagree
        (manager.subscription.identifier, b"<not xml", 400),
    ):
        response = await client.post(f"{NOTIFY_PATH}/{identifier}", data=body)
        assert response.status == status
    await hass.async_block_till_done(wait_background_tasks=True)
    assert panel_scanner.jobs == {}
    assert hass.states.get(event).state == "unknown"


async def test_a_busy_scanner_logs_the_press(
    hass: HomeAssistant,
    panel_scanner: SimulatedScanner,
    panel_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A press while Home Assistant scans on the same scanner is refused and logged."""
    runner = panel_entry.runtime_data.runner
    runner._busy = True  # noqa: SLF001 - a scan in progress
    try:
        await press(hass, panel_scanner, "Photos")
    finally:
        runner._busy = False  # noqa: SLF001
    assert "is already scanning" in caplog.text
    assert panel_scanner.jobs == {}


async def test_without_profiles_nothing_is_registered(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    panel_scanner: SimulatedScanner,
    callback_url: str,
) -> None:
    """With every profile removed, the panel shows nothing and no event entity exists."""
    entry = scanner_entry(
        panel_scanner, **{CONF_CALLBACK_URL: callback_url, CONF_PROFILES: []}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert panel_subscriptions(panel_scanner) == {}
    assert len(status_subscriptions(panel_scanner)) == 1
    assert (
        entity_registry.async_get_entity_id(
            "event", "wsd_scan", f"{panel_scanner.uuid}_scan_button"
        )
        is None
    )
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_default_profile_is_home_assistant(
    hass: HomeAssistant, panel_scanner: SimulatedScanner, callback_url: str
) -> None:
    """A new entry offers "Home Assistant", scanning with the default settings."""
    entry = scanner_entry(
        panel_scanner, **{CONF_CALLBACK_URL: callback_url, CONF_FORMAT: "png"}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    (subscription,) = panel_subscriptions(panel_scanner).values()
    assert [d.display_name for d in subscription.destinations] == ["Home Assistant"]
    await press(hass, panel_scanner, "Home Assistant")
    (job,) = panel_scanner.jobs.values()
    assert job.ticket.format == "png"
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert panel_scanner.subscriptions == {}


async def test_several_scanners_at_once(
    hass: HomeAssistant, callback_url: str, socket_enabled: None
) -> None:
    """Each scanner's panel runs its own profiles into its own folder."""
    async with (
        SimulatedScanner("office_mfp", discovery=False) as first,
        SimulatedScanner("photo_flatbed", discovery=False) as second,
    ):
        entries = []
        for sim in (first, second):
            entry = scanner_entry(
                sim, **{CONF_CALLBACK_URL: callback_url, CONF_PROFILES: [PHOTOS]}
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            entries.append(entry)
        await hass.async_block_till_done()

        first.service.press_scan_button("Photos")
        second.service.press_scan_button("Photos")
        await first.wait_for_notifications()
        await second.wait_for_notifications()
        await hass.async_block_till_done(wait_background_tasks=True)

        folders = set()
        for entry, sim in zip(entries, (first, second), strict=True):
            assert len(sim.jobs) == 1
            last = entry.runtime_data.activity.last_scan
            assert last is not None
            folders.add(last.files[0].path.parent)
            assert await hass.config_entries.async_unload(entry.entry_id)
        assert len(folders) == 2


def scan_available(identifier: str, context: str, scan_identifier: str) -> bytes:
    """Return a ScanAvailableEvent notification (MESSAGE stands for the MessageID)."""
    return f"""<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"
 xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"
 xmlns:sca="http://schemas.microsoft.com/windows/2006/08/wdp/scan">
<soap:Header>
 <wsa:To>http://127.0.0.1/</wsa:To>
 <wsa:Action>{SCAN_AVAILABLE_EVENT}</wsa:Action>
 <wsa:MessageID>urn:uuid:00000000-0000-0000-0000-MESSAGE</wsa:MessageID>
 <wse:Identifier>{identifier}</wse:Identifier>
</soap:Header>
<soap:Body><sca:ScanAvailableEvent>
 <sca:ClientContext>{context}</sca:ClientContext>
 <sca:ScanIdentifier>{scan_identifier}</sca:ScanIdentifier>
</sca:ScanAvailableEvent></soap:Body></soap:Envelope>""".encode()


async def test_profiles_start_add_and_finish_a_session(
    hass: HomeAssistant,
    panel_scanner: SimulatedScanner,
    callback_url: str,
) -> None:
    """Three profiles: a press of each starts, adds to and finishes one document."""
    profiles = [
        {**PHOTOS, CONF_PROFILE_ID: step, CONF_NAME: step.title(), CONF_SESSION: step}
        for step in ("start", "add", "finish")
    ]
    entry = scanner_entry(
        panel_scanner, **{CONF_CALLBACK_URL: callback_url, CONF_PROFILES: profiles}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    notifications = persistent_notification._async_get_or_create_notifications(hass)  # noqa: SLF001

    await press(hass, panel_scanner, "Start")
    await press(hass, panel_scanner, "Add")
    assert entry.runtime_data.activity.last_scan is None
    assert notifications[f"{DOMAIN}_scan_{entry.entry_id}"]["message"] == (
        "1 page added: the session holds 2 pages of 2 scans. Scan more, or finish it "
        "to store them as one document."
    )
    await press(hass, panel_scanner, "Finish")

    assert len(panel_scanner.jobs) == 2
    last = entry.runtime_data.activity.last_scan
    assert last is not None
    assert last.pages == 2
    # The session's document has the format of its start (JPEG: a file per page).
    assert [file.mime_type for file in last.files] == ["image/jpeg"] * 2
    assert last.name.startswith("scan_start_")
    assert entry.runtime_data.runner.session is None
    assert panel_scanner.push_scan_failures == []
    await hass.config_entries.async_unload(entry.entry_id)
