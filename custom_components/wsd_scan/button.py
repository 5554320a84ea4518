"""The Scan button: scans with the scanner's default settings (its options)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import override

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import WsdScanConfigEntry
from .entity import WsdScanEntity, WsdScanEntityDescription
from .profiles import scan_settings

# Presses are not queued here: the scanner's runner refuses a second scan as busy.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class WsdScanButtonEntityDescription(ButtonEntityDescription, WsdScanEntityDescription):
    """Describes a scanner button."""


SCAN_BUTTON = WsdScanButtonEntityDescription(key="scan", translation_key="scan")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WsdScanConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the Scan button."""
    async_add_entities([WsdScanButton(entry, SCAN_BUTTON)])


class WsdScanButton(WsdScanEntity, ButtonEntity):
    """Scans into the media library with the default settings."""

    entity_description: WsdScanButtonEntityDescription

    @override
    async def async_press(self) -> None:
        """Scan; errors (busy, feeder empty, …) are shown as translated messages."""
        entry = self.coordinator.config_entry
        await entry.runtime_data.runner.async_scan(scan_settings(entry.options))
