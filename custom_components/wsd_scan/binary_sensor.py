"""Binary sensors: a problem needing attention, paper in the feeder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import WsdScanStatusEntity, snake_case
from .models import WsdScanConfigEntry
from .wsd import ScannerElements, ScannerStatus

# Read-only: the coordinator does all updates.
PARALLEL_UPDATES = 0

#: Conditions that are reported but need nobody: warm-up, and an empty feeder (the
#: feeder sensor shows that; an idle feeder is usually empty).
NOT_A_PROBLEM: Final = frozenset(
    {"Calibrating", "LampWarming", "LampWarning", "InputTrayEmpty"}
)


@dataclass(frozen=True, kw_only=True)
class WsdScanBinarySensorEntityDescription(BinarySensorEntityDescription):
    """Describes a scanner binary sensor."""

    is_on_fn: Callable[[ScannerStatus], bool]
    attributes_fn: Callable[[ScannerStatus], dict[str, Any]] | None = None
    exists_fn: Callable[[ScannerElements], bool] = lambda _: True


def _conditions(status: ScannerStatus) -> dict[str, Any]:
    return {"conditions": sorted(snake_case(name) for name in status.problems)}


BINARY_SENSORS: tuple[WsdScanBinarySensorEntityDescription, ...] = (
    WsdScanBinarySensorEntityDescription(
        key="problem",
        translation_key="problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda status: bool(status.problems - NOT_A_PROBLEM),
        attributes_fn=_conditions,
    ),
    WsdScanBinarySensorEntityDescription(
        key="feeder_loaded",
        translation_key="feeder_loaded",
        is_on_fn=lambda status: not status.feeder_empty,
        exists_fn=lambda elements: (
            elements.capabilities is not None
            and elements.capabilities.adf_front is not None
        ),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WsdScanConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the scanner's binary sensors (the feeder's only where there is one)."""
    elements = entry.runtime_data.elements
    async_add_entities(
        WsdScanBinarySensor(entry, description)
        for description in BINARY_SENSORS
        if description.exists_fn(elements)
    )


class WsdScanBinarySensor(WsdScanStatusEntity, BinarySensorEntity):
    """A binary sensor showing part of the scanner's status."""

    entity_description: WsdScanBinarySensorEntityDescription

    @property
    @override
    def is_on(self) -> bool:
        """Return whether the sensor is on."""
        return self.entity_description.is_on_fn(self.coordinator.data)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the attributes, if the description has any."""
        attributes_fn = self.entity_description.attributes_fn
        return attributes_fn(self.coordinator.data) if attributes_fn else None
