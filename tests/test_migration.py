"""Entries stored by older releases, brought to the current layout at setup."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_NAME
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import (
    CONF_CALLBACK_URL,
    CONF_FORMAT,
    CONF_POLL_INTERVAL,
    CONF_PROFILE_ID,
    CONF_PROFILES,
    CONF_RESOLUTION,
    CONF_XADDRS,
    DEFAULT_PROFILE_ID,
    DOMAIN,
)
from custom_components.wsd_scan.migration import MINOR_VERSION, VERSION
from custom_components.wsd_scan.profiles import SUBENTRY_PROFILE, entry_profiles
from custom_components.wsd_scan.wsd import DocumentFormat
from simulator import SimulatedScanner

from .ha_fixtures import panel_subscriptions, scanner_entry

RECEIPTS = {
    CONF_PROFILE_ID: "5f0c6b0a9d3e4c1b8a7f6e5d4c3b2a19",
    CONF_NAME: "Receipts",
    CONF_FORMAT: "jpeg",
    CONF_RESOLUTION: 150,
    "destination": "both",
}
DEFAULT = {CONF_PROFILE_ID: DEFAULT_PROFILE_ID, CONF_NAME: "Home Assistant"}


@pytest.fixture
def setup_stub() -> Iterator[None]:
    """Set entries up without a scanner: these tests look at the migration only."""
    with patch("custom_components.wsd_scan.async_setup_entry", return_value=True):
        yield


def version_1_entry(**options: Any) -> MockConfigEntry:
    """Return an entry as releases before profile subentries stored it."""
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id="urn:uuid:migrating",
        data={CONF_HOST: "192.0.2.40", CONF_XADDRS: ["http://192.0.2.40/wsd"]},
        options=options,
        version=1,
    )


def subentries(entry: MockConfigEntry) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Return the entry's subentries: type, id, title and data."""
    return [
        (s.subentry_type, s.subentry_id, s.title, dict(s.data))
        for s in entry.subentries.values()
    ]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {CONF_POLL_INTERVAL: 60, CONF_PROFILES: [DEFAULT, RECEIPTS]},
            [
                (SUBENTRY_PROFILE, DEFAULT_PROFILE_ID, "Home Assistant", {}),
                (
                    SUBENTRY_PROFILE,
                    RECEIPTS[CONF_PROFILE_ID],
                    "Receipts",
                    {CONF_FORMAT: "jpeg", CONF_RESOLUTION: 150, "destination": "both"},
                ),
            ],
        ),
        # No stored profiles: the default one, following the entry's defaults.
        (
            {CONF_POLL_INTERVAL: 60},
            [(SUBENTRY_PROFILE, DEFAULT_PROFILE_ID, "Home Assistant", {})],
        ),
        # Every profile removed: none on the panel, as before.
        ({CONF_POLL_INTERVAL: 60, CONF_PROFILES: []}, []),
    ],
)
@pytest.mark.usefixtures("setup_stub")
async def test_stored_profiles_become_subentries(
    hass: HomeAssistant, options: dict[str, Any], expected: list[Any]
) -> None:
    """Each profile keeps its id (the panel's ClientContext), name and settings."""
    entry = version_1_entry(**options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert (entry.version, entry.minor_version) == (VERSION, MINOR_VERSION)
    assert entry.options == {CONF_POLL_INTERVAL: 60}
    assert subentries(entry) == expected


@pytest.mark.usefixtures("setup_stub")
async def test_default_profile_follows_the_defaults(hass: HomeAssistant) -> None:
    """The migrated default profile scans with the entry's default settings."""
    entry = version_1_entry(**{CONF_FORMAT: "png"})
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    (profile,) = entry_profiles(entry)
    assert profile.settings.format is DocumentFormat.PNG
    hass.config_entries.async_update_entry(entry, options={CONF_FORMAT: "tiff"})
    (profile,) = entry_profiles(entry)
    assert profile.settings.format is DocumentFormat.TIFF


@pytest.mark.usefixtures("setup_stub")
async def test_entry_from_a_newer_release_is_left_alone(hass: HomeAssistant) -> None:
    """A downgrade cannot read what a newer release stored: the entry is not set up."""
    entry = version_1_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, version=VERSION + 1)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert entry.subentries == {}


@pytest.mark.usefixtures("socket_enabled")
async def test_panel_entries_survive_the_upgrade(
    hass: HomeAssistant, callback_url: str
) -> None:
    """The scanner's panel shows the same entries, with the same contexts, after it."""
    async with SimulatedScanner("office_mfp", discovery=False) as sim:
        entry = scanner_entry(
            sim, **{CONF_CALLBACK_URL: callback_url, CONF_PROFILES: [DEFAULT, RECEIPTS]}
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.version == VERSION
        (subscription,) = panel_subscriptions(sim).values()
        assert [
            (d.display_name, d.client_context) for d in subscription.destinations
        ] == [
            ("Home Assistant", DEFAULT_PROFILE_ID),
            ("Receipts", RECEIPTS[CONF_PROFILE_ID]),
        ]
        await hass.config_entries.async_unload(entry.entry_id)
