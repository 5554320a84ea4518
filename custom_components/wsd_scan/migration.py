"""Config entry migrations: stored entries brought to the current layout.

Version 2 moves the panel profiles from the options (`CONF_PROFILES`, a list of dicts
with their id and name) into config subentries (profiles.py). Each profile keeps its id
as the subentry id, so the ClientContext the scanner's panel entry carries, and with it
the panel entry, stays the same. An entry without stored profiles had the default
profile, which becomes an explicit subentry following the entry's defaults.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant

from .const import CONF_PROFILE_ID, CONF_PROFILES
from .profiles import default_profile, profile_subentry

#: The layout this code stores (the config flow's VERSION and MINOR_VERSION).
VERSION: Final = 2
MINOR_VERSION: Final = 1


def async_migrate(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Bring `entry` to the current version.

    Home Assistant asks only for entries older than `VERSION`; it refuses newer ones
    (a downgrade) by itself.
    """
    if entry.version == 1:
        _async_profiles_to_subentries(hass, entry)
    return True


def _async_profiles_to_subentries(hass: HomeAssistant, entry: ConfigEntry) -> None:
    options: dict[str, Any] = dict(entry.options)
    stored = options.pop(CONF_PROFILES, None)
    subentries = (
        [default_profile()]
        if stored is None
        else [
            profile_subentry(
                profile[CONF_PROFILE_ID],
                profile[CONF_NAME],
                {
                    key: value
                    for key, value in profile.items()
                    if key not in (CONF_PROFILE_ID, CONF_NAME)
                },
            )
            for profile in stored
        ]
    )
    for subentry in subentries:
        hass.config_entries.async_add_subentry(entry, subentry)
    hass.config_entries.async_update_entry(
        entry, options=options, version=VERSION, minor_version=MINOR_VERSION
    )
