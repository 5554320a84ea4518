"""The last scan image: the first page of the newest scan (its preview)."""

from __future__ import annotations

import mimetypes
from typing import override

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import WsdScanActivityEntity
from .models import WsdScanConfigEntry
from .storage import StoredScan

# Read-only: the scan activity pushes all updates.
PARALLEL_UPDATES = 0

LAST_SCAN_IMAGE = ImageEntityDescription(
    key="last_scan_image", translation_key="last_scan_image"
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WsdScanConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the last scan image."""
    async_add_entities([WsdScanImage(hass, entry, LAST_SCAN_IMAGE)])


class WsdScanImage(WsdScanActivityEntity, ImageEntity):
    """Shows the preview of the newest scan's first page."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WsdScanConfigEntry,
        description: ImageEntityDescription,
    ) -> None:
        """Show the last scan known at setup."""
        WsdScanActivityEntity.__init__(self, entry, description)
        ImageEntity.__init__(self, hass)
        self._scan: StoredScan | None = None
        self._show(self.activity.last_scan)

    def _show(self, scan: StoredScan | None) -> None:
        self._scan = scan
        self._attr_image_last_updated = scan.created if scan else None
        if scan and scan.previews:
            self._attr_content_type = (
                mimetypes.guess_type(scan.previews[0].name)[0] or "image/jpeg"
            )

    @callback
    @override
    def _handle_activity(self) -> None:
        if self.activity.last_scan is not self._scan:
            self._show(self.activity.last_scan)
        super()._handle_activity()

    @override
    def image(self) -> bytes | None:
        """Return the preview's bytes (run in the executor); None without one."""
        if self._scan is None or not self._scan.previews:
            return None
        try:
            return self._scan.previews[0].read_bytes()
        except OSError:
            # Deleted from the media library meanwhile.
            return None
