"""The Scan button, the last scan sensor and the last scan image."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from http import HTTPStatus
from pathlib import Path

from homeassistant.components import persistent_notification
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.wsd_scan.const import (
    CONF_CALLBACK_URL,
    CONF_FORMAT,
    CONF_NOTIFY_SCANS,
    CONF_RESOLUTION,
    CONF_SOURCE,
    DOMAIN,
)
from custom_components.wsd_scan.storage import SCANS_DIR
from simulator import SimulatedScanner

from .ha_fixtures import entity_id, scan, scanner_entry, until

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def entry(
    hass: HomeAssistant, scanner: SimulatedScanner, callback_url: str
) -> AsyncGenerator[MockConfigEntry]:
    """Set up a scanner whose default scan is a small JPEG from the glass."""
    entry = scanner_entry(
        scanner,
        **{
            CONF_CALLBACK_URL: callback_url,
            CONF_SOURCE: "platen",
            CONF_FORMAT: "jpeg",
            CONF_RESOLUTION: "75",
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


async def press(hass: HomeAssistant, button_id: str) -> None:
    """Press a button."""
    await hass.services.async_call(
        "button", "press", {ATTR_ENTITY_ID: button_id}, blocking=True
    )


@pytest.mark.usefixtures("entry")
async def test_scan_button_uses_the_options(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    hass_client: ClientSessionGenerator,
    scanner: SimulatedScanner,
    media_dir: Path,
) -> None:
    """The button scans with the defaults; last scan sensor and image follow."""
    last_scan_id = entity_id(entity_registry, "sensor", scanner.uuid, "last_scan")
    image_id = entity_id(entity_registry, "image", scanner.uuid, "last_scan_image")
    assert hass.states.get(last_scan_id).state == STATE_UNKNOWN
    assert hass.states.get(image_id).state == STATE_UNKNOWN
    client = await hass_client()
    assert (await client.get(f"/api/image_proxy/{image_id}")).status != HTTPStatus.OK

    before = dt_util.utcnow()
    await press(hass, entity_id(entity_registry, "button", scanner.uuid, "scan"))

    (job,) = scanner.jobs.values()
    assert (job.ticket.input_source, job.ticket.format) == ("Platen", "jfif")
    assert job.ticket.front is not None and job.ticket.front.resolution == (75, 75)
    last_scan = hass.states.get(last_scan_id)
    assert last_scan.name == "Simulated Office MFP Last scan"
    assert dt_util.parse_datetime(last_scan.state) >= before.replace(microsecond=0)
    (path,) = (Path(file) for file in last_scan.attributes["files"])
    assert path.parent == media_dir / "wsd_scan" / "simulated_office_mfp"
    assert path.suffix == ".jpg"
    assert last_scan.attributes["pages"] == 1
    assert last_scan.attributes["complete"] is True
    pages = hass.states.get(
        entity_id(entity_registry, "sensor", scanner.uuid, "last_scan_pages")
    )
    assert (pages.name, pages.state) == ("Simulated Office MFP Last scan pages", "1")
    assert pages.attributes["unit_of_measurement"] == "pages"
    file = hass.states.get(
        entity_id(entity_registry, "sensor", scanner.uuid, "last_scan_file")
    )
    assert (file.name, file.state) == ("Simulated Office MFP Last scan file", path.name)

    image = hass.states.get(image_id)
    assert image.name == "Simulated Office MFP Last scan preview"
    assert dt_util.parse_datetime(image.state).replace(
        microsecond=0
    ) == dt_util.parse_datetime(last_scan.state)
    response = await client.get(f"/api/image_proxy/{image_id}")
    assert response.status == HTTPStatus.OK
    assert response.headers["Content-Type"] == "image/jpeg"
    preview = last_preview(hass, entity_registry, scanner.uuid, ".jpg")
    assert await response.read() == preview.read_bytes()


def last_preview(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, uuid: str, suffix: str
) -> Path:
    """Return the preview of the first page of the last scan."""
    state = hass.states.get(entity_id(entity_registry, "sensor", uuid, "last_scan"))
    file = Path(state.attributes["files"][0])
    return file.parent / SCANS_DIR / file.stem / f"page-001{suffix}"


async def test_image_shows_the_newest_first_page(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    hass_client: ClientSessionGenerator,
    scanner: SimulatedScanner,
    entry: MockConfigEntry,
) -> None:
    """After a bilevel PDF scan, the image is the PNG preview of its first page."""
    image_id = entity_id(entity_registry, "image", scanner.uuid, "last_scan_image")
    await press(hass, entity_id(entity_registry, "button", scanner.uuid, "scan"))
    first = hass.states.get(image_id).state
    scanner.load_feeder(2)
    await scan(hass, scanner.uuid, source="feeder", format="pdf", color="bw")

    assert hass.states.get(image_id).state > first
    client = await hass_client()
    response = await client.get(f"/api/image_proxy/{image_id}")
    assert response.headers["Content-Type"] == "image/png"
    preview = last_preview(hass, entity_registry, scanner.uuid, ".png")
    assert await response.read() == preview.read_bytes()
    with Image.open(preview) as image:
        assert image.mode == "1"


async def test_last_scan_survives_a_reload(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    hass_client: ClientSessionGenerator,
    scanner: SimulatedScanner,
    entry: MockConfigEntry,
) -> None:
    """After a reload (or restart) the newest scan in the library is the last scan."""
    button_id = entity_id(entity_registry, "button", scanner.uuid, "scan")
    last_scan_id = entity_id(entity_registry, "sensor", scanner.uuid, "last_scan")
    image_id = entity_id(entity_registry, "image", scanner.uuid, "last_scan_image")
    await press(hass, button_id)
    await press(hass, button_id)
    newest = hass.states.get(last_scan_id)

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(last_scan_id).state == newest.state
    assert hass.states.get(last_scan_id).attributes == newest.attributes
    client = await hass_client()
    assert (await client.get(f"/api/image_proxy/{image_id}")).status == HTTPStatus.OK


async def test_last_scan_stays_available_while_the_scanner_is_gone(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    hass_client: ClientSessionGenerator,
    scanner: SimulatedScanner,
    entry: MockConfigEntry,
) -> None:
    """What is kept in Home Assistant stays visible; a deleted preview shows nothing."""
    await press(hass, entity_id(entity_registry, "button", scanner.uuid, "scan"))
    # The scanner ends the job (and says so) once the last image is sent, which may be
    # after the scan is stored here: a late notification would make it available again.
    await until(lambda: all(job.terminal for job in scanner.jobs.values()))
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()
    await scanner.set_online(False)
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()

    job_state_id = entity_id(entity_registry, "sensor", scanner.uuid, "job_state")
    image_id = entity_id(entity_registry, "image", scanner.uuid, "last_scan_image")
    assert hass.states.get(job_state_id).state == STATE_UNAVAILABLE
    last_scan_id = entity_id(entity_registry, "sensor", scanner.uuid, "last_scan")
    assert hass.states.get(last_scan_id).state != STATE_UNAVAILABLE
    assert hass.states.get(image_id).state != STATE_UNAVAILABLE

    last_preview(hass, entity_registry, scanner.uuid, ".jpg").unlink()
    client = await hass_client()
    assert (await client.get(f"/api/image_proxy/{image_id}")).status != HTTPStatus.OK


async def test_pressing_while_scanning_waits_its_turn(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    entry: MockConfigEntry,
) -> None:
    """A second press while the first scan runs is queued and scans after it."""
    button_id = entity_id(entity_registry, "button", scanner.uuid, "scan")
    runner = entry.runtime_data.runner
    first = hass.async_create_task(press(hass, button_id))
    await until(lambda: runner.busy)
    second = hass.async_create_task(press(hass, button_id))
    await until(lambda: entry.runtime_data.activity.queued == 1)
    await first
    await second
    assert [job.state for job in scanner.jobs.values()] == ["Completed"] * 2
    assert entry.runtime_data.activity.queued == 0
    assert not runner.busy


def scan_notification(hass: HomeAssistant, entry: MockConfigEntry) -> str | None:
    """Return the message of the scanner's scan notification, if one is shown."""
    notifications = persistent_notification._async_get_or_create_notifications(hass)  # noqa: SLF001
    notification = notifications.get(f"{DOMAIN}_scan_{entry.entry_id}")
    return None if notification is None else notification["message"]


async def test_a_button_scan_shows_a_notification_unless_switched_off(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    entry: MockConfigEntry,
) -> None:
    """The Scan button leaves a trace: a notification with pages and file."""
    button_id = entity_id(entity_registry, "button", scanner.uuid, "scan")
    assert scan_notification(hass, entry) is None
    await press(hass, button_id)
    file = hass.states.get(
        entity_id(entity_registry, "sensor", scanner.uuid, "last_scan_file")
    ).state
    assert scan_notification(hass, entry) == (
        f"1 page stored in Media → WSD scans: {file}."
    )

    # An action's scan is the automation's business.
    persistent_notification.async_dismiss(hass, f"{DOMAIN}_scan_{entry.entry_id}")
    await scan(hass, scanner.uuid, source="platen")
    assert scan_notification(hass, entry) is None

    hass.config_entries.async_update_entry(
        entry, options={**entry.options, CONF_NOTIFY_SCANS: False}
    )
    await hass.async_block_till_done()
    await press(hass, button_id)
    assert scan_notification(hass, entry) is None
