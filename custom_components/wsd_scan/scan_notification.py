"""Notifications: scans the user started by hand, and sessions that need the user.

Scans started by actions are left to the automation; the notification of a scan started
with the Scan button or on the panel replaces the scanner's previous one and can be
switched off in the options. A manual duplex scan waiting for its backs, and a session
stored because it was left open, are always told (the user has to act, or would not
know): as a notification and, for the backs, the `wsd_scan_waiting_for_backs` event.
"""

from __future__ import annotations

from homeassistant.components import persistent_notification
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util

from .const import CONF_NOTIFY_SCANS, DOMAIN, EVENT_WAITING_FOR_BACKS
from .runner import PassOutcome, ScanOutcome, SessionNotifier
from .sessions import SessionProgress


def _pages(count: int) -> str:
    return "1 page" if count == 1 else f"{count} pages"


def _notify(hass: HomeAssistant, entry: ConfigEntry, title: str, message: str) -> None:
    persistent_notification.async_create(
        hass,
        message,
        title=f"{entry.title}: {title}",
        notification_id=f"{DOMAIN}_scan_{entry.entry_id}",
    )


def _stored(outcome: ScanOutcome) -> str:
    """Say what became of a stored scan."""
    scan = outcome.scan
    files = ", ".join(file.path.name for file in scan.files)
    where = (
        f"stored in Media → WSD scans: {files}"
        if outcome.kept
        else "handed to the post-scan endpoint"
    )
    glass = " The feeder was empty: the glass was scanned." * (
        outcome.glass_instead_of_feeder
    )
    return f"{_pages(scan.pages)} {where}.{glass}"


@callback
def async_notify_scan(
    hass: HomeAssistant, entry: ConfigEntry, outcome: ScanOutcome | PassOutcome
) -> None:
    """Say that the scan is stored or added to the session, unless switched off.

    The fronts of a manual duplex scan are told by `ScanNotifier` already.
    """
    if not entry.options.get(CONF_NOTIFY_SCANS, True):
        return
    if not isinstance(outcome, PassOutcome):
        _notify(hass, entry, "scan done", _stored(outcome))
    elif not outcome.session.waiting_for_backs:
        session = outcome.session
        _notify(
            hass,
            entry,
            "scan added to the session",
            f"{_pages(outcome.pages)} added: the session holds "
            f"{_pages(session.pages)} of {session.passes} scans. Scan more, or "
            "finish it to store them as one document.",
        )


class ScanNotifier(SessionNotifier):
    """Tells the user of a scanner's sessions: backs to scan, sessions stored unasked."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Tell of the sessions of `entry`'s scanner."""
        self.hass = hass
        self.entry = entry

    @callback
    def async_waiting_for_backs(self, session: SessionProgress) -> None:
        """Ask for the stack to be turned over; fire `wsd_scan_waiting_for_backs`."""
        device = dr.async_get(self.hass).async_get_device(
            identifiers={(DOMAIN, self.entry.unique_id or "")}
        )
        self.hass.bus.async_fire(
            EVENT_WAITING_FOR_BACKS,
            {
                "device_id": device.id if device else None,
                "name": self.entry.title,
                "pages": session.pages,
                "expires": session.expires.isoformat(),
            },
        )
        _notify(
            self.hass,
            self.entry,
            "turn the stack over",
            f"The fronts are scanned ({_pages(session.pages)}). Put the stack back "
            "in the feeder turned over, as it came out, and scan again (the Scan "
            "button, the scanner's panel or the scan action) before "
            f"{dt_util.as_local(session.expires):%H:%M}. Otherwise the fronts are stored alone.",
        )

    @callback
    def async_session_expired(self, outcome: ScanOutcome, *, fronts_only: bool) -> None:
        """Say that a session nobody finished is stored."""
        why = (
            "The backs were not scanned in time: the fronts are stored alone"
            if fronts_only
            else "The session was left open: its scans are stored as one document"
        )
        _notify(self.hass, self.entry, "session stored", f"{why}. {_stored(outcome)}")
