"""The base entity of a scanner's entities."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import re
from typing import Any, override

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import ScannerData, WsdScanConfigEntry, WsdScanCoordinator

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD = re.compile(r"([a-z0-9])([A-Z])")


def snake_case(name: str) -> str:
    """Turn a WS-Scan keyword (`MediaJam`, `ADFJam`) into a translation key."""
    return _WORD.sub(r"\1_\2", _ACRONYM.sub(r"\1_\2", name)).lower()


@dataclass(frozen=True, kw_only=True)
class WsdScanEntityDescription(EntityDescription):
    """What every scanner entity description may add: attributes from the data."""

    attributes_fn: Callable[[ScannerData], dict[str, Any]] | None = None
    #: Shows what Home Assistant keeps (the last scan): available while the scanner is not.
    local: bool = False


class WsdScanEntity(CoordinatorEntity[WsdScanCoordinator]):
    """An entity of one scanner, on its device."""

    _attr_has_entity_name = True
    entity_description: WsdScanEntityDescription

    def __init__(
        self, entry: WsdScanConfigEntry, description: WsdScanEntityDescription
    ) -> None:
        """Describe the entity and the scanner's device."""
        super().__init__(entry.runtime_data.coordinator)
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

    @property
    @override
    def available(self) -> bool:
        """Whether the scanner answers, or the entity shows what is kept here."""
        return self.entity_description.local or super().available

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the attributes, if the description has any."""
        attributes_fn = self.entity_description.attributes_fn
        return attributes_fn(self.coordinator.data) if attributes_fn else None
