"""The options' blank page default: used by the Scan button and by actions that leave it out."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import (
    CONF_RESOLUTION,
    CONF_SKIP_BLANK,
    CONF_SOURCE,
)
from custom_components.wsd_scan.services import SCAN_SCHEMA
from custom_components.wsd_scan.wsd import DEFAULT_BLANK_SENSITIVITY
from simulator import Settings, SimulatedScanner

from .ha_fixtures import SetUpScanner, entity_id, scan
from .test_scan_entities import press

pytestmark = pytest.mark.usefixtures("socket_enabled")

# Both sides of the feeder by default, small pages.
DUPLEX = {CONF_SOURCE: "feeder_duplex", CONF_RESOLUTION: 75}


@pytest.fixture
async def single_sided(socket_enabled: None) -> AsyncGenerator[SimulatedScanner]:
    """Run an office MFP whose originals are single-sided (blank backs)."""
    async with SimulatedScanner(
        "office_mfp", discovery=False, settings=Settings(blank_backs=True)
    ) as sim:
        yield sim


async def press_scan(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    sim: SimulatedScanner,
    entry: MockConfigEntry,
) -> tuple[int, int]:
    """Press the scanner's Scan button; return its scan's pages and blank pages left out."""
    await press(hass, entity_id(entity_registry, "button", sim.uuid, "scan"))
    pressed = entry.runtime_data.activity.last_scan
    assert pressed is not None
    return (pressed.pages, pressed.blank_pages_skipped)


async def test_scan_button_and_actions_use_the_default(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    single_sided: SimulatedScanner,
    set_up_scanner: SetUpScanner,
) -> None:
    """The button and an action without `skip_blank` leave the backs out; `off` keeps them."""
    entry = await set_up_scanner(single_sided, **DUPLEX, **{CONF_SKIP_BLANK: 50})
    single_sided.load_feeder(2)
    assert await press_scan(hass, entity_registry, single_sided, entry) == (2, 2)
    single_sided.load_feeder(2)
    by_default = await scan(hass, single_sided.uuid)
    assert (by_default["pages"], by_default["blank_pages_skipped"]) == (2, 2)
    single_sided.load_feeder(2)
    kept = await scan(hass, single_sided.uuid, skip_blank="off")
    assert (kept["pages"], kept["blank_pages_skipped"]) == (4, 0)


async def test_without_a_default_every_page_is_kept(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    single_sided: SimulatedScanner,
    set_up_scanner: SetUpScanner,
) -> None:
    """No default: the button keeps every page; an action's own sensitivity applies."""
    entry = await set_up_scanner(single_sided, **DUPLEX)
    single_sided.load_feeder(2)
    assert await press_scan(hass, entity_registry, single_sided, entry) == (4, 0)
    single_sided.load_feeder(2)
    asked = await scan(hass, single_sided.uuid, skip_blank=50)
    assert (asked["pages"], asked["blank_pages_skipped"]) == (2, 2)


@pytest.mark.parametrize(
    ("value", "sensitivity"),
    [(True, DEFAULT_BLANK_SENSITIVITY), ("on", DEFAULT_BLANK_SENSITIVITY), (1, 1)],
)
def test_on_is_the_default_sensitivity(
    value: bool | str | int, sensitivity: int
) -> None:
    """`skip_blank: true` (or `on`) is the default sensitivity, not 1 (YAML's true)."""
    data = SCAN_SCHEMA({"device_id": "scanner", "skip_blank": value})
    assert data["skip_blank"] == sensitivity
