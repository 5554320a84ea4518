"""Manual duplex: the fronts, the stack turned over, the backs put between them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.const import ATTR_ENTITY_ID, CONF_NAME
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pikepdf
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.wsd_scan.const import (
    CONF_FORMAT,
    CONF_PROFILE_ID,
    CONF_PROFILES,
    CONF_RESOLUTION,
    CONF_ROTATE_BACKS,
    CONF_SOURCE,
    EVENT_WAITING_FOR_BACKS,
)
from simulator import SimulatedScanner
from simulator.jobs import Job

from .ha_fixtures import SetUpScanner, device_id, entity_id, scan
from .test_panel import press
from .test_scan import FOLDER, pdf_page_images, sent_pages
from .test_scan_entities import scan_notification
from .test_sessions import job_state, let_the_session_expire, session_folders

pytestmark = pytest.mark.usefixtures("socket_enabled")


def duplex_order(fronts: Job, backs: Job) -> list[bytes]:
    """Return the pages of a turned-over stack as the document must hold them."""
    return [
        page
        for pair in zip(sent_pages(fronts), reversed(sent_pages(backs)), strict=True)
        for page in pair
    ]


@pytest.fixture
def waiting(hass: HomeAssistant) -> list[Event]:
    """Record the `wsd_scan_waiting_for_backs` events."""
    return async_capture_events(hass, EVENT_WAITING_FOR_BACKS)


async def test_fronts_then_backs_by_a_second_call(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    waiting: list[Event],
) -> None:
    """Three sheets: the fronts wait for the backs (state, event, notification).

    The second call scans the backs through the feeder; the document holds front 1,
    back 1 (the last page of the backs), front 2, ….
    """
    scanner.load_feeder(3)
    fronts = await scan(hass, scanner.uuid, source="feeder_manual_duplex")
    assert fronts["pages"] == 3
    assert fronts["files"] == []
    assert fronts["session"]["waiting_for_backs"] is True
    assert job_state(hass, entity_registry, scanner.uuid).state == "waiting_for_backs"
    (event,) = waiting
    assert event.data == {
        "device_id": device_id(hass, scanner.uuid),
        "name": "Simulated Office MFP",
        "pages": 3,
        "expires": fronts["session"]["expires"],
    }
    shown = scan_notification(hass, loaded_entry)
    assert shown is not None
    assert shown.startswith(
        "The fronts are scanned (3 pages). Put the stack back in the feeder turned over"
    )

    scanner.load_feeder(3)
    document = await scan(hass, scanner.uuid, source="feeder_manual_duplex")
    front_job, back_job = scanner.jobs.values()
    assert front_job.ticket.input_source == back_job.ticket.input_source == "ADF"
    assert document["pages"] == 6
    assert pdf_page_images(Path(document["files"][0]["path"])) == duplex_order(
        front_job, back_job
    )
    assert job_state(hass, entity_registry, scanner.uuid).state == "completed"
    assert loaded_entry.runtime_data.runner.session is None


async def test_any_scan_without_a_session_step_scans_the_backs(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """While the backs are awaited, a plain scan (even of the glass) is the backs."""
    scanner.load_feeder(2)
    await scan(hass, scanner.uuid, source="feeder_manual_duplex")
    scanner.load_feeder(2)
    document = await scan(hass, scanner.uuid, source="platen")
    assert list(scanner.jobs.values())[-1].ticket.input_source == "ADF"
    assert document["pages"] == 4


async def test_the_scan_button_scans_fronts_and_backs(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    set_up_scanner: SetUpScanner,
    waiting: list[Event],
) -> None:
    """Options set to manual duplex: the button's first press the fronts, then the backs."""
    entry = await set_up_scanner(
        scanner, **{CONF_SOURCE: "feeder_manual_duplex", CONF_RESOLUTION: "75"}
    )
    button = entity_id(entity_registry, "button", scanner.uuid, "scan")
    for _ in range(2):
        scanner.load_feeder(2)
        await hass.services.async_call(
            "button", "press", {ATTR_ENTITY_ID: button}, blocking=True
        )
    assert len(waiting) == 1
    front_job, back_job = scanner.jobs.values()
    last_scan = entry.runtime_data.activity.last_scan
    assert last_scan is not None
    assert pdf_page_images(last_scan.files[0].path) == duplex_order(front_job, back_job)
    shown = scan_notification(hass, entry)
    assert shown is not None
    assert shown.startswith("4 pages stored in Media → WSD scans:")


@pytest.fixture
async def duplex_panel_entry(
    scanner: SimulatedScanner, set_up_scanner: SetUpScanner
) -> MockConfigEntry:
    """Set up the scanner with a manual duplex profile that turns the backs."""
    return await set_up_scanner(
        scanner,
        **{
            CONF_PROFILES: [
                {
                    CONF_PROFILE_ID: "duplex",
                    CONF_NAME: "Duplex",
                    CONF_SOURCE: "feeder_manual_duplex",
                    CONF_FORMAT: "pdf",
                    CONF_RESOLUTION: 75,
                    CONF_ROTATE_BACKS: True,
                }
            ],
        },
    )


async def test_panel_presses_scan_fronts_and_turned_backs(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    duplex_panel_entry: MockConfigEntry,
) -> None:
    """Two presses of a duplex profile: the backs' PDF pages are turned by 180°."""
    for _ in range(2):
        scanner.load_feeder(2)
        await press(hass, scanner, "Duplex")
    front_job, back_job = scanner.jobs.values()
    assert back_job.scan_identifier is not None
    last_scan = duplex_panel_entry.runtime_data.activity.last_scan
    assert last_scan is not None
    path = last_scan.files[0].path
    assert pdf_page_images(path) == duplex_order(front_job, back_job)
    with pikepdf.open(path) as pdf:
        assert [page.obj.get("/Rotate") for page in pdf.pages] == [
            None,
            180,
            None,
            180,
        ]
    # The previews show the backs turned too (by their EXIF orientation).
    orientations = []
    for preview in last_scan.previews:
        with Image.open(preview) as image:
            orientations.append(image.getexif().get(0x0112))
    assert orientations == [None, 3, None, 3]


async def test_turned_jpeg_backs_keep_their_bytes(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """JPEG files: the backs get an EXIF orientation, their image data unchanged."""
    for _ in range(2):
        scanner.load_feeder(1)
        response = await scan(
            hass,
            scanner.uuid,
            source="feeder_manual_duplex",
            format="jpeg",
            rotate_backs=True,
        )
    front_job, back_job = scanner.jobs.values()
    front, back = (Path(file["path"]) for file in response["files"])
    assert front.read_bytes() == sent_pages(front_job)[0]
    sent = sent_pages(back_job)[0]
    assert back.read_bytes().endswith(sent[sent.index(b"\xff\xda") :])
    with Image.open(back) as image:
        assert image.getexif()[0x0112] == 3


async def test_page_count_mismatch_keeps_both_passes(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """Three fronts, two backs: a translated error; both passes are in the library."""
    scanner.load_feeder(3)
    await scan(hass, scanner.uuid, source="feeder_manual_duplex", file_name="letter")
    scanner.load_feeder(2)
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="feeder_manual_duplex")
    assert err.value.translation_key == "duplex_page_mismatch"
    placeholders = err.value.translation_placeholders
    assert (placeholders["fronts"], placeholders["backs"]) == ("3", "2")
    front_job, back_job = scanner.jobs.values()
    fronts, backs = (Path(path) for path in placeholders["files"].split(", "))
    assert (fronts.name, backs.name) == ("letter_fronts.pdf", "letter_backs.pdf")
    assert pdf_page_images(fronts) == sent_pages(front_job)
    assert pdf_page_images(backs) == sent_pages(back_job)
    assert str(err.value).startswith(
        "The backs scanned on Simulated Office MFP are not as many as the fronts "
        "(2 backs, 3 fronts)"
    )
    assert loaded_entry.runtime_data.runner.session is None
    assert session_folders(media_dir) == []


async def test_backs_not_scanned_in_time_store_the_fronts(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """The time limit passes: the fronts are stored alone and the user is told."""
    scanner.load_feeder(2)
    await scan(hass, scanner.uuid, source="feeder_manual_duplex", file_name="fronts")
    await let_the_session_expire(hass)
    (document,) = (media_dir / FOLDER).glob("*.pdf")
    assert document.name == "fronts.pdf"
    assert pdf_page_images(document) == sent_pages(*scanner.jobs.values())
    shown = scan_notification(hass, loaded_entry)
    assert shown is not None
    assert shown.startswith(
        "The backs were not scanned in time: the fronts are stored alone. 2 pages"
    )
    assert job_state(hass, entity_registry, scanner.uuid).state == "completed"


async def test_finish_while_waiting_stores_the_fronts(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """`session: finish` gives up on the backs; `start` is refused meanwhile."""
    scanner.load_feeder(2)
    await scan(hass, scanner.uuid, source="feeder_manual_duplex")
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, session="start", source="platen")
    assert err.value.translation_key == "session_open"
    response: dict[str, Any] = await scan(hass, scanner.uuid, session="finish")
    assert response["pages"] == 2
    assert len(scanner.jobs) == 1
