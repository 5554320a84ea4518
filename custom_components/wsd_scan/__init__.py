"""The WSD Scan integration: network scanners that speak WSD (Web Services on Devices)."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, Platform
from homeassistant.core import HomeAssistant

PLATFORMS: list[Platform] = []


@dataclass(slots=True)
class WsdScanRuntimeData:
    """What a loaded config entry holds while it runs."""

    host: str


type WsdScanConfigEntry = ConfigEntry[WsdScanRuntimeData]


async def async_setup_entry(hass: HomeAssistant, entry: WsdScanConfigEntry) -> bool:
    """Set up a scanner from a config entry."""
    entry.runtime_data = WsdScanRuntimeData(host=entry.data[CONF_HOST])
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: WsdScanConfigEntry) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
