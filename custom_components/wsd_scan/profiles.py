"""Panel profiles: the entries a scanner shows on its panel ("Scan to Home Assistant").

Each profile is a name (the ClientDisplayName on the panel), a stable id (the
ClientContext the scanner echoes when the entry is chosen) and scan settings. They are
stored in the entry's options under `CONF_PROFILES`; an entry without that key has one
profile, "Home Assistant", scanning with the entry's default settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.const import CONF_NAME

from .const import (
    CONF_COLOR,
    CONF_DESTINATION,
    CONF_FORMAT,
    CONF_PAPER,
    CONF_PROFILE_ID,
    CONF_PROFILES,
    CONF_RESOLUTION,
    CONF_SOURCE,
    DEFAULT_COLOR,
    DEFAULT_FORMAT,
    DEFAULT_PAPER,
    DEFAULT_PROFILE_ID,
    DEFAULT_PROFILE_NAME,
    DEFAULT_RESOLUTION,
    DEFAULT_SOURCE,
    Destination,
)
from .wsd import ColorMode, DocumentFormat, PaperSize, ScanSettings, ScanSource

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
    return ScanSettings(
        source=ScanSource(options.get(CONF_SOURCE, DEFAULT_SOURCE)),
        format=DocumentFormat(options.get(CONF_FORMAT, DEFAULT_FORMAT)),
        resolution=int(options.get(CONF_RESOLUTION, DEFAULT_RESOLUTION)),
        color=ColorMode(options.get(CONF_COLOR, DEFAULT_COLOR)),
        paper=PaperSize(options.get(CONF_PAPER, DEFAULT_PAPER)),
    )


@dataclass(frozen=True, slots=True)
class Profile:
    """One panel entry and the scan it runs."""

    profile_id: str
    name: str
    settings: ScanSettings
    destination: Destination = Destination.MEDIA


def stored_profiles(options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the profiles of an entry's options as stored (the default one if none)."""
    if CONF_PROFILES in options:
        return [dict(profile) for profile in options[CONF_PROFILES]]
    return [
        {
            CONF_PROFILE_ID: DEFAULT_PROFILE_ID,
            CONF_NAME: DEFAULT_PROFILE_NAME,
            **{key: options[key] for key in SETTINGS_KEYS if key in options},
        }
    ]


def entry_profiles(options: Mapping[str, Any]) -> tuple[Profile, ...]:
    """Return the profiles of an entry's options."""
    return tuple(
        Profile(
            stored[CONF_PROFILE_ID],
            stored[CONF_NAME],
            scan_settings(stored),
            Destination(stored.get(CONF_DESTINATION, Destination.MEDIA)),
        )
        for stored in stored_profiles(options)
    )
