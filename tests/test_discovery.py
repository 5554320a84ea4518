"""Background discovery (discovery.py): Hello and the periodic search start flows.

WS-Discovery runs on 127.0.0.1 with a UDP port of the test's own; the simulator announces
itself (Hello) when it starts and answers probes on that port.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import AsyncMock, patch
import uuid

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import CONF_HOST, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.wsd_scan import discovery
from custom_components.wsd_scan.const import CONF_XADDRS, DOMAIN
from custom_components.wsd_scan.discovery import (
    DATA_DISCOVERY,
    DISCOVERY_INTERVAL,
    SIGNAL_DISCOVERY_EVENT,
    WsdDiscovery,
    async_get_interfaces,
    async_setup_discovery,
)
from custom_components.wsd_scan.wsd import (
    DiscoveredDevice,
    DiscoveryEvent,
    DiscoveryEventType,
    Multicast,
)
from custom_components.wsd_scan.wsd.discovery import SCAN_DEVICE_TYPE

from .ha_fixtures import StartScanner, until

DISCOVERY = "custom_components.wsd_scan.discovery"


@pytest.fixture
def events(hass: HomeAssistant) -> list[DiscoveryEvent]:
    """Collect the Hello and Bye events discovery passes on."""
    seen: list[DiscoveryEvent] = []
    async_dispatcher_connect(hass, SIGNAL_DISCOVERY_EVENT, seen.append)
    return seen


def discovery_flows(hass: HomeAssistant) -> list[dict[str, Any]]:
    """Return the integration discovery flows in progress."""
    return [
        dict(flow)
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_INTEGRATION_DISCOVERY
    ]


def running(hass: HomeAssistant) -> WsdDiscovery:
    """Return the running discovery."""
    return hass.data[DATA_DISCOVERY]


async def searched(hass: HomeAssistant) -> None:
    """Wait for the search in progress (and the flows it started) to finish."""
    await until(lambda: not running(hass).searching)
    await hass.async_block_till_done(wait_background_tasks=True)


# --- interfaces -------------------------------------------------------------------------------


async def test_interfaces_of_enabled_adapters(hass: HomeAssistant) -> None:
    """IPv4 and scoped IPv6 link-local addresses of enabled adapters.

    Loopback only through the loopback adapter itself (enabled by the user); a
    loopback address on another adapter does not count.
    """
    adapters = [
        {
            "name": "eth0",
            "enabled": True,
            "ipv4": [{"address": "192.168.1.5", "network_prefix": 24}],
            "ipv6": [
                {"address": "fe80::1", "scope_id": 2, "network_prefix": 64},
                {"address": "2001:db8::5", "scope_id": 0, "network_prefix": 64},
                {"address": "fe80::9", "scope_id": 0, "network_prefix": 64},
            ],
        },
        {
            "name": "lo",
            "enabled": True,
            "ipv4": [{"address": "127.0.0.1", "network_prefix": 8}],
            "ipv6": [{"address": "::1", "scope_id": 0, "network_prefix": 128}],
        },
        {
            "name": "wlan0",
            "enabled": False,
            "ipv4": [{"address": "10.0.0.5", "network_prefix": 24}],
            "ipv6": [{"address": "fe80::2", "scope_id": 3, "network_prefix": 64}],
        },
        {
            "name": "eth0:1",
            "enabled": True,
            "ipv4": [
                {"address": "192.168.1.5", "network_prefix": 24},
                {"address": "127.0.0.2", "network_prefix": 8},
            ],
            "ipv6": [],
        },
    ]
    with patch(
        "homeassistant.components.network.async_get_adapters", return_value=adapters
    ):
        assert await async_get_interfaces(hass) == [
            "192.168.1.5",
            "fe80::1%2",
            "127.0.0.1",
        ]


async def test_interfaces_from_home_assistant(hass: HomeAssistant) -> None:
    """Without patches, the network integration's adapters are used (the test's eth0)."""
    assert await async_get_interfaces(hass) == ["10.10.10.10"]


def test_standard_multicast() -> None:
    """Outside tests, discovery uses the standard group and port 3702."""
    assert discovery.get_multicast() == Multicast(port=3702)


def test_discovered_host() -> None:
    """The address that answered, else the first XAddr's host."""
    device = DiscoveredDevice(
        "u", frozenset({SCAN_DEVICE_TYPE}), ("http://[fe80::1%252]:80/d",)
    )
    assert discovery.discovered_host(device) == "fe80::1"
    assert discovery.discovery_data(device) == {
        "uuid": "u",
        "xaddrs": ["http://[fe80::1%252]:80/d"],
        "host": "fe80::1",
    }


# --- Hello and search -------------------------------------------------------------------------


async def test_hello_starts_a_discovery_flow(
    hass: HomeAssistant, start_scanner: StartScanner, events: list[DiscoveryEvent]
) -> None:
    """A scanner that announces itself is offered; its Bye is passed on too."""
    await async_setup_discovery(hass)
    assert running(hass).listening
    await searched(hass)  # the search at start found nothing
    assert discovery_flows(hass) == []

    office = await start_scanner("office_mfp")
    await until(lambda: bool(discovery_flows(hass)))
    await hass.async_block_till_done()
    [flow] = discovery_flows(hass)
    assert flow["context"]["unique_id"] == office.uuid
    assert flow["step_id"] == "confirm"
    assert flow["context"]["title_placeholders"] == {
        "name": "Simulated Office MFP",
        "host": "127.0.0.1",
    }
    assert [event.type for event in events] == [DiscoveryEventType.HELLO]

    with (  # setting the entry up is the runtime's business, tested elsewhere
        patch("custom_components.wsd_scan.async_setup_entry", return_value=True),
        patch("custom_components.wsd_scan.async_unload_entry", return_value=True),
    ):
        result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
        await hass.async_block_till_done()
        assert hass.config_entries.async_entries(DOMAIN)[0].unique_id == office.uuid
        assert await hass.config_entries.async_unload(result["result"].entry_id)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_XADDRS: [office.device_url]}

    await office.stop()
    await until(lambda: len(events) == 2)
    assert events[1].type is DiscoveryEventType.BYE
    assert events[1].device.uuid == office.uuid


async def test_search_at_start_and_every_interval(
    hass: HomeAssistant, start_scanner: StartScanner
) -> None:
    """Scanners that only answer are found at start and again at each interval."""
    office = await start_scanner("office_mfp")  # its Hello is gone: nobody listened
    await async_setup_discovery(hass)
    await searched(hass)
    [flow] = discovery_flows(hass)
    assert flow["context"]["unique_id"] == office.uuid

    # The user closes the offer; the next search makes it again.
    hass.config_entries.flow.async_abort(flow["flow_id"])
    async_fire_time_changed(hass, dt_util.utcnow() + DISCOVERY_INTERVAL)
    await hass.async_block_till_done()
    await searched(hass)
    [flow] = discovery_flows(hass)
    assert flow["context"]["unique_id"] == office.uuid

    # Unplugged (no Bye): the next search does not hear it, and the offer is withdrawn.
    await office.set_online(False)
    async_fire_time_changed(hass, dt_util.utcnow() + 2 * DISCOVERY_INTERVAL)
    await hass.async_block_till_done()
    await searched(hass)
    assert discovery_flows(hass) == []


async def test_bye_withdraws_the_offer(
    hass: HomeAssistant, start_scanner: StartScanner
) -> None:
    """A discovered scanner that says Bye is no longer offered."""
    await async_setup_discovery(hass)
    await searched(hass)
    office = await start_scanner("office_mfp")
    twin = await start_scanner("office_mfp")
    await until(lambda: len(discovery_flows(hass)) == 2)

    await office.stop()
    await until(lambda: len(discovery_flows(hass)) == 1)
    [flow] = discovery_flows(hass)
    assert flow["context"]["unique_id"] == twin.uuid


async def test_search_updates_known_scanner(
    hass: HomeAssistant, start_scanner: StartScanner
) -> None:
    """A configured scanner found at another address gets its entry updated."""
    office = await start_scanner("office_mfp")
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=office.uuid,
        data={CONF_HOST: "192.0.2.40", CONF_XADDRS: ["http://192.0.2.40/d"]},
    )
    entry.add_to_hass(hass)
    await async_setup_discovery(hass)
    await searched(hass)
    assert discovery_flows(hass) == []
    assert entry.data == {CONF_HOST: "127.0.0.1", CONF_XADDRS: [office.device_url]}


async def test_no_flow_for_hello_without_addresses(
    hass: HomeAssistant, loopback: AsyncMock, events: list[DiscoveryEvent]
) -> None:
    """A Hello whose Resolve went unanswered has nowhere to go: no flow."""
    await async_setup_discovery(hass)
    await searched(hass)
    device = DiscoveredDevice(str(uuid.uuid4()), frozenset({SCAN_DEVICE_TYPE}), ())
    running(hass)._async_on_event(  # noqa: SLF001 - what the listener calls
        DiscoveryEvent(DiscoveryEventType.HELLO, device)
    )
    await hass.async_block_till_done()
    assert len(events) == 1
    assert discovery_flows(hass) == []


# --- interfaces change, listening fails -------------------------------------------------------


async def test_listener_follows_the_adapters(
    hass: HomeAssistant, loopback: AsyncMock, caplog: pytest.LogCaptureFixture
) -> None:
    """The listener restarts when the adapters change, and stops without any."""
    await async_setup_discovery(hass)
    await searched(hass)
    listener = running(hass)._listener  # noqa: SLF001
    assert running(hass).listening

    await running(hass).async_search()  # same adapters: the same listener
    assert running(hass)._listener is listener  # noqa: SLF001

    loopback.return_value = []
    await running(hass).async_search()
    assert not running(hass).listening
    assert not listener.listening
    assert "WS-Discovery search on [] failed" in caplog.text

    loopback.return_value = ["not-an-address"]
    await running(hass).async_search()
    assert not running(hass).listening
    assert "Not listening for WSD scanners' announcements" in caplog.text

    loopback.return_value = ["127.0.0.1"]
    await running(hass).async_search()
    assert running(hass).listening


# --- lifecycle --------------------------------------------------------------------------------


async def test_setup_is_idempotent(hass: HomeAssistant, loopback: AsyncMock) -> None:
    """Calling setup twice keeps the one discovery."""
    await async_setup_discovery(hass)
    first = running(hass)
    await async_setup_discovery(hass)
    assert running(hass) is first
    first.async_schedule_search()  # one search at a time
    assert first.searching
    await searched(hass)


async def test_stops_cleanly_with_home_assistant(
    hass: HomeAssistant, start_scanner: StartScanner
) -> None:
    """Home Assistant stopping ends the search, the timer and the listener.

    Afterwards no Hello is heard, no search is scheduled, and nothing lingers (the
    test harness fails on lingering tasks and timers).
    """
    with patch(f"{DISCOVERY}.SEARCH_TIMEOUT", 60):
        await async_setup_discovery(hass)
        disc = running(hass)
        assert disc.searching  # the search at start, in its window

        hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
        await hass.async_block_till_done()
    assert not disc.searching
    assert not disc.listening
    assert DATA_DISCOVERY not in hass.data

    await start_scanner("office_mfp")  # its Hello
    async_fire_time_changed(hass, dt_util.utcnow() + DISCOVERY_INTERVAL)
    disc.async_schedule_search()
    await asyncio.sleep(0.3)
    await hass.async_block_till_done()
    assert not disc.searching
    assert discovery_flows(hass) == []


async def test_stop_without_search(hass: HomeAssistant, loopback: AsyncMock) -> None:
    """Stopping between searches, then again, is fine."""
    await async_setup_discovery(hass)
    disc = running(hass)
    await searched(hass)
    await disc.async_stop()
    await disc.async_stop()
    assert not disc.listening
