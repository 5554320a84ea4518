"""The scanner state and job state sensors."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import DOMAIN
from custom_components.wsd_scan.runner import JobProgress, ScanActivity
from custom_components.wsd_scan.wsd import ScanClient, ScanSettings, build_ticket
from custom_components.wsd_scan.wsd.models import (
    JobEndStateEvent,
    JobState,
    JobStatusEvent,
)
from simulator import SimulatedScanner

from .ha_fixtures import entity_id, scan

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_scanner_state_follows_the_scanner(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """The main entity carries the device's name and shows idle → stopped → idle."""
    state_id = entity_id(entity_registry, "sensor", scanner.uuid, "scanner_state")
    state = hass.states.get(state_id)
    assert state.state == "idle"
    assert state.name == "Simulated Office MFP"
    assert state.attributes["options"] == ["idle", "processing", "stopped"]

    scanner.raise_condition("CoverOpen")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()
    assert hass.states.get(state_id).state == "stopped"

    scanner.clear_condition("CoverOpen")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()
    assert hass.states.get(state_id).state == "idle"


async def test_job_state_follows_a_scan(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    tmp_path: Path,
) -> None:
    """Job events of a scan (started by any client) drive the job state sensor."""
    job_id = entity_id(entity_registry, "sensor", scanner.uuid, "job_state")
    state = hass.states.get(job_id)
    assert state.state == STATE_UNKNOWN
    assert state.name == "Simulated Office MFP Job state"
    # Every state is a translation key: "Pending-Held" is `pending_held`, translated.
    translations = await async_get_translations(hass, "en", "entity", [DOMAIN])
    prefix = f"component.{DOMAIN}.entity.sensor.job_state.state"
    assert "pending_held" in state.attributes["options"]
    for option in state.attributes["options"]:
        assert f"{prefix}.{option}" in translations
    seen: list[str] = []

    def remember(event: Event[EventStateChangedData]) -> None:
        if (new_state := event.data["new_state"]) is not None:
            seen.append(new_state.state)

    async_track_state_change_event(hass, job_id, remember)
    capabilities = loaded_entry.runtime_data.elements.capabilities
    assert capabilities is not None
    scanner.load_feeder(2)
    async with aiohttp.ClientSession() as session:
        result = await ScanClient(session, scanner.scan_url).scan(
            build_ticket(capabilities, ScanSettings(source="feeder")), tmp_path
        )
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()

    assert len(result.pages) == 2
    # Repeated states are attribute updates (pages so far).
    assert list(dict.fromkeys(seen)) == ["started", "processing", "completed"]
    state = hass.states.get(job_id)
    assert state.state == "completed"
    assert state.attributes["job_id"] == result.job_id
    assert state.attributes["pages"] == 2
    assert state.attributes["reasons"] == ["job_completed_successfully"]


@pytest.mark.parametrize("end", [JobState.COMPLETED, JobState.ABORTED])
def test_a_late_processing_event_does_not_reopen_an_ended_job(end: JobState) -> None:
    """Notifications travel on connections of their own and can overtake each other."""
    activity = ScanActivity()
    activity.async_job_progress("7", JobState.PROCESSING, 1)
    activity.async_job_event(JobEndStateEvent("7", end, ("JobCompletedSuccessfully",)))
    activity.async_job_event(JobStatusEvent("7", JobState.PROCESSING, (), 2))
    assert activity.job == JobProgress("7", end, ("JobCompletedSuccessfully",), 2)

    # A new job is shown as it goes.
    activity.async_job_event(JobStatusEvent("8", JobState.PROCESSING, (), 0))
    assert activity.job == JobProgress("8", JobState.PROCESSING, (), 0)


async def test_late_job_events_do_not_reopen_a_finished_scan(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """A scanner whose events trail its images: the scan's end stays once it is known."""
    job_id = entity_id(entity_registry, "sensor", scanner.uuid, "job_state")
    scanner.load_feeder(2)
    await scanner.wait_for_notifications()
    delivered = len(scanner.events.notifications)
    scanner.events.hold()
    await scan(hass, scanner.uuid, source="feeder")
    assert hass.states.get(job_id).state == "completed"
    assert len(scanner.events.notifications) == delivered
    seen: list[str] = []

    def remember(event: Event[EventStateChangedData]) -> None:
        if (new_state := event.data["new_state"]) is not None:
            seen.append(new_state.state)

    async_track_state_change_event(hass, job_id, remember)
    # The job's Started and Processing events arrive after the scan was stored.
    scanner.events.release()
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()
    late = [n.action for n in scanner.events.notifications[delivered:]]
    assert any(action.endswith("JobStatusEvent") for action in late)
    assert set(seen) <= {"completed"}
    assert hass.states.get(job_id).state == "completed"
