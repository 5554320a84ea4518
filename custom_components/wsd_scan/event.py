"""The scan-button event: a profile was chosen on the scanner's panel and Scan pressed."""

from __future__ import annotations

from typing import override

from homeassistant.components.event import (
    EventDeviceClass,
    EventEntity,
    EventEntityDescription,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import WsdScanEntity
from .models import WsdScanConfigEntry
from .panel import PanelPress

# Events are pushed by the scanner; nothing is polled or sent.
PARALLEL_UPDATES = 0


# Presses come from the scanner's panel; the entity stays available while it is away.
SCAN_BUTTON_EVENT = EventEntityDescription(
    key="scan_button",
    translation_key="scan_button",
    device_class=EventDeviceClass.BUTTON,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WsdScanConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the scan-button event when the scanner has panel profiles."""
    if entry.runtime_data.panel.profiles:
        async_add_entities([WsdScanButtonEvent(entry, SCAN_BUTTON_EVENT)])


class WsdScanButtonEvent(WsdScanEntity, EventEntity):
    """Fires with the profile's event type when it is started on the panel.

    The event type is the profile's name as a slug, fixed when the profile was added (the
    subentry id for profiles made before): it stays when the profile is renamed, so
    automations keep working; the name is an attribute.
    """

    def __init__(
        self, entry: WsdScanConfigEntry, description: EventEntityDescription
    ) -> None:
        """Offer one event type per profile."""
        super().__init__(entry, description)
        self._panel = entry.runtime_data.panel
        self._attr_event_types = [
            profile.event_type for profile in self._panel.profiles.values()
        ]

    @override
    async def async_added_to_hass(self) -> None:
        """Listen to the panel's presses."""
        await super().async_added_to_hass()
        self.async_on_remove(self._panel.async_add_listener(self._pressed))

    @callback
    def _pressed(self, press: PanelPress) -> None:
        self._trigger_event(
            press.profile.event_type,
            {
                "profile": press.profile.name,
                "input_source": press.source,
                "scan_identifier": press.scan_identifier,
            },
        )
        self.async_write_ha_state()
