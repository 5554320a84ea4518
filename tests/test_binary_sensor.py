"""The problem and feeder binary sensors."""

from __future__ import annotations

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import CONF_CALLBACK_URL
from custom_components.wsd_scan.coordinator import PushState
from simulator import SimulatedScanner

from .ha_fixtures import entity_id, scanner_entry

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_jam_turns_the_problem_sensor_on_by_push_and_clearing_off(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """A jam raised on the scanner arrives as a notification; clearing it too."""
    problem = entity_id(entity_registry, "binary_sensor", scanner.uuid, "problem")
    cause = entity_id(entity_registry, "sensor", scanner.uuid, "problem_cause")
    assert hass.states.get(problem).state == STATE_OFF
    assert hass.states.get(problem).attributes["conditions"] == []
    assert hass.states.get(cause).state == "none"

    scanner.raise_condition("MediaJam")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()

    state = hass.states.get(problem)
    assert state.state == STATE_ON
    assert state.attributes["conditions"] == ["media_jam"]
    assert state.attributes["device_class"] == "problem"
    assert hass.states.get(cause).state == "media_jam"
    assert hass.states.get(cause).name == "Simulated Office MFP Problem cause"
    assert loaded_entry.runtime_data.coordinator.push_state is PushState.WORKING

    scanner.clear_condition("MediaJam")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()

    state = hass.states.get(problem)
    assert state.state == STATE_OFF
    assert state.attributes["conditions"] == []
    assert hass.states.get(cause).state == "none"


async def test_an_empty_feeder_is_not_a_problem(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """InputTrayEmpty turns the feeder sensor off and is listed, not a problem.

    Until the scanner reports an empty feeder once, the feeder is unknown: the
    simulator, like many scanners, does not report it by itself.
    """
    problem = entity_id(entity_registry, "binary_sensor", scanner.uuid, "problem")
    cause = entity_id(entity_registry, "sensor", scanner.uuid, "problem_cause")
    feeder = entity_id(entity_registry, "binary_sensor", scanner.uuid, "feeder_loaded")
    assert hass.states.get(feeder).state == STATE_UNKNOWN
    assert hass.states.get(feeder).name == "Simulated Office MFP Feeder"

    scanner.raise_condition("InputTrayEmpty")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()

    assert hass.states.get(feeder).state == STATE_OFF
    assert hass.states.get(problem).state == STATE_OFF
    assert hass.states.get(problem).attributes["conditions"] == ["input_tray_empty"]
    assert hass.states.get(cause).state == "none"

    scanner.clear_condition("InputTrayEmpty")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()
    assert hass.states.get(feeder).state == STATE_ON


async def test_no_feeder_sensor_without_a_feeder(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    callback_url: str,
) -> None:
    """A flatbed gets a problem sensor but no feeder sensor."""
    async with SimulatedScanner("photo_flatbed", discovery=False) as flatbed:
        entry = scanner_entry(flatbed, **{CONF_CALLBACK_URL: callback_url})
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()

        keys = {
            registry_entry.unique_id.removeprefix(f"{flatbed.uuid}_")
            for registry_entry in er.async_entries_for_config_entry(
                entity_registry, entry.entry_id
            )
            if registry_entry.domain == "binary_sensor"
        }
        assert keys == {"problem"}
        assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("loaded_entry")
@pytest.mark.parametrize(
    ("conditions", "cause"),
    [
        (["Paused", "MediaJam"], "media_jam"),
        (["CoverOpen", "LampWarming"], "cover_open"),
        (["PaperTooLong"], "other"),
    ],
)
async def test_problem_cause_names_the_most_pressing(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    conditions: list[str],
    cause: str,
) -> None:
    """Several problems show as the most pressing; one without a name as other."""
    for condition in conditions:
        scanner.raise_condition(condition)
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()
    state = hass.states.get(
        entity_id(entity_registry, "sensor", scanner.uuid, "problem_cause")
    )
    assert state.state == cause
    assert cause in state.attributes["options"]
