"""Every entity of a scanner as registered and shown, compared with stored snapshots.

Update the snapshots after an intended change with `scripts/run python -m pytest
tests/test_entity_snapshots.py --snapshot-update` and review the diff.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.wsd_scan.const import CONF_CALLBACK_URL
from simulator import SimulatedScanner

from .ha_fixtures import scanner_entry

pytestmark = pytest.mark.usefixtures("socket_enabled")

#: A fixed endpoint UUID: unique ids and entity ids derive from it.
UUID = "5bfbd4f0-5a55-4f36-9e1c-0123456789ab"


@pytest.fixture
async def fixed_scanner(socket_enabled: None) -> AsyncGenerator[SimulatedScanner]:
    """Run the office MFP with a fixed UUID."""
    async with SimulatedScanner("office_mfp", discovery=False, uuid=UUID) as sim:
        yield sim


async def set_up(
    hass: HomeAssistant, sim: SimulatedScanner, callback_url: str, platform: Platform
) -> MockConfigEntry:
    """Set the scanner's entry up with only `platform`'s entities."""
    entry = scanner_entry(sim, **{CONF_CALLBACK_URL: callback_url})
    entry.add_to_hass(hass)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("custom_components.wsd_scan.PLATFORMS", [platform])
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    return entry


@pytest.mark.parametrize(
    "platform",
    [Platform.BINARY_SENSOR, Platform.BUTTON, Platform.EVENT, Platform.SENSOR],
)
async def test_entities(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    fixed_scanner: SimulatedScanner,
    callback_url: str,
    platform: Platform,
) -> None:
    """The platform's entities, their registry entries and states."""
    entry = await set_up(hass, fixed_scanner, callback_url, platform)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_image_entity(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    fixed_scanner: SimulatedScanner,
    callback_url: str,
) -> None:
    """The last scan image (its access token is new every time: left out)."""
    entry = await set_up(hass, fixed_scanner, callback_url, Platform.IMAGE)
    (image,) = er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    assert image == snapshot(name="entry")
    assert hass.states.get(image.entity_id) == snapshot(
        name="state", exclude=props("access_token", "entity_picture")
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
