"""What a loaded config entry holds: its runtime data, and the typed ConfigEntry alias.

A leaf of the import graph: the runtime's classes are named for typing only, and none of
them imports this module (they take what they need as arguments).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .wsd import DeviceInfo, ScanClient, ScannerElements

if TYPE_CHECKING:
    from .coordinator import WsdScanCoordinator
    from .panel import PanelScans
    from .push import Push
    from .runner import ScanActivity, ScanRunner


@dataclass(frozen=True, slots=True)
class WsdScanRuntimeData:
    """One scanner at run time: what it said about itself, and who works with it."""

    device: DeviceInfo
    elements: ScannerElements
    scan_client: ScanClient
    #: The scanner's status (device state).
    coordinator: WsdScanCoordinator
    #: Home Assistant's side of scanning: the latest job, the last scan, the upload.
    activity: ScanActivity
    runner: ScanRunner
    push: Push
    panel: PanelScans


type WsdScanConfigEntry = ConfigEntry[WsdScanRuntimeData]
