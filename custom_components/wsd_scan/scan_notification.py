"""A short notification for a scan the user started by hand (Scan button, panel).

Scans started by actions are left to the automation; the notification replaces the
scanner's previous one and can be switched off in the options.
"""

from __future__ import annotations

from homeassistant.components import persistent_notification
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .const import CONF_NOTIFY_SCANS, DOMAIN
from .runner import ScanOutcome


@callback
def async_notify_scan(
    hass: HomeAssistant, entry: ConfigEntry, outcome: ScanOutcome
) -> None:
    """Say that the scan is stored, unless the options switch that off."""
    if not entry.options.get(CONF_NOTIFY_SCANS, True):
        return
    scan = outcome.scan
    pages = "1 page" if scan.pages == 1 else f"{scan.pages} pages"
    files = ", ".join(file.path.name for file in scan.files)
    where = (
        f"stored in Media → WSD scans: {files}"
        if outcome.kept
        else "handed to the post-scan endpoint"
    )
    glass = " The feeder was empty: the glass was scanned." * (
        outcome.glass_instead_of_feeder
    )
    persistent_notification.async_create(
        hass,
        f"{pages} {where}.{glass}",
        title=f"{entry.title}: scan done",
        notification_id=f"{DOMAIN}_scan_{entry.entry_id}",
    )
