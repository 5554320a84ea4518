"""Sensors: the scanner's state and problem, its latest job and the last scan stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import (
    NOT_A_PROBLEM,
    WsdScanActivityEntity,
    WsdScanStatusEntity,
    snake_case,
)
from .models import WsdScanConfigEntry
from .runner import ScanActivity
from .wsd import JobState, ScannerState, ScannerStatus

# Read-only: the coordinator and the scan activity push all updates.
PARALLEL_UPDATES = 0

SCANNER_STATES = [ScannerState.IDLE, ScannerState.PROCESSING, ScannerState.STOPPED]
JOB_STATES = [
    snake_case(state.value) for state in JobState if state is not JobState.UNKNOWN
]
#: The problems the problem sensor names, most pressing first (WS-Scan DeviceCondition
#: names); several at once show as the first.
PROBLEMS = [
    "MediaJam",
    "MultipleFeedError",
    "CoverOpen",
    "InterlockOpen",
    "LampError",
    "InternalStorageFull",
    "AttentionRequired",
    "Paused",
]
#: The problem sensor's states: none, one of PROBLEMS, or another the device named.
PROBLEM_NONE = "none"
PROBLEM_OTHER = "other"
PROBLEM_STATES = [PROBLEM_NONE, *map(snake_case, PROBLEMS), PROBLEM_OTHER]


@dataclass(frozen=True, kw_only=True)
class WsdScanSensorEntityDescription[Source](SensorEntityDescription):
    """Describes a sensor showing part of `Source` (the status, or the scan activity)."""

    value_fn: Callable[[Source], str | int | datetime | None]
    attributes_fn: Callable[[Source], dict[str, Any]] | None = None


def _scanner_state(status: ScannerStatus) -> str | None:
    return status.state.value if status.state in SCANNER_STATES else None


def _problem(status: ScannerStatus) -> str:
    problems = status.problems - NOT_A_PROBLEM
    for name in PROBLEMS:
        if name in problems:
            return snake_case(name)
    return PROBLEM_OTHER if problems else PROBLEM_NONE


def _job_state(activity: ScanActivity) -> str | None:
    if activity.job is None or activity.job.state is JobState.UNKNOWN:
        return None
    return snake_case(activity.job.state.value)


def _job_attributes(activity: ScanActivity) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if (job := activity.job) is not None:
        attributes |= {
            "job_id": job.job_id,
            "reasons": [snake_case(reason) for reason in job.reasons],
            "pages": job.pages,
        }
    if (post_scan := activity.post_scan) is not None:
        attributes |= {
            "post_scan_state": snake_case(post_scan.state),
            "post_scan_images": post_scan.images_received,
        }
    if activity.paperless:
        attributes["paperless_documents"] = [
            asdict(document) for document in activity.paperless
        ]
    return attributes


def _last_scan_attributes(activity: ScanActivity) -> dict[str, Any]:
    scan = activity.last_scan
    if scan is None:
        return {}
    return {
        "pages": scan.pages,
        "blank_pages_skipped": scan.blank_pages_skipped,
        "files": [str(file.path) for file in scan.files],
        "complete": scan.complete,
    }


def _last_scan_file(activity: ScanActivity) -> str | None:
    """Return the name of the last scan's file; its first, when each page is a file."""
    scan = activity.last_scan
    return scan.files[0].path.name if scan and scan.files else None


SCANNER_STATE = WsdScanSensorEntityDescription[ScannerStatus](
    key="scanner_state",
    translation_key="scanner_state",
    # The device's main entity: it carries the device's name.
    name=None,
    device_class=SensorDeviceClass.ENUM,
    options=[state.value for state in SCANNER_STATES],
    value_fn=_scanner_state,
)
PROBLEM = WsdScanSensorEntityDescription[ScannerStatus](
    key="problem_cause",
    translation_key="problem_cause",
    device_class=SensorDeviceClass.ENUM,
    options=PROBLEM_STATES,
    value_fn=_problem,
)
JOB_STATE = WsdScanSensorEntityDescription[ScanActivity](
    key="job_state",
    translation_key="job_state",
    device_class=SensorDeviceClass.ENUM,
    options=JOB_STATES,
    value_fn=_job_state,
    attributes_fn=_job_attributes,
)
LAST_SCAN = WsdScanSensorEntityDescription[ScanActivity](
    key="last_scan",
    translation_key="last_scan",
    device_class=SensorDeviceClass.TIMESTAMP,
    value_fn=lambda activity: (
        activity.last_scan.created if activity.last_scan else None
    ),
    attributes_fn=_last_scan_attributes,
)
LAST_SCAN_PAGES = WsdScanSensorEntityDescription[ScanActivity](
    key="last_scan_pages",
    translation_key="last_scan_pages",
    value_fn=lambda activity: activity.last_scan.pages if activity.last_scan else None,
)
LAST_SCAN_FILE = WsdScanSensorEntityDescription[ScanActivity](
    key="last_scan_file",
    translation_key="last_scan_file",
    value_fn=_last_scan_file,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WsdScanConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the scanner's sensors."""
    async_add_entities(
        [
            WsdScanStatusSensor(entry, SCANNER_STATE),
            WsdScanStatusSensor(entry, PROBLEM),
            WsdScanJobSensor(entry, JOB_STATE),
            WsdScanActivitySensor(entry, LAST_SCAN),
            WsdScanActivitySensor(entry, LAST_SCAN_PAGES),
            WsdScanActivitySensor(entry, LAST_SCAN_FILE),
        ]
    )


class WsdScanStatusSensor(WsdScanStatusEntity, SensorEntity):
    """A sensor showing part of the scanner's status."""

    entity_description: WsdScanSensorEntityDescription[ScannerStatus]

    @property
    @override
    def native_value(self) -> str | int | datetime | None:
        """Return the state."""
        return self.entity_description.value_fn(self.coordinator.data)


class WsdScanActivitySensor(WsdScanActivityEntity, SensorEntity):
    """A sensor showing part of what Home Assistant knows of the scanner's scans."""

    entity_description: WsdScanSensorEntityDescription[ScanActivity]

    @property
    @override
    def native_value(self) -> str | int | datetime | None:
        """Return the state."""
        return self.entity_description.value_fn(self.activity)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the attributes, if the description has any."""
        attributes_fn = self.entity_description.attributes_fn
        return attributes_fn(self.activity) if attributes_fn else None


class WsdScanJobSensor(WsdScanActivitySensor):
    """The latest job: reported by the scanner, so unavailable while it does not answer."""

    def __init__(
        self,
        entry: WsdScanConfigEntry,
        description: WsdScanSensorEntityDescription[ScanActivity],
    ) -> None:
        """Follow the scanner's availability too."""
        super().__init__(entry, description)
        self._coordinator = entry.runtime_data.coordinator

    @override
    async def async_added_to_hass(self) -> None:
        """Show when the scanner goes and comes back."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self._coordinator.async_add_listener(self.async_write_ha_state)
        )

    @property
    @override
    def available(self) -> bool:
        """Whether the scanner answers."""
        return self._coordinator.last_update_success
