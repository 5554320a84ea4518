"""Multi-pass sessions: passes of any source become one document, never lost."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any, cast
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan import paperless
from custom_components.wsd_scan.paperless import PaperlessTarget
from custom_components.wsd_scan.sessions import (
    SESSION_MANIFEST,
    SESSION_TIMEOUT,
    SESSIONS_DIR,
    ScanSession,
    load_sessions,
)
from simulator import SimulatedScanner

from .ha_fixtures import SetUpScanner, advance, entity_id, scan, until
from .paperless_fake import serve_paperless
from .test_paperless import paperless_options
from .test_scan import FOLDER, at_page, held_storing, pdf_page_images, sent_pages
from .test_scan_entities import scan_notification

pytestmark = pytest.mark.usefixtures("socket_enabled")


def session_folders(media_dir: Path) -> list[Path]:
    """Return the session folders in the scanner's library folder."""
    return sorted((media_dir / FOLDER / SESSIONS_DIR).glob("*"))


def job_state(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, uuid: str
) -> Any:
    """Return the job sensor's state."""
    return hass.states.get(entity_id(entity_registry, "sensor", uuid, "job_state"))


async def let_the_session_expire(hass: HomeAssistant) -> None:
    """Let the session's time limit pass, and what that sets off end."""
    advance(hass, SESSION_TIMEOUT)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_passes_of_any_source_become_one_document(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """Feeder, then glass, then finish: one PDF of every page in order, bytes unchanged.

    Nothing is stored before the finish; the job sensor shows the session.
    """
    scanner.load_feeder(2)
    started = await scan(
        hass, scanner.uuid, session="start", source="feeder", file_name="contract"
    )
    assert started["pages"] == 2
    assert started["files"] == []
    assert started["session"]["passes"] == 1
    assert started["session"]["pages"] == 2
    assert started["session"]["waiting_for_backs"] is False
    expires = dt_util.parse_datetime(started["session"]["expires"])
    assert expires is not None
    assert expires - dt_util.utcnow() <= SESSION_TIMEOUT
    (folder,) = session_folders(media_dir)
    assert (folder / SESSION_MANIFEST).is_file()
    assert not list((media_dir / FOLDER).glob("*.pdf"))

    added = await scan(hass, scanner.uuid, session="add", source="platen")
    assert (added["pages"], added["session"]["pages"]) == (1, 3)
    state = job_state(hass, entity_registry, scanner.uuid)
    assert state.attributes["session_passes"] == 2
    assert state.attributes["session_pages"] == 3
    assert state.attributes["session_expires"] == added["session"]["expires"]
    assert state.state == "completed"

    # Finishing needs no settings and scans nothing.
    finished = await scan(hass, scanner.uuid, session="finish")
    feeder_job, glass_job = scanner.jobs.values()
    assert len(scanner.jobs) == 2
    assert finished["pages"] == 3
    (file,) = finished["files"]
    assert Path(file["path"]).name == "contract.pdf"
    assert pdf_page_images(Path(file["path"])) == [
        *sent_pages(feeder_job),
        *sent_pages(glass_job),
    ]
    assert "session" not in finished
    assert session_folders(media_dir) == []
    state = job_state(hass, entity_registry, scanner.uuid)
    assert "session_pages" not in state.attributes
    last_scan = loaded_entry.runtime_data.activity.last_scan
    assert last_scan is not None
    assert (last_scan.pages, last_scan.complete) == (3, True)


async def test_add_opens_a_session_and_start_refuses_a_second(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """`add` without a session starts one; `start` while one is open scans nothing."""
    added = await scan(hass, scanner.uuid, session="add", source="platen")
    assert added["session"]["passes"] == 1
    with pytest.raises(ServiceValidationError) as err:
        await scan(hass, scanner.uuid, session="start", source="platen")
    assert err.value.translation_key == "session_open"
    assert str(err.value).startswith("Simulated Office MFP already has an open scan")
    assert len(scanner.jobs) == 1
    assert (await scan(hass, scanner.uuid, session="finish"))["pages"] == 1


async def test_finish_without_a_session(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """Nothing to finish is a translated validation error."""
    with pytest.raises(ServiceValidationError) as err:
        await scan(hass, scanner.uuid, session="finish")
    assert err.value.translation_key == "no_session"
    assert scanner.jobs == {}


async def test_a_scan_of_its_own_leaves_the_session_alone(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A scan without a session step while a session is open is a document of its own."""
    await scan(hass, scanner.uuid, session="start", source="platen")
    alone = await scan(hass, scanner.uuid, source="platen", format="jpeg")
    assert len(alone["files"]) == 1
    assert loaded_entry.runtime_data.runner.session is not None
    assert (await scan(hass, scanner.uuid, session="finish"))["pages"] == 1


async def test_a_failed_pass_keeps_its_pages_in_the_session(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """A jam in the second pass: its page before the jam joins the session."""
    scanner.load_feeder(2)
    await scan(hass, scanner.uuid, session="start", source="feeder")
    scanner.load_feeder(3)
    at_page(
        hass,
        entity_registry,
        scanner.uuid,
        1,
        lambda: scanner.raise_condition("MediaJam"),
    )
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, session="add", source="feeder")
    assert err.value.translation_key == "scan_jam_pages_saved"
    (folder,) = session_folders(media_dir)
    assert err.value.translation_placeholders["files"] == str(folder)
    kept = int(err.value.translation_placeholders["pages"])
    assert kept >= 1
    assert loaded_entry.runtime_data.runner.session.pages == 2 + kept

    scanner.clear_condition("MediaJam")
    finished = await scan(hass, scanner.uuid, session="finish")
    first, jammed = scanner.jobs.values()
    assert pdf_page_images(Path(finished["files"][0]["path"])) == [
        *sent_pages(first),
        *sent_pages(jammed)[:kept],
    ]
    assert loaded_entry.runtime_data.activity.last_scan.complete is False


async def test_a_first_pass_without_pages_opens_no_session(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """An empty feeder on `start`: the scanner's error, no session, no folder left."""
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, session="start", source="feeder")
    assert err.value.translation_key == "scan_feeder_empty"
    assert loaded_entry.runtime_data.runner.session is None
    assert session_folders(media_dir) == []


async def test_a_session_left_open_is_stored(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """After the time limit the passes are stored as one document; the user is told."""
    await scan(hass, scanner.uuid, session="start", source="platen", file_name="left")
    await scan(hass, scanner.uuid, session="add", source="platen")
    await let_the_session_expire(hass)

    runner = loaded_entry.runtime_data.runner
    assert runner.session is None
    assert not runner.busy
    (document,) = (media_dir / FOLDER).glob("*.pdf")
    assert document.name == "left.pdf"
    assert pdf_page_images(document) == [
        page for job in scanner.jobs.values() for page in sent_pages(job)
    ]
    shown = scan_notification(hass, loaded_entry)
    assert shown is not None
    assert shown.startswith(
        "The session was left open: its scans are stored as one document. 2 pages"
    )
    assert session_folders(media_dir) == []
    state = job_state(hass, entity_registry, scanner.uuid)
    assert "session_passes" not in state.attributes


async def test_a_session_survives_a_reload(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """Reloaded (options changed, a restart) in time: the session is still open.

    The pages a pass cut off by a crash had received join it; a page still being
    written does not.
    """
    await scan(hass, scanner.uuid, session="start", source="platen")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    (folder,) = session_folders(media_dir)
    (received,) = (folder / "pass-1").glob("page-*")
    (folder / "pass-2").mkdir()
    (folder / "pass-2" / "page-001.jpg").write_bytes(received.read_bytes())
    (folder / "pass-2" / "page-002.part").write_bytes(received.read_bytes()[:100])
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    session = loaded_entry.runtime_data.runner.session
    assert session is not None
    assert (session.passes, session.pages) == (2, 2)
    added = await scan(hass, scanner.uuid, session="add", source="platen")
    assert added["session"]["passes"] == 3
    finished = await scan(hass, scanner.uuid, session="finish")
    assert finished["pages"] == 3
    first, last = scanner.jobs.values()
    assert pdf_page_images(Path(finished["files"][0]["path"])) == [
        *sent_pages(first),
        *sent_pages(first),
        *sent_pages(last),
    ]
    assert loaded_entry.runtime_data.activity.last_scan.complete is False
    assert session_folders(media_dir) == []


async def test_a_session_whose_time_passed_while_away_is_stored_at_setup(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """Home Assistant was down longer than the time limit: stored when set up again.

    A folder whose manifest cannot be read is left alone (its pages stay on disk).
    """
    await scan(hass, scanner.uuid, session="start", source="platen", file_name="late")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    (folder,) = session_folders(media_dir)
    manifest = folder / SESSION_MANIFEST
    data = json.loads(manifest.read_text())
    data["expires"] = dt_util.utcnow().replace(year=2020).isoformat()
    manifest.write_text(json.dumps(data))
    broken = folder.parent / "broken"
    broken.mkdir()
    (broken / SESSION_MANIFEST).write_text("{not json")

    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    runner = loaded_entry.runtime_data.runner
    await until(lambda: runner.session is None and not runner.busy)
    assert [path.name for path in (media_dir / FOLDER).glob("*.pdf")] == ["late.pdf"]
    assert session_folders(media_dir) == [broken]


async def test_older_sessions_left_behind_are_stored(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """Two sessions on disk (a crash between them): the older one is stored at setup."""
    await scan(hass, scanner.uuid, session="start", source="platen", file_name="old")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    (old,) = session_folders(media_dir)
    # A copy made later: the newer session, which stays open.
    newer = old.parent / "newer"
    newer.mkdir()
    for path in old.rglob("*"):
        target = newer / path.relative_to(old)
        if path.is_dir():
            target.mkdir(exist_ok=True)
        else:
            target.write_bytes(path.read_bytes())
    data = json.loads((newer / SESSION_MANIFEST).read_text())
    data["created"] = dt_util.utcnow().isoformat()
    data["name"] = "newer"
    (newer / SESSION_MANIFEST).write_text(json.dumps(data))

    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [path.name for path in (media_dir / FOLDER).glob("*.pdf")] == ["old.pdf"]
    assert session_folders(media_dir) == [newer]
    finished = await scan(hass, scanner.uuid, session="finish")
    assert Path(finished["files"][0]["path"]).name == "newer.pdf"


async def test_a_session_that_cannot_be_stored_stays_open(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """A scanner folder that cannot take the document: the error; the pages stay."""
    await scan(hass, scanner.uuid, session="start", source="platen", file_name="kept")
    (media_dir / FOLDER / ".scans").write_text("a file where the folder should be")
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, session="finish")
    assert err.value.translation_key == "storage_failed"
    assert loaded_entry.runtime_data.runner.session is not None
    assert len(session_folders(media_dir)) == 1

    (media_dir / FOLDER / ".scans").unlink()
    finished = await scan(hass, scanner.uuid, session="finish")
    assert Path(finished["files"][0]["path"]).name == "kept.pdf"


async def test_a_session_of_blank_pages_stores_nothing(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """Blank pages left out at the start's sensitivity: all blank, the session ends."""
    await scan(hass, scanner.uuid, session="start", source="platen", skip_blank=50)
    # The page the scanner sent, as if the glass had been empty.
    (page,) = session_folders(media_dir)[0].glob("pass-1/*")
    Image.new("L", (600, 800), 250).save(page, "JPEG")
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, session="finish")
    assert err.value.translation_key == "scan_all_blank"
    assert loaded_entry.runtime_data.runner.session is None
    assert session_folders(media_dir) == []


async def test_a_finish_asked_first_wins_over_the_time_limit(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Time runs out while a finish waits its turn: stored once, by the finish."""
    runner = loaded_entry.runtime_data.runner
    await scan(hass, scanner.uuid, session="start", source="platen", file_name="once")
    async with held_storing(hass, runner, scanner.uuid, source="platen") as hold:
        finish = hass.async_create_task(scan(hass, scanner.uuid, session="finish"))
        await until(lambda: loaded_entry.runtime_data.activity.queued == 1)
        advance(hass, SESSION_TIMEOUT)
        await until(lambda: loaded_entry.runtime_data.activity.queued == 2)
        hold.release.set()
        await hold.scan
        finished = await finish
        await hass.async_block_till_done(wait_background_tasks=True)
    assert Path(finished["files"][0]["path"]).name == "once.pdf"
    assert len(list((media_dir / FOLDER).glob("once*.pdf"))) == 1
    assert "left open" not in caplog.text
    assert not runner.busy


async def test_a_session_left_open_that_cannot_be_stored_waits(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Time is up but the disk refuses: logged, the session stays for another try."""
    await scan(hass, scanner.uuid, session="start", source="platen")
    (media_dir / FOLDER / ".scans").write_text("a file where the folder should be")
    await let_the_session_expire(hass)
    assert "The scan session left open on Simulated Office MFP could not" in caplog.text
    session = loaded_entry.runtime_data.runner.session
    assert session is not None
    assert session.expires > dt_util.utcnow()
    assert len(session_folders(media_dir)) == 1


async def test_a_destination_dropped_since_the_start_keeps_the_scan(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """Paperless-ngx removed from the options while a session was open: kept in media."""
    runner = loaded_entry.runtime_data.runner
    runner.paperless = cast("PaperlessTarget", object())  # configured at the start
    await scan(
        hass, scanner.uuid, session="start", source="platen", destination="paperless"
    )
    runner.paperless = None
    finished = await scan(hass, scanner.uuid, session="finish")
    assert len(finished["files"]) == 1
    assert Path(finished["files"][0]["path"]).is_file()


@pytest.mark.parametrize(
    "file",
    ["../../escape.jpg", "pass-1/../../escape.jpg", "elsewhere/page-001.jpg", 7],
)
def test_a_manifest_naming_files_outside_its_passes_is_left_alone(
    tmp_path: Path, file: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A session manifest that was edited to name other files is not read."""
    folder = tmp_path / SESSIONS_DIR / "edited"
    folder.mkdir(parents=True)
    manifest = {
        "name": "edited",
        "scanner": "uuid",
        "created": "2026-01-01T00:00:00+00:00",
        "expires": "2026-01-01T00:10:00+00:00",
        "format": "pdf",
        "resolution": 300,
        "color": "color",
        "destination": "media",
        "skip_blank": None,
        "paperless": {
            "title": "",
            "tags": [],
            "correspondent": None,
            "document_type": None,
            "profile": "",
        },
        "manual_duplex": False,
        "rotate_backs": False,
        "passes": [
            {
                "pages": [{"file": file, "format": "jpeg", "size": 1}],
                "complete": True,
                "duration": 1.0,
            }
        ],
    }
    (folder / SESSION_MANIFEST).write_text(json.dumps(manifest))
    assert load_sessions(tmp_path, "uuid") == []
    assert "Cannot read the scan session" in caplog.text
    manifest["passes"] = []
    (folder / SESSION_MANIFEST).write_text(json.dumps(manifest))
    assert [session.name for session in load_sessions(tmp_path, "uuid")] == ["edited"]
    assert load_sessions(tmp_path, "another scanner") == []


async def test_a_session_goes_to_paperless_with_its_start_fields(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    set_up_scanner: SetUpScanner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The start's destination and Paperless-ngx fields hold, through a reload too."""
    monkeypatch.setattr(paperless, "TASK_POLL_INTERVAL", 0)
    async with serve_paperless() as server:
        entry = await set_up_scanner(scanner, **paperless_options(server.url, [5]))
        await scan(
            hass,
            scanner.uuid,
            session="start",
            source="platen",
            destination="paperless",
            paperless_title="Contract",
            paperless_tags=["9"],
        )
        assert await hass.config_entries.async_reload(entry.entry_id)
        await scan(hass, scanner.uuid, session="add", source="platen")
        finished = await scan(hass, scanner.uuid, session="finish")
    assert finished["files"] == []
    assert finished["pages"] == 2
    (upload,) = server.uploads
    assert upload.title == "Contract"
    assert sorted(upload.tags) == ["5", "9"]


async def test_a_pass_whose_session_cannot_be_written_is_kept(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """The disk fills as the session is written: the error; the pages stay open."""
    with (
        patch.object(
            ScanSession, "save", side_effect=OSError(errno.ENOSPC, "No space left")
        ),
        pytest.raises(HomeAssistantError) as err,
    ):
        await scan(hass, scanner.uuid, session="start", source="platen")
    assert err.value.translation_key == "disk_full"
    assert loaded_entry.runtime_data.runner.session is not None
    finished = await scan(hass, scanner.uuid, session="finish")
    assert pdf_page_images(Path(finished["files"][0]["path"])) == sent_pages(
        *scanner.jobs.values()
    )
    assert session_folders(media_dir) == []
