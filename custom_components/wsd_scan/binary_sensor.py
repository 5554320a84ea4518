"""Binary sensors: a problem needing attention, paper in the feeder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import NOT_A_PROBLEM, WsdScanStatusEntity, snake_case
from .models import WsdScanConfigEntry
from .wsd import ScannerElements, ScannerStatus

# Read-only: the coordinator does all updates.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class WsdScanBinarySensorEntityDescription(BinarySensorEntityDescription):
    """Describes a scanner binary sensor."""

    is_on_fn: Callable[[ScannerStatus], bool]
    attributes_fn: Callable[[ScannerStatus], dict[str, Any]] | None = None


def _conditions(status: ScannerStatus) -> dict[str, Any]:
    return {"conditions": sorted(snake_case(name) for name in status.problems)}


PROBLEM = WsdScanBinarySensorEntityDescription(
    key="problem",
    translation_key="problem",
    device_class=BinarySensorDeviceClass.PROBLEM,
    is_on_fn=lambda status: bool(status.problems - NOT_A_PROBLEM),
    attributes_fn=_conditions,
)
FEEDER_LOADED = WsdScanBinarySensorEntityDescription(
    key="feeder_loaded",
    translation_key="feeder_loaded",
    is_on_fn=lambda status: not status.feeder_empty,
)


def _has_feeder(elements: ScannerElements) -> bool:
    return (
        elements.capabilities is not None
        and elements.capabilities.adf_front is not None
    )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WsdScanConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the scanner's binary sensors (the feeder's only where there is one)."""
    entities = [WsdScanBinarySensor(entry, PROBLEM)]
    if _has_feeder(entry.runtime_data.elements):
        entities.append(WsdScanFeederSensor(entry, FEEDER_LOADED))
    async_add_entities(entities)


class WsdScanBinarySensor(WsdScanStatusEntity, BinarySensorEntity):
    """A binary sensor showing part of the scanner's status."""

    entity_description: WsdScanBinarySensorEntityDescription

    @property
    @override
    def is_on(self) -> bool | None:
        """Return whether the sensor is on."""
        return self.entity_description.is_on_fn(self.coordinator.data)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the attributes, if the description has any."""
        attributes_fn = self.entity_description.attributes_fn
        return attributes_fn(self.coordinator.data) if attributes_fn else None


class WsdScanFeederSensor(WsdScanBinarySensor):
    """Paper in the feeder: unknown until the scanner has said once that it is empty.

    Many scanners never report InputTrayEmpty; for them "no report" would read as
    Loaded with no paper in the feeder. One that reported it once is believed after.
    """

    _reports_empty = False

    @property
    @override
    def is_on(self) -> bool | None:
        """Return whether the feeder holds paper; None while that is not known."""
        if self.coordinator.data.feeder_empty:
            self._reports_empty = True
        return super().is_on if self._reports_empty else None
