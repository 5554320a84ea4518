"""The scan and cancel actions end to end: simulator → files in the media library."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
import errno
import os
from pathlib import Path
from typing import Any
from unittest.mock import patch

from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
import pikepdf
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import DOMAIN
from custom_components.wsd_scan.diagnostics import async_get_config_entry_diagnostics
from custom_components.wsd_scan.runner import MAX_QUEUED, ScanRunner
from custom_components.wsd_scan.storage import StoredScan
from simulator import PROFILES, Quirk, SimulatedScanner
from simulator.jobs import Job
from simulator.pages import encode

from .ha_fixtures import device_id, entity_id, scan, scanner_entry, until

pytestmark = pytest.mark.usefixtures("socket_enabled")

FOLDER = "wsd_scan/simulated_office_mfp"


def sent_pages(job: Job) -> list[bytes]:
    """Return the images the simulator sent for a job, in order."""
    assert job.ticket.format is not None
    return [
        encode([page], job.ticket.format, job.ticket.quality or 85)
        for page in job.planned[: job.delivered]
    ]


def only_job(sim: SimulatedScanner) -> Job:
    """Return the one job the simulator ran."""
    (job,) = sim.jobs.values()
    return job


def pdf_page_images(path: Path) -> list[bytes]:
    """Return the raw (still encoded) image of each page of a PDF."""
    with pikepdf.open(path) as pdf:
        raws = []
        for page in pdf.pages:
            (image,) = page.get_images().values()
            assert image.Filter == "/DCTDecode"
            raws.append(image.read_raw_bytes())
        return raws


def page_counter(hass: HomeAssistant, job_state_id: str) -> list[Any]:
    """Record the job state sensor's `pages` attribute each time it changes."""
    seen: list[Any] = []

    @callback
    def remember(event: Event[EventStateChangedData]) -> None:
        if (state := event.data["new_state"]) is not None:
            pages = state.attributes.get("pages")
            if not seen or seen[-1] != pages:
                seen.append(pages)

    async_track_state_change_event(hass, job_state_id, remember)
    return seen


def at_page(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    uuid: str,
    page: int,
    action: Callable[[], object],
) -> None:
    """Run `action` once, when the job state sensor first counts `page` pages."""
    done = False

    @callback
    def check(event: Event[EventStateChangedData]) -> None:
        nonlocal done
        state = event.data["new_state"]
        pages = state.attributes.get("pages") if state is not None else None
        if not done and pages is not None and pages >= page:
            done = True
            action()

    async_track_state_change_event(
        hass, entity_id(entity_registry, "sensor", uuid, "job_state"), check
    )


async def test_platen_jpeg(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """A platen scan as JPEG: one file holding the scanner's bytes unchanged."""
    response = await scan(hass, scanner.uuid, source="platen", format="jpeg")

    job = only_job(scanner)
    assert (job.ticket.input_source, job.ticket.format) == ("Platen", "jfif")
    assert job.ticket.front is not None
    assert job.ticket.front.resolution == (75, 75)
    (file,) = response["files"]
    path = Path(file["path"])
    assert path.parent == media_dir / FOLDER
    assert path.suffix == ".jpg"
    assert path.read_bytes() == sent_pages(job)[0]
    assert response == {
        "pages": 1,
        "blank_pages_skipped": 0,
        "files": [
            {
                "path": str(path),
                "media_content_id": (
                    f"media-source://wsd_scan/simulated_office_mfp/{path.stem}"
                    f"/file/{path.name}"
                ),
                "size": path.stat().st_size,
                "mime_type": "image/jpeg",
            }
        ],
        "duration": response["duration"],
    }
    assert 0 < response["duration"] < 60
    # Nothing is left of the job's work folder.
    assert not any((media_dir / FOLDER / ".incoming").iterdir())


async def test_feeder_duplex_pdf(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """Two sheets, both sides: a 4-page PDF, in order, the JPEG bytes unchanged.

    The job state sensor counts the pages as they arrive.
    """
    pages = page_counter(
        hass, entity_id(entity_registry, "sensor", scanner.uuid, "job_state")
    )
    scanner.load_feeder(2)
    response = await scan(
        hass, scanner.uuid, source="feeder_duplex", file_name="letter_{device}"
    )

    job = only_job(scanner)
    assert job.ticket.input_source == "ADFDuplex"
    assert [(page.number, page.side) for page in job.planned] == [
        (1, "front"),
        (1, "back"),
        (2, "front"),
        (2, "back"),
    ]
    (file,) = response["files"]
    assert response["pages"] == 4
    assert file["mime_type"] == "application/pdf"
    assert Path(file["path"]).name == "letter_simulated_office_mfp.pdf"
    assert pdf_page_images(Path(file["path"])) == sent_pages(job)
    assert [p for p in pages if p is not None][-4:] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("document_format", "suffix", "image_format"),
    [("png", ".png", "PNG"), ("tiff", ".tiff", "TIFF")],
)
@pytest.mark.usefixtures("loaded_entry")
async def test_one_file_per_page(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    document_format: str,
    suffix: str,
    image_format: str,
) -> None:
    """PNG and TIFF give one numbered file per page."""
    scanner.load_feeder(2)
    response = await scan(
        hass, scanner.uuid, source="feeder", format=document_format, color="gray"
    )
    names = [Path(file["path"]).name for file in response["files"]]
    assert len(names) == 2
    assert [name.rsplit("-", 1)[1] for name in names] == [
        f"001{suffix}",
        f"002{suffix}",
    ]
    for file in response["files"]:
        with Image.open(file["path"]) as image:
            assert image.format == image_format
            assert image.mode == "L"


async def test_defaults_and_settings_reach_the_ticket(
    hass: HomeAssistant, scanner: SimulatedScanner, callback_url: str
) -> None:
    """Options give the defaults; the action's custom size and quality win."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=scanner.uuid,
        title="Simulated Office MFP",
        data={"host": "127.0.0.1", "xaddrs": [scanner.device_url]},
        options={
            "callback_url": callback_url,
            "source": "platen",
            "format": "jpeg",
            "resolution": "100",
            "color": "bw",
            "paper": "a5",
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await scan(hass, scanner.uuid, resolution=150, width=100, height=50, quality=60)
    await scan(hass, scanner.uuid, resolution=150, paper="letter", content_type="text")
    sized, lettered = (job.ticket for job in scanner.jobs.values())
    assert sized.front is not None and sized.front.region is not None
    assert (sized.format, sized.input_source) == ("jfif", "Platen")
    assert sized.front.color == "BlackAndWhite1"
    assert sized.front.resolution == (150, 150)
    assert (sized.front.region.width, sized.front.region.height) == (3937, 1969)
    assert sized.quality == 60
    # Letter, clamped to the A4 glass's width.
    assert lettered.input_size == (8268, 11000)
    assert lettered.content_type == "Text"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_same_name_is_never_overwritten(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """A taken name (by a scan or any other file) gets -2, -3; nothing is replaced."""
    folder = media_dir / FOLDER
    folder.mkdir(parents=True)
    (folder / "report-2.jpg").write_bytes(b"someone else's file")
    names = [
        Path(
            (
                await scan(
                    hass,
                    scanner.uuid,
                    source="platen",
                    format="jpeg",
                    file_name="report",
                )
            )["files"][0]["path"]
        ).name
        for _ in range(2)
    ]
    assert names == ["report.jpg", "report-3.jpg"]
    assert (folder / "report-2.jpg").read_bytes() == b"someone else's file"


async def test_cancel_mid_job_keeps_the_pages(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """Cancel after the first page: CancelJob, the pages so far saved and reported."""
    scanner.load_feeder(8)
    target = {"device_id": device_id(hass, scanner.uuid)}
    cancelled: list[asyncio.Task[Any]] = []
    at_page(
        hass,
        entity_registry,
        scanner.uuid,
        1,
        lambda: cancelled.append(
            hass.async_create_task(
                hass.services.async_call(DOMAIN, "cancel", target, blocking=True)
            )
        ),
    )
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="feeder")
    await cancelled[0]

    job = only_job(scanner)
    assert job.state == "Canceled"
    assert err.value.translation_key == "scan_cancelled_pages_saved"
    placeholders = err.value.translation_placeholders
    kept = int(placeholders["pages"])
    assert 1 <= kept < 8
    assert pdf_page_images(Path(placeholders["files"])) == sent_pages(job)[:kept]
    assert f"Pages saved before the error: {kept}" in str(err.value)


async def test_jam_mid_job_keeps_the_pages(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """A jam after page 2: a translated jam error; pages 1 and 2 are in the PDF."""
    scanner.load_feeder(5)
    at_page(
        hass,
        entity_registry,
        scanner.uuid,
        2,
        lambda: scanner.raise_condition("MediaJam"),
    )
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="feeder")

    assert err.value.translation_key == "scan_jam_pages_saved"
    placeholders = err.value.translation_placeholders
    assert placeholders["pages"] == "2"
    job = only_job(scanner)
    assert pdf_page_images(Path(placeholders["files"])) == sent_pages(job)[:2]
    assert str(err.value).startswith("Paper is jammed in Simulated Office MFP")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()
    job_state = entity_id(entity_registry, "sensor", scanner.uuid, "job_state")
    assert hass.states.get(job_state).state == "aborted"
    last_scan = hass.states.get(
        entity_id(entity_registry, "sensor", scanner.uuid, "last_scan")
    )
    assert last_scan.attributes["complete"] is False
    assert last_scan.attributes["pages"] == 2


@dataclass
class Hold:
    """A scan held before it stores its pages (its action's task), and the release."""

    scan: asyncio.Task[dict[str, Any]]
    release: asyncio.Event


@asynccontextmanager
async def held_storing(
    hass: HomeAssistant, runner: ScanRunner, uuid: str, **data: Any
) -> AsyncIterator[Hold]:
    """Start a scan (`data`) and hold it before it stores its pages, until released.

    The scans after it are held too. The scanner stays busy meanwhile, as it does while
    a large document is assembled.
    """
    release = asyncio.Event()
    arrived = asyncio.Event()
    store = runner.storage.async_store

    async def held(*args: Any, **kwargs: Any) -> StoredScan:
        arrived.set()
        await release.wait()
        return await store(*args, **kwargs)

    with patch.object(runner.storage, "async_store", held):
        hold = Hold(hass.async_create_task(scan(hass, uuid, **data)), release)
        await until(arrived.is_set)
        yield hold


async def test_scans_on_a_busy_scanner_wait_their_turn(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """While a scan runs, the next waits in the queue (the job sensor counts it)."""
    runner = loaded_entry.runtime_data.runner
    job_state = entity_id(entity_registry, "sensor", scanner.uuid, "job_state")
    async with held_storing(
        hass, runner, scanner.uuid, source="platen", file_name="first"
    ) as hold:
        second = hass.async_create_task(
            scan(hass, scanner.uuid, source="platen", file_name="second")
        )
        await until(lambda: hass.states.get(job_state).attributes["queued"] == 1)
        assert len(scanner.jobs) == 1
        hold.release.set()
        names = [
            Path((await task)["files"][0]["path"]).name for task in (hold.scan, second)
        ]
    assert names == ["first.pdf", "second.pdf"]
    assert len(scanner.jobs) == 2
    assert hass.states.get(job_state).attributes["queued"] == 0
    assert not runner.busy


async def test_a_busy_scanner_refuses_when_asked_or_full(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """`when_busy: fail` is refused at once; so is a scan beyond the queue's bound."""
    runner = loaded_entry.runtime_data.runner
    async with held_storing(hass, runner, scanner.uuid, source="platen") as hold:
        with pytest.raises(HomeAssistantError) as err:
            await scan(hass, scanner.uuid, source="platen", when_busy="fail")
        assert err.value.translation_key == "busy"
        assert str(err.value).startswith("Simulated Office MFP is already scanning")

        waiting = [
            hass.async_create_task(scan(hass, scanner.uuid, source="platen"))
            for _ in range(MAX_QUEUED)
        ]
        await until(lambda: loaded_entry.runtime_data.activity.queued == MAX_QUEUED)
        with pytest.raises(HomeAssistantError) as err:
            await scan(hass, scanner.uuid, source="platen")
        assert err.value.translation_key == "queue_full"
        assert str(err.value).startswith(
            f"Simulated Office MFP is busy and {MAX_QUEUED} scans already wait for it."
        )
        hold.release.set()
        for task in (hold.scan, *waiting):
            assert (await task)["pages"] == 1
    assert len(scanner.jobs) == 1 + MAX_QUEUED


async def test_cancel_empties_the_queue(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """`wsd_scan.cancel` fails the scans waiting; the one storing its pages ends well."""
    runner = loaded_entry.runtime_data.runner
    activity = loaded_entry.runtime_data.activity
    async with held_storing(hass, runner, scanner.uuid, source="platen") as hold:
        waiting = [
            hass.async_create_task(scan(hass, scanner.uuid, source="platen"))
            for _ in range(2)
        ]
        await until(lambda: activity.queued == 2)
        await hass.services.async_call(
            DOMAIN,
            "cancel",
            {"device_id": device_id(hass, scanner.uuid)},
            blocking=True,
        )
        for task in waiting:
            with pytest.raises(HomeAssistantError) as err:
                await task
            assert err.value.translation_key == "scan_cancelled"
        assert activity.queued == 0
        hold.release.set()
        assert (await hold.scan)["pages"] == 1
    assert len(scanner.jobs) == 1
    assert not runner.busy


async def test_a_waiting_scan_given_up_leaves_the_queue(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A caller that stops waiting (an automation stopped) frees its place."""
    runner = loaded_entry.runtime_data.runner
    activity = loaded_entry.runtime_data.activity
    async with held_storing(hass, runner, scanner.uuid, source="platen") as hold:
        given_up = hass.async_create_task(scan(hass, scanner.uuid, source="platen"))
        await until(lambda: activity.queued == 1)
        given_up.cancel()
        await until(lambda: activity.queued == 0)
        hold.release.set()
        await hold.scan
    assert given_up.cancelled()
    assert len(scanner.jobs) == 1
    assert not runner.busy
    assert (await scan(hass, scanner.uuid, source="platen"))["pages"] == 1


async def test_two_scanners_scan_at_the_same_time(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    callback_url: str,
) -> None:
    """Two scanners of one model scan at once into their shared folder; no name clash."""
    async with SimulatedScanner("office_mfp", discovery=False) as twin:
        entry = scanner_entry(twin, callback_url=callback_url)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        scanner.load_feeder(3)
        twin.load_feeder(2)
        first, second = await asyncio.gather(
            scan(hass, scanner.uuid, source="feeder", file_name="same"),
            scan(hass, twin.uuid, source="feeder", file_name="same"),
        )
        await hass.config_entries.async_unload(entry.entry_id)
    assert (first["pages"], second["pages"]) == (3, 2)
    paths = [Path(response["files"][0]["path"]) for response in (first, second)]
    assert paths[0].parent == paths[1].parent
    assert sorted(path.name for path in paths) == ["same-2.pdf", "same.pdf"]
    assert pdf_page_images(paths[0]) == sent_pages(only_job(scanner))
    assert pdf_page_images(paths[1]) == sent_pages(only_job(twin))


async def test_cancel_without_a_scan(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """Nothing to cancel is a validation error."""
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "cancel",
            {"device_id": device_id(hass, scanner.uuid)},
            blocking=True,
        )
    assert err.value.translation_key == "not_scanning"


@pytest.mark.usefixtures("loaded_entry")
async def test_auto_scans_the_glass_when_the_feeder_is_empty(
    hass: HomeAssistant, scanner: SimulatedScanner
) -> None:
    """An empty feeder the scanner did not report: the glass is scanned instead.

    The simulator, like many scanners, never reports an empty feeder: `auto` picks the
    feeder, the scanner refuses the job, and the glass is scanned (the response says so).
    """
    response = await scan(hass, scanner.uuid, source="auto")

    (job,) = scanner.jobs.values()  # the refused job was never created
    assert job.ticket.input_source == "Platen"
    assert response["pages"] == 1
    assert response["glass_instead_of_feeder"] is True

    scanner.load_feeder(2)
    response = await scan(hass, scanner.uuid, source="auto")
    assert response["pages"] == 2
    assert "glass_instead_of_feeder" not in response


@pytest.mark.parametrize(
    ("condition", "source", "key"),
    [
        (None, "feeder", "scan_feeder_empty"),
        ("CoverOpen", "platen", "scan_cover_open"),
    ],
)
@pytest.mark.usefixtures("loaded_entry")
async def test_scanner_problems_before_the_job(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    condition: str | None,
    source: str,
    key: str,
) -> None:
    """A refused job is a translated error; nothing is stored."""
    if condition is not None:
        scanner.raise_condition(condition)
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source=source)
    assert err.value.translation_key == key
    assert err.value.translation_placeholders["pages"] == "0"
    assert not list(Path(hass.config.media_dirs["local"], FOLDER).glob("*.*"))


async def test_unreachable_scanner(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A scanner that is gone: "cannot reach" its address, not the raw error."""
    await scanner.set_online(False)
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="platen")
    assert err.value.translation_key == "scan_unreachable"
    assert str(err.value).startswith(
        f"Cannot reach Simulated Office MFP at 127.0.0.1:{scanner.http_port}. "
    )


async def test_unsupported_source(
    hass: HomeAssistant, callback_url: str, socket_enabled: None
) -> None:
    """Asking a flatbed for its feeder is the request's fault: a validation error."""
    async with SimulatedScanner("photo_flatbed", discovery=False) as flatbed:
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=flatbed.uuid,
            data={"host": "127.0.0.1", "xaddrs": [flatbed.device_url]},
            options={"callback_url": callback_url},
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        with pytest.raises(ServiceValidationError) as err:
            await scan(hass, flatbed.uuid, source="feeder_duplex")
        assert err.value.translation_key == "scan_unsupported"
        assert flatbed.jobs == {}
        await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    "file_name",
    [
        "../../../config/secrets",
        "/etc/passwd",
        "a/b",
        ".hidden",
        "{date}/..",
        "x{nope}",
    ],
)
async def test_file_name_template_is_refused(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    file_name: str,
) -> None:
    """Traversal and unknown placeholders are refused before anything is scanned."""
    with pytest.raises(ServiceValidationError) as err:
        await scan(hass, scanner.uuid, source="platen", file_name=file_name)
    assert err.value.translation_key == "invalid_file_name"
    assert scanner.jobs == {}


async def test_disk_error(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """A scanner folder that cannot be made: a translated error, no job started."""
    (media_dir / "wsd_scan").write_text("a file where the folder should be")
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="platen")
    assert err.value.translation_key == "storage_failed"
    assert err.value.translation_placeholders["path"] == str(media_dir / FOLDER)
    assert scanner.jobs == {}


async def test_disk_full_mid_job(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The disk fills while page 2 streams in: the disk-full error; page 1 is kept."""
    scanner.load_feeder(3)
    disk_full: list[bool] = []
    at_page(hass, entity_registry, scanner.uuid, 1, lambda: disk_full.append(True))

    def writev(fd: int, buffers: list[memoryview | bytes]) -> int:
        if disk_full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return system_writev(fd, buffers)

    system_writev = os.writev
    with (
        # The library writes the pages it receives with os.writev.
        patch("os.writev", writev),
        pytest.raises(HomeAssistantError) as err,
    ):
        await scan(hass, scanner.uuid, source="feeder")

    folder = Path(hass.config.media_dirs["local"], FOLDER)
    assert err.value.translation_key == "disk_full"
    assert err.value.translation_placeholders == {
        "path": str(folder),
        "error": "No space left on device",
    }
    (kept,) = folder.glob("*.pdf")
    assert pdf_page_images(kept) == sent_pages(only_job(scanner))[:1]
    assert f"1 pages kept: {kept}" in caplog.text
    assert only_job(scanner).state == "Canceled"


async def test_folder_outside_the_allowlist(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A media folder Home Assistant may not write to is refused."""
    hass.config.allowlist_external_dirs = set()
    with pytest.raises(ServiceValidationError) as err:
        await scan(hass, scanner.uuid, source="platen")
    assert err.value.translation_key == "path_not_allowed"
    assert scanner.jobs == {}


async def test_no_media_folder(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """Without a media folder there is nowhere to store scans."""
    hass.config.media_dirs = {}
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="platen")
    assert err.value.translation_key == "no_media_folder"


async def test_unknown_device(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A device id that is no scanner is refused by Home Assistant's own check."""
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN,
            "scan",
            {"device_id": "not-a-device"},
            blocking=True,
            return_response=True,
        )


async def test_response_is_optional(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """Called without asking for a response, the scan still lands on disk."""
    assert (
        await hass.services.async_call(
            DOMAIN,
            "scan",
            {
                "device_id": device_id(hass, scanner.uuid),
                "source": "platen",
                "resolution": 75,
            },
            blocking=True,
        )
        is None
    )
    (job,) = scanner.jobs.values()
    assert job.state == "Completed"


async def test_unload_cancels_a_running_scan(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """Unloading the entry mid-scan cancels the job; the pages are still saved."""
    scanner.load_feeder(8)
    unloading: list[asyncio.Task[Any]] = []
    at_page(
        hass,
        entity_registry,
        scanner.uuid,
        1,
        lambda: unloading.append(
            hass.async_create_task(
                hass.config_entries.async_unload(loaded_entry.entry_id)
            )
        ),
    )
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="feeder")
    assert await unloading[0]
    assert err.value.translation_key == "scan_cancelled_pages_saved"
    assert Path(err.value.translation_placeholders["files"]).is_file()
    assert only_job(scanner).state == "Canceled"


async def test_pdf_only_scanner(
    hass: HomeAssistant, callback_url: str, socket_enabled: None
) -> None:
    """A scanner that sends PDF pages: PDF works (without previews).

    Asked for JPEG, it still sends a PDF: kept as it is, named in the error, the last scan.
    """
    profile = replace(PROFILES["office_mfp"], formats=("pdf-a",))
    async with SimulatedScanner(profile, discovery=False) as pdf_only:
        entry = scanner_entry(pdf_only, callback_url=callback_url)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        response = await scan(hass, pdf_only.uuid, source="platen", format="pdf")
        with pikepdf.open(response["files"][0]["path"]) as pdf:
            assert len(pdf.pages) == 1
        assert entry.runtime_data.activity.last_scan.previews == ()

        with pytest.raises(ServiceValidationError) as err:
            await scan(hass, pdf_only.uuid, source="platen", format="jpeg")
        assert err.value.translation_key == "scan_not_converted"
        kept = Path(err.value.translation_placeholders["files"])
        assert kept.suffix == ".pdf"
        assert kept.read_bytes() == sent_pages(list(pdf_only.jobs.values())[-1])[0]
        assert str(err.value).startswith(
            "Simulated Office MFP delivered pages that cannot become JPEG (page 1 is a "
            "PDF and cannot become JPEG). They are saved as the scanner sent them: 1 ("
        )
        last_scan = entry.runtime_data.activity.last_scan
        assert [file.path for file in last_scan.files] == [kept]
        assert last_scan.files[0].mime_type == "application/pdf"
        await hass.config_entries.async_unload(entry.entry_id)


async def test_scanner_that_did_not_describe_itself(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """Without the scanner's capabilities no ticket can be built: a clear error."""
    loaded_entry.runtime_data.runner.capabilities = None
    with pytest.raises(ServiceValidationError) as err:
        await scan(hass, scanner.uuid, source="platen")
    assert err.value.translation_key == "scan_unsupported"
    assert scanner.jobs == {}


async def test_scanner_wants_its_panel(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A Kyocera-like scanner refusing jobs until its panel says so: what to do."""
    scanner.quirks.add(Quirk.PANEL_START_ONLY)
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="platen")
    assert err.value.translation_key == "scan_action_needed"
    assert "Send → WSD Scan → From Computer" in str(err.value)


async def test_stall_mid_job_times_out_and_keeps_the_pages(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """The scanner goes silent in page 2: the timeout error, page 1 kept in the PDF."""
    scanner.load_feeder(5)
    loaded_entry.runtime_data.runner.client.image_idle_timeout = 0.3
    # Xerox B225/B235-like hung firmware: after page 1, the next image stops mid-body.
    at_page(
        hass,
        entity_registry,
        scanner.uuid,
        1,
        lambda: scanner.quirks.add(Quirk.HOSTILE_STALL_MID_BODY),
    )
    with pytest.raises(HomeAssistantError) as err:
        async with asyncio.timeout(15):
            await scan(hass, scanner.uuid, source="feeder")

    assert err.value.translation_key == "scan_timeout_pages_saved"
    placeholders = err.value.translation_placeholders
    assert placeholders["pages"] == "1"
    assert (
        pdf_page_images(Path(placeholders["files"]))
        == sent_pages(only_job(scanner))[:1]
    )
    assert str(err.value).startswith("Simulated Office MFP stopped answering")
    assert not loaded_entry.runtime_data.runner.busy


async def test_quirky_models_scan_every_sheet(
    hass: HomeAssistant, callback_url: str, socket_enabled: None
) -> None:
    """Ricoh Aficio MP 201 and Canon MF410: every sheet, quirks in diagnostics."""
    for profile, quirks in (
        ("ricoh_mp201", ["feeder_images_to_transfer_100"]),
        ("canon_mf410", []),
    ):
        async with SimulatedScanner(profile, discovery=False) as sim:
            entry = scanner_entry(sim, callback_url=callback_url)
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            diagnostics = await async_get_config_entry_diagnostics(hass, entry)
            assert diagnostics["quirks"] == quirks
            sim.load_feeder(3)
            response = await scan(hass, sim.uuid, source="feeder")
            assert response["pages"] == 3, profile
            assert not [a for a, _ in sim.requests if a.endswith("/CancelJob")]
            assert await hass.config_entries.async_unload(entry.entry_id)


async def test_no_page_saved_says_nothing_about_saved_pages(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A scan refused before any page: the message names the cause only."""
    scanner.raise_condition("CoverOpen")
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="platen")
    assert err.value.translation_key == "scan_cover_open"
    assert str(err.value).startswith("A cover of Simulated Office MFP is open.")
    assert "saved" not in str(err.value)
