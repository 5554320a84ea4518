"""Fixtures of the Home Assistant tests: a simulated scanner and an entry for it.

The simulator posts WS-Eventing notifications to Home Assistant's HTTP app served by
`hass_client_no_auth` on 127.0.0.1 (Home Assistant's own server is not bound in tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.wsd_scan.const import CONF_CALLBACK_URL, CONF_XADDRS, DOMAIN
from custom_components.wsd_scan.discovery import SIGNAL_DISCOVERY_EVENT
from custom_components.wsd_scan.wsd import (
    AppSequence,
    DiscoveredDevice,
    DiscoveryEvent,
    DiscoveryEventType,
    Multicast,
)
from simulator import Settings, SimulatedScanner
from simulator.eventing import Subscription

DISCOVERY = "custom_components.wsd_scan.discovery"

type StartScanner = Callable[..., Awaitable[SimulatedScanner]]


@pytest.fixture(autouse=True)
def no_background_discovery() -> Iterator[None]:
    """Keep the integration's WS-Discovery idle unless a test puts it on loopback.

    Home Assistant's test adapters are a fake eth0 (10.10.10.10): probing there would
    leave the machine (the network guard fails such a test).
    """
    with patch(f"{DISCOVERY}.async_get_interfaces", return_value=[]):
        yield


@pytest.fixture
def loopback(multicast: Multicast) -> Iterator[AsyncMock]:
    """Run the integration's WS-Discovery on 127.0.0.1 only, with short windows.

    Yields the mock of the interface list, so a test can change the adapters.
    """
    with (
        patch(
            f"{DISCOVERY}.async_get_interfaces", return_value=["127.0.0.1"]
        ) as interfaces,
        patch(f"{DISCOVERY}.get_multicast", return_value=multicast),
        patch(f"{DISCOVERY}.SEARCH_TIMEOUT", 0.5),
        patch("custom_components.wsd_scan.config_flow.DISCOVERY_TIMEOUT", 0.5),
    ):
        yield interfaces


@pytest.fixture
async def start_scanner(
    multicast: Multicast, loopback: AsyncMock
) -> AsyncIterator[StartScanner]:
    """Start simulated scanners on the test's discovery port; stop them afterwards."""
    scanners: list[SimulatedScanner] = []

    async def start(profile: str = "office_mfp", **kwargs: Any) -> SimulatedScanner:
        kwargs.setdefault("settings", Settings(probe_reply_delay=0.0))
        scanner = SimulatedScanner(profile, udp_port=multicast.port, **kwargs)
        await scanner.start()
        scanners.append(scanner)
        return scanner

    yield start
    for scanner in scanners:
        await scanner.stop()


@pytest.fixture
async def scanner(socket_enabled: None) -> AsyncGenerator[SimulatedScanner]:
    """Run a simulated office MFP on loopback (platen and duplex feeder)."""
    async with SimulatedScanner("office_mfp", discovery=False) as sim:
        yield sim


@pytest.fixture
async def callback_url(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator
) -> str:
    """Home Assistant's base URL as the simulator reaches it.

    The integration and the image platform's component are set up first: their views
    must exist before the test server starts (it freezes its routes).
    """
    assert await async_setup_component(hass, DOMAIN, {})
    assert await async_setup_component(hass, "image", {})
    client = await hass_client_no_auth()
    return str(client.make_url("")).rstrip("/")


def scanner_entry(sim: SimulatedScanner, **options: Any) -> MockConfigEntry:
    """Return a config entry for the simulated scanner, as the config flow makes it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Simulated Office MFP",
        unique_id=sim.uuid,
        data={CONF_HOST: "127.0.0.1", CONF_XADDRS: [sim.device_url]},
        options=options,
    )


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, scanner: SimulatedScanner, callback_url: str
) -> AsyncGenerator[MockConfigEntry]:
    """Set the scanner's entry up, with push notifications to Home Assistant.

    Unloaded before the simulator stops, so unsubscribing reaches it.
    """
    entry = scanner_entry(scanner, **{CONF_CALLBACK_URL: callback_url})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


type SetUpScanner = Callable[..., Awaitable[MockConfigEntry]]


@pytest.fixture
async def set_up_scanner(
    hass: HomeAssistant, callback_url: str
) -> AsyncIterator[SetUpScanner]:
    """Set scanners' entries up with push to Home Assistant; unload them after the test.

    `set_up_scanner(sim, **options)`: `options` go beside the callback URL.
    """
    entries: list[MockConfigEntry] = []

    async def set_up(sim: SimulatedScanner, **options: Any) -> MockConfigEntry:
        entry = scanner_entry(sim, **{CONF_CALLBACK_URL: callback_url, **options})
        entry.add_to_hass(hass)
        entries.append(entry)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        return entry

    yield set_up
    for entry in entries:
        if entry.state is ConfigEntryState.LOADED:
            assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
async def entry_without_url(
    hass: HomeAssistant, scanner: SimulatedScanner, callback_url: str
) -> AsyncIterator[MockConfigEntry]:
    """Set the scanner's entry up while Home Assistant knows no URL of its own.

    No push (a `no_callback_url` repair issue); `callback_url` serves the views for a
    URL set later.
    """
    entry = scanner_entry(scanner)
    entry.add_to_hass(hass)
    with patch(
        "custom_components.wsd_scan.push.get_url", side_effect=NoURLAvailableError
    ):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


def status_subscriptions(sim: SimulatedScanner) -> dict[str, Subscription]:
    """Return the scanner's live status subscriptions (not the panel's)."""
    return {key: sub for key, sub in sim.subscriptions.items() if not sub.destinations}


def panel_subscriptions(sim: SimulatedScanner) -> dict[str, Subscription]:
    """Return the scanner's live subscriptions that register panel entries."""
    return {key: sub for key, sub in sim.subscriptions.items() if sub.destinations}


def announce(
    hass: HomeAssistant,
    sim: SimulatedScanner,
    kind: DiscoveryEventType = DiscoveryEventType.HELLO,
    *,
    uuid: str | None = None,
) -> None:
    """Tell the integration of the scanner's Hello (or Bye) as discovery does.

    `uuid`: pretend another device sent it.
    """
    device = DiscoveredDevice(
        uuid or sim.uuid,
        frozenset(),
        (sim.device_url,),
        app_sequence=AppSequence(sim.sequence.instance_id, 1),
    )
    async_dispatcher_send(hass, SIGNAL_DISCOVERY_EVENT, DiscoveryEvent(kind, device))


def advance(hass: HomeAssistant, delta: timedelta) -> None:
    """Let `delta` pass for every timer (polls, renewals, retries)."""
    async_fire_time_changed(hass, dt_util.utcnow() + delta)


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for socket traffic in the background (renewals, retries) to have an effect.

    Time is only ever made to pass while no request is in flight: firing timers would
    also fire the request timeouts.
    """
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def entity_id(
    entity_registry: er.EntityRegistry, platform: str, uuid: str, key: str
) -> str:
    """Return the entity id of a scanner's entity, found by its unique id."""
    found = entity_registry.async_get_entity_id(platform, DOMAIN, f"{uuid}_{key}")
    assert found is not None
    return found


def device_id(hass: HomeAssistant, uuid: str) -> str:
    """Return the device registry id of a scanner."""
    entry = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, uuid)
    assert entry is not None
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, uuid), entry.entry_id
    )
    assert device is not None
    return device.id


async def scan(hass: HomeAssistant, uuid: str, **data: Any) -> dict[str, Any]:
    """Run `wsd_scan.scan` on a scanner (small pages unless told) and return its response."""
    data.setdefault("resolution", 75)
    response = await hass.services.async_call(
        DOMAIN,
        "scan",
        {"device_id": device_id(hass, uuid), **data},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return response
