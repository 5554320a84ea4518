"""The Scan button: scans with the scanner's default settings (its options)."""

from __future__ import annotations

from typing import override

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import WsdScanStatusEntity
from .models import WsdScanConfigEntry
from .profiles import options_request
from .scan_notification import async_notify_scan

# Presses are not limited here: the scanner's runner queues them.
PARALLEL_UPDATES = 0


SCAN_BUTTON = ButtonEntityDescription(key="scan", translation_key="scan")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WsdScanConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the Scan button."""
    async_add_entities([WsdScanButton(entry, SCAN_BUTTON)])


class WsdScanButton(WsdScanStatusEntity, ButtonEntity):
    """Scans into the media library with the default settings (while the scanner answers)."""

    def __init__(
        self, entry: WsdScanConfigEntry, description: ButtonEntityDescription
    ) -> None:
        """Scan on the entry's scanner with its options."""
        super().__init__(entry, description)
        self._entry = entry

    @override
    async def async_press(self) -> None:
        """Scan (the backs, when a manual duplex scan waits for them).

        Errors (queue full, feeder empty, …) are shown as translated messages.
        """
        outcome = await self._entry.runtime_data.runner.async_scan(
            options_request(self._entry.options)
        )
        async_notify_scan(self.hass, self._entry, outcome)
