"""The base entities of a scanner: one showing its status, one showing Home Assistant's scans."""

from __future__ import annotations

import re
from typing import override

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import WsdScanCoordinator
from .models import WsdScanConfigEntry
from .runner import ScanActivity

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD = re.compile(r"([a-z0-9])([A-Z])")


def snake_case(name: str) -> str:
    """Turn a WS-Scan keyword (`MediaJam`, `ADFJam`) into a translation key."""
    return _WORD.sub(r"\1_\2", _ACRONYM.sub(r"\1_\2", name)).lower()


class WsdScanEntity(Entity):
    """An entity of one scanner, on its device."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self, entry: WsdScanConfigEntry, description: EntityDescription
    ) -> None:
        """Describe the entity and the scanner's device."""
        self.entity_description = description
        device = entry.runtime_data.device
        device_id = entry.unique_id or device.uuid
        self._attr_unique_id = f"{device_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, device_id)},
            name=device.name,
            manufacturer=device.manufacturer,
            model=device.model,
            model_id=device.model_number,
            serial_number=device.serial_number,
            sw_version=device.firmware_version,
            configuration_url=device.presentation_url,
        )


class WsdScanStatusEntity(CoordinatorEntity[WsdScanCoordinator], WsdScanEntity):
    """Shows the scanner's status: unavailable while the scanner does not answer."""

    def __init__(
        self, entry: WsdScanConfigEntry, description: EntityDescription
    ) -> None:
        """Follow the scanner's coordinator."""
        CoordinatorEntity.__init__(self, entry.runtime_data.coordinator)
        WsdScanEntity.__init__(self, entry, description)


class WsdScanActivityEntity(WsdScanEntity):
    """Shows what Home Assistant keeps of the scanner's scans: available while it is away."""

    def __init__(
        self, entry: WsdScanConfigEntry, description: EntityDescription
    ) -> None:
        """Follow the scanner's scan activity."""
        super().__init__(entry, description)
        self.activity: ScanActivity = entry.runtime_data.activity

    @override
    async def async_added_to_hass(self) -> None:
        """Show every change of the activity."""
        await super().async_added_to_hass()
        self.async_on_remove(self.activity.async_add_listener(self._handle_activity))

    def _handle_activity(self) -> None:
        """Write the new state (override to read the activity first)."""
        self.async_write_ha_state()
