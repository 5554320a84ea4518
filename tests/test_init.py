"""Setting up and unloading a config entry."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import DOMAIN


async def test_setup_and_unload(hass: HomeAssistant) -> None:
    """An entry loads, keeps its runtime data and unloads cleanly."""
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_HOST: "127.0.0.1"})
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.host == "127.0.0.1"

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
