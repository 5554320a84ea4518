"""Panel profiles: the entries a scanner shows on its panel ("Scan to Home Assistant").

Each profile is a config subentry of type `SUBENTRY_PROFILE`: its title is the name on
the panel (the ClientDisplayName), its subentry id the ClientContext the scanner echoes
when the entry is chosen, and its data the scan settings and destination. Settings a
profile does not store come from the entry's options, so the default profile, "Home
Assistant", stores none and scans with the entry's default settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.util import slugify

from .const import (
    CONF_COLOR,
    CONF_DESTINATION,
    CONF_EVENT_TYPE,
    CONF_FORMAT,
    CONF_PAPER,
    CONF_PAPERLESS,
    CONF_RESOLUTION,
    CONF_ROTATE_BACKS,
    CONF_SESSION,
    CONF_SKIP_BLANK,
    CONF_SOURCE,
    DEFAULT_COLOR,
    DEFAULT_FORMAT,
    DEFAULT_PAPER,
    DEFAULT_PROFILE_ID,
    DEFAULT_PROFILE_NAME,
    DEFAULT_RESOLUTION,
    DEFAULT_SOURCE,
    SOURCE_FEEDER_MANUAL_DUPLEX,
    Destination,
    SessionStep,
)
from .paperless import PaperlessFields
from .runner import ScanRequest
from .wsd import ColorMode, DocumentFormat, PaperSize, ScanSettings, ScanSource

#: The subentry type of a panel profile.
SUBENTRY_PROFILE: Final = "profile"
#: Longest ClientDisplayName a scanner must accept (WS-Scan ScanDestination schema).
MAX_PROFILE_NAME: Final = 127
SETTINGS_KEYS: Final = (
    CONF_SOURCE,
    CONF_FORMAT,
    CONF_RESOLUTION,
    CONF_COLOR,
    CONF_PAPER,
)


def scan_settings(options: Mapping[str, Any]) -> ScanSettings:
    """Return the scan settings stored under the `CONF_*` keys of `options`."""
    source = options.get(CONF_SOURCE, DEFAULT_SOURCE)
    return ScanSettings(
        # Both passes of a manual duplex scan go through the feeder.
        source=ScanSource.FEEDER if manual_duplex(options) else ScanSource(source),
        format=DocumentFormat(options.get(CONF_FORMAT, DEFAULT_FORMAT)),
        resolution=int(options.get(CONF_RESOLUTION, DEFAULT_RESOLUTION)),
        color=ColorMode(options.get(CONF_COLOR, DEFAULT_COLOR)),
        paper=PaperSize(options.get(CONF_PAPER, DEFAULT_PAPER)),
    )


def manual_duplex(options: Mapping[str, Any]) -> bool:
    """Whether the settings in `options` ask for a manual duplex scan."""
    return options.get(CONF_SOURCE) == SOURCE_FEEDER_MANUAL_DUPLEX


def rotate_backs(options: Mapping[str, Any]) -> bool:
    """Whether the backs of manual duplex scans are turned (the options', a profile's)."""
    return bool(options.get(CONF_ROTATE_BACKS, False))


@dataclass(frozen=True, slots=True)
class Profile:
    """One panel entry and the scan it runs."""

    profile_id: str
    name: str
    settings: ScanSettings
    destination: Destination = Destination.MEDIA
    #: Blank pages are left out at this sensitivity; None: kept.
    skip_blank: int | None = None
    #: What its documents are given in Paperless-ngx.
    paperless: PaperlessFields = PaperlessFields()
    #: Its step in a multi-pass session; None: a scan of its own.
    session: SessionStep | None = None
    manual_duplex: bool = False
    rotate_backs: bool = False
    #: Its event type on the Scan button event entity (kept when it is renamed).
    event_type: str = ""

    @property
    def request(self) -> ScanRequest:
        """Return the scan the profile runs (a panel press, `profile:` in the action).

        Its documents are named after it, as a slug so that any name makes a file name:
        `scan_receipts_2026-01-31_08-15-00`.
        """
        return ScanRequest(
            settings=self.settings,
            file_name=f"scan_{slugify(self.name)}_{{date}}_{{time}}",
            destination=self.destination,
            skip_blank=self.skip_blank,
            paperless_fields=self.paperless,
            session=self.session,
            manual_duplex=self.manual_duplex,
            rotate_backs=self.rotate_backs,
        )


def options_request(options: Mapping[str, Any]) -> ScanRequest:
    """Return the scan an entry's options describe (the Scan button's, an action's)."""
    return ScanRequest(
        settings=scan_settings(options),
        skip_blank=options.get(CONF_SKIP_BLANK),
        manual_duplex=manual_duplex(options),
        rotate_backs=rotate_backs(options),
    )


def default_profile() -> ConfigSubentry:
    """Return the profile a new entry starts with: "Home Assistant", the defaults.

    Its id is the one entries had before profiles were subentries, so a scanner's panel
    keeps the same entry.
    """
    return profile_subentry(DEFAULT_PROFILE_ID, DEFAULT_PROFILE_NAME, {})


def profile_subentry(
    profile_id: str, name: str, data: Mapping[str, Any]
) -> ConfigSubentry:
    """Return the subentry of a profile with a given id (its ClientContext)."""
    return ConfigSubentry(
        subentry_id=profile_id,
        subentry_type=SUBENTRY_PROFILE,
        title=name,
        data=MappingProxyType(dict(data)),
        unique_id=None,
    )


def profile_settings(entry: ConfigEntry, data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a profile's settings: its own, else the entry's defaults."""
    return {
        key: data.get(key, entry.options.get(key))
        for key in SETTINGS_KEYS
        if key in data or key in entry.options
    }


def entry_profiles(entry: ConfigEntry) -> tuple[Profile, ...]:
    """Return the profiles of an entry (its profile subentries)."""
    return tuple(
        Profile(
            subentry.subentry_id,
            subentry.title,
            scan_settings(settings := profile_settings(entry, subentry.data)),
            Destination(subentry.data.get(CONF_DESTINATION, Destination.MEDIA)),
            subentry.data.get(CONF_SKIP_BLANK),
            paperless=PaperlessFields.from_config(
                subentry.data.get(CONF_PAPERLESS, {}), subentry.title
            ),
            session=SessionStep(subentry.data[CONF_SESSION])
            if CONF_SESSION in subentry.data
            else None,
            manual_duplex=manual_duplex(settings),
            rotate_backs=rotate_backs(subentry.data),
            event_type=subentry.data.get(CONF_EVENT_TYPE, subentry.subentry_id),
        )
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_PROFILE
    )


def new_event_type(name: str, taken: set[str]) -> str:
    """Return the event type of a profile added as `name`: its slug, not in `taken`.

    Automations trigger on it, so it stays when the profile is renamed.
    """
    base = slugify(name) or "profile"
    event_type, number = base, 1
    while event_type in taken:
        number += 1
        event_type = f"{base}_{number}"
    return event_type
