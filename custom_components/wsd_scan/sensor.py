"""Sensors: the scanner's state, its latest scan job and the last scan stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ScannerData, WsdScanConfigEntry
from .entity import WsdScanEntity, WsdScanEntityDescription, snake_case
from .wsd import JobState, ScannerState

# Read-only: the coordinator does all updates.
PARALLEL_UPDATES = 0

SCANNER_STATES = [ScannerState.IDLE, ScannerState.PROCESSING, ScannerState.STOPPED]
JOB_STATES = [
    snake_case(state.value) for state in JobState if state is not JobState.UNKNOWN
]


@dataclass(frozen=True, kw_only=True)
class WsdScanSensorEntityDescription(SensorEntityDescription, WsdScanEntityDescription):
    """Describes a scanner sensor."""

    value_fn: Callable[[ScannerData], str | datetime | None]


def _scanner_state(data: ScannerData) -> str | None:
    state = data.status.state
    return state.value if state in SCANNER_STATES else None


def _job_state(data: ScannerData) -> str | None:
    if data.job is None or data.job.state is JobState.UNKNOWN:
        return None
    return snake_case(data.job.state.value)


def _job_attributes(data: ScannerData) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if (job := data.job) is not None:
        attributes |= {
            "job_id": job.job_id,
            "reasons": [snake_case(reason) for reason in job.reasons],
            "pages": job.pages,
        }
    if (post_scan := data.post_scan) is not None:
        attributes |= {
            "post_scan_state": snake_case(post_scan.state),
            "post_scan_images": post_scan.images_received,
        }
    return attributes


def _last_scan_attributes(data: ScannerData) -> dict[str, Any]:
    scan = data.last_scan
    if scan is None:
        return {}
    return {
        "pages": scan.pages,
        "files": [str(file.path) for file in scan.files],
        "complete": scan.complete,
    }


SENSORS: tuple[WsdScanSensorEntityDescription, ...] = (
    WsdScanSensorEntityDescription(
        key="scanner_state",
        translation_key="scanner_state",
        # The device's main entity: it carries the device's name.
        name=None,
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in SCANNER_STATES],
        value_fn=_scanner_state,
    ),
    WsdScanSensorEntityDescription(
        key="job_state",
        translation_key="job_state",
        device_class=SensorDeviceClass.ENUM,
        options=JOB_STATES,
        value_fn=_job_state,
        attributes_fn=_job_attributes,
    ),
    WsdScanSensorEntityDescription(
        key="last_scan",
        translation_key="last_scan",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda data: data.last_scan.created if data.last_scan else None,
        attributes_fn=_last_scan_attributes,
        local=True,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WsdScanConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the scanner's sensors."""
    async_add_entities(WsdScanSensor(entry, description) for description in SENSORS)


class WsdScanSensor(WsdScanEntity, SensorEntity):
    """A sensor showing part of the scanner's data."""

    entity_description: WsdScanSensorEntityDescription

    @property
    @override
    def native_value(self) -> str | datetime | None:
        """Return the state."""
        return self.entity_description.value_fn(self.coordinator.data)
