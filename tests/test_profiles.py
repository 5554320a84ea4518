"""Panel profiles as subentries: a change reaches the scanner's panel (simulator)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.wsd_scan.const import (
    CONF_CALLBACK_URL,
    CONF_COLOR,
    CONF_DESTINATION,
    CONF_FORMAT,
    CONF_PAPER,
    CONF_RESOLUTION,
    CONF_SOURCE,
    DEFAULT_PROFILE_ID,
)
from custom_components.wsd_scan.profiles import SUBENTRY_PROFILE, profile_subentry
from simulator import SimulatedScanner

from .ha_fixtures import entity_id, panel_subscriptions, scan, scanner_entry, until

pytestmark = pytest.mark.usefixtures("socket_enabled")


def panel(sim: SimulatedScanner) -> list[tuple[str, str]]:
    """Return the entries on the scanner's panel: name and ClientContext."""
    return [
        (destination.display_name, destination.client_context)
        for subscription in panel_subscriptions(sim).values()
        for destination in subscription.destinations
    ]


#: The form of a profile for receipts.
RECEIPTS: Final = {
    CONF_NAME: "Receipts",
    CONF_SOURCE: "feeder",
    CONF_FORMAT: "pdf",
    CONF_RESOLUTION: "200",
    CONF_COLOR: "gray",
    CONF_PAPER: "a4",
    CONF_DESTINATION: "media",
}


def event_types(hass: HomeAssistant, event: str) -> list[str]:
    """Return the event types the Scan button event entity offers."""
    state = hass.states.get(event)
    return [] if state is None else list(state.attributes.get("event_types", []))


async def rename(
    hass: HomeAssistant, entry: ConfigEntry, profile_id: str, name: str
) -> None:
    """Rename the receipts profile through its reconfigure flow."""
    result = await entry.start_subentry_reconfigure_flow(hass, profile_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**RECEIPTS, CONF_NAME: name}
    )
    assert result["reason"] == "reconfigure_successful"


async def test_added_and_deleted_profiles_reach_the_panel(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, callback_url: str
) -> None:
    """Adding a profile reloads the entry and registers it; deleting one removes it."""
    async with SimulatedScanner("office_mfp", discovery=False) as sim:
        entry = scanner_entry(sim, **{CONF_CALLBACK_URL: callback_url})
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert panel(sim) == [("Home Assistant", DEFAULT_PROFILE_ID)]

        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_PROFILE), context={"source": SOURCE_USER}
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            RECEIPTS,
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        (receipts,) = [s for s in entry.subentries if s != DEFAULT_PROFILE_ID]
        await until(lambda: len(panel(sim)) == 2)
        assert panel(sim) == [
            ("Home Assistant", DEFAULT_PROFILE_ID),
            ("Receipts", receipts),
        ]
        # Automations trigger on the name's slug (fixed now), not the subentry id.
        event = entity_id(entity_registry, "event", sim.uuid, "scan_button")
        await until(lambda: len(event_types(hass, event)) == 2)
        assert event_types(hass, event) == [DEFAULT_PROFILE_ID, "receipts"]
        await rename(hass, entry, receipts, "Bills")
        await until(lambda: ("Bills", receipts) in panel(sim))
        assert event_types(hass, event) == [DEFAULT_PROFILE_ID, "receipts"]

        assert hass.config_entries.async_remove_subentry(entry, DEFAULT_PROFILE_ID)
        await until(lambda: panel(sim) == [("Bills", receipts)])
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_action_scans_as_a_profile(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: ConfigEntry
) -> None:
    """`profile:` (its name in any case, or its id) scans as the panel would.

    The profile's settings and file name apply; fields given in the call win.
    """
    photos = profile_subentry(
        "photos-id",
        "Photos",
        {CONF_SOURCE: "platen", CONF_FORMAT: "png", CONF_RESOLUTION: 75},
    )
    hass.config_entries.async_add_subentry(loaded_entry, photos)
    await hass.async_block_till_done()

    for wanted in (" PHOTOS ", "photos-id"):
        (stored,) = (await scan(hass, scanner.uuid, profile=wanted))["files"]
        assert stored["mime_type"] == "image/png"
        assert Path(stored["path"]).name.startswith("scan_photos_")
    (stored,) = (await scan(hass, scanner.uuid, profile="Photos", format="jpeg"))[
        "files"
    ]
    assert stored["mime_type"] == "image/jpeg"

    with pytest.raises(ServiceValidationError) as err:
        await scan(hass, scanner.uuid, profile="Receipts")
    assert err.value.translation_key == "unknown_profile"
    assert err.value.translation_placeholders == {
        "profile": "Receipts",
        "profiles": "Home Assistant, Photos",
    }
