"""Fixtures of the Home Assistant tests: a simulated scanner and an entry for it.

The simulator posts WS-Eventing notifications to Home Assistant's HTTP app served by
`hass_client_no_auth` on 127.0.0.1 (Home Assistant's own server is not bound in tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any

from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.wsd_scan.const import CONF_CALLBACK_URL, CONF_XADDRS, DOMAIN
from simulator import SimulatedScanner


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

    The integration is set up first: its view must exist before the server starts.
    """
    assert await async_setup_component(hass, DOMAIN, {})
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


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
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
