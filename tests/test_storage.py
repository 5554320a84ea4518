"""Scan storage: file name templates, atomic never-overwriting names, disk errors."""

from __future__ import annotations

from datetime import datetime
import errno
from pathlib import Path
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from PIL import Image, ImageDraw, ImageFont
import pytest

from custom_components.wsd_scan.const import DOMAIN
from custom_components.wsd_scan.storage import (
    INCOMING_DIR,
    MAX_FILE_NAME_LENGTH,
    SCANS_DIR,
    ScanStorage,
    StoredScan,
    load_scan,
    render_file_name,
    storage_error,
)
from custom_components.wsd_scan.wsd import (
    ColorMode,
    DocumentFormat,
    ImageFormat,
    ScannedPage,
)

WHEN = datetime(2026, 3, 4, 5, 6, 7)


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("scan_{date}_{time}", "scan_2026-03-04_05-06-07"),
        ("{device} invoice (draft)", "office invoice (draft)"),
        ("  Rechnung März  ", "Rechnung März"),
        ("v1.2+final", "v1.2+final"),
    ],
)
def test_file_names(template: str, name: str) -> None:
    """Placeholders are filled in; letters of any script are fine."""
    assert render_file_name(template, device="office", when=WHEN) == name


@pytest.mark.parametrize(
    "template",
    [
        "",
        "   ",
        "x" * (MAX_FILE_NAME_LENGTH + 1),
        "name.",
        "-name",
        "a\\b",
        "a:b",
        "a..b",
        "{date",
        "{Date}",
        "{device.__class__}",
    ],
)
def test_refused_file_names(template: str) -> None:
    """Anything but a plain, portable file name is refused, translated."""
    with pytest.raises(ServiceValidationError) as err:
        render_file_name(template, device="office", when=WHEN)
    assert err.value.translation_key == "invalid_file_name"
    assert (err.value.translation_placeholders or {})["file_name"] == template


@pytest.mark.parametrize(
    ("code", "key"),
    [
        (errno.ENOSPC, "disk_full"),
        (errno.EDQUOT, "disk_full"),
        (errno.EACCES, "storage_not_permitted"),
        (errno.EROFS, "storage_not_permitted"),
        (errno.EIO, "storage_failed"),
    ],
)
def test_storage_errors(code: int, key: str) -> None:
    """Disk full and permission problems have their own messages."""
    err = storage_error(OSError(code, "whatever"), Path("/media/wsd_scan"))
    assert err.translation_key == key
    assert err.translation_placeholders == {
        "path": "/media/wsd_scan",
        "error": "whatever",
    }


@pytest.fixture
def storage(hass: HomeAssistant) -> ScanStorage:
    """Return the storage of a scanner named "Office Scanner"."""
    return ScanStorage(hass, device_name="Office Scanner", scanner="uuid-1")


async def store(
    storage: ScanStorage,
    *pages: bytes,
    document_format: DocumentFormat = DocumentFormat.JPEG,
    color: ColorMode = ColorMode.COLOR,
    skip_blank: int | None = None,
) -> StoredScan:
    """Store JPEG page files with these bytes as a document named "doc"."""
    await storage.async_check()
    work = storage.work_folder()
    work.mkdir(parents=True)
    scanned = []
    for index, data in enumerate(pages, start=1):
        path = work / f"page-{index:03d}.jpg"
        path.write_bytes(data)
        scanned.append(ScannedPage(index, path, ImageFormat.JPEG, len(data)))
    try:
        return await storage.async_store(
            scanned,
            work,
            "doc",
            document_format,
            resolution=75,
            created=dt_util.utcnow(),
            complete=True,
            duration=1.0,
            color=color,
            skip_blank=skip_blank,
        )
    finally:
        await storage.async_discard(work)


def jpeg(tmp_path: Path) -> bytes:
    """Return a small JPEG."""
    path = tmp_path / "page.jpg"
    Image.new("RGB", (40, 60), "white").save(path, "JPEG")
    return path.read_bytes()


async def test_without_hard_links(
    storage: ScanStorage, media_dir: Path, tmp_path: Path
) -> None:
    """On file systems without hard links, files are copied; still no overwriting."""
    folder = media_dir / "wsd_scan" / "office_scanner"
    folder.mkdir(parents=True)
    (folder / "doc.jpg").write_bytes(b"taken")
    with patch("os.link", side_effect=OSError(errno.EPERM, "no links here")):
        scan = await store(storage, jpeg(tmp_path))
    assert [file.path.name for file in scan.files] == ["doc-2.jpg"]
    assert (folder / "doc-2.jpg").read_bytes() == jpeg(tmp_path)
    assert (folder / "doc.jpg").read_bytes() == b"taken"
    assert not list(folder.glob(".*.part"))


async def test_a_multi_file_scan_takes_one_free_name(
    storage: ScanStorage, media_dir: Path, tmp_path: Path
) -> None:
    """A scan's files share one name: taken by any of them, the next is tried."""
    folder = media_dir / "wsd_scan" / "office_scanner"
    folder.mkdir(parents=True)
    (folder / "doc-002.jpg").write_bytes(b"taken")
    scan = await store(storage, jpeg(tmp_path), jpeg(tmp_path))
    assert scan.name == "doc-2"
    assert [file.path.name for file in scan.files] == ["doc-2-001.jpg", "doc-2-002.jpg"]
    assert not (folder / "doc-001.jpg").exists()
    assert not (folder / SCANS_DIR / "doc").exists()


async def test_disk_full_while_storing(storage: ScanStorage, tmp_path: Path) -> None:
    """A full disk when the files are written is the translated disk-full error."""
    with (
        patch("os.link", side_effect=OSError(errno.ENOSPC, "No space left on device")),
        pytest.raises(HomeAssistantError) as err,
    ):
        await store(storage, jpeg(tmp_path))
    assert err.value.translation_key == "disk_full"


async def test_page_without_preview_is_still_stored(
    storage: ScanStorage, caplog: pytest.LogCaptureFixture
) -> None:
    """A page the preview cannot read (truncated) is kept; it just has no preview."""
    scan = await store(storage, b"\xff\xd8\xff\xe0 truncated")
    assert scan.previews == ()
    assert scan.files[0].path.read_bytes() == b"\xff\xd8\xff\xe0 truncated"
    assert "No preview of page 1" in caplog.text


async def test_pages_that_cannot_be_converted_are_kept_as_delivered(
    storage: ScanStorage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A page no decoder reads cannot become PNG: every page is stored as it came."""
    scan = await store(
        storage,
        jpeg(tmp_path),
        b"\xff\xd8\xff\xe0 truncated",
        document_format=DocumentFormat.PNG,
    )
    assert [(file.path.name, file.mime_type) for file in scan.files] == [
        ("doc-001.jpg", "image/jpeg"),
        ("doc-002.jpg", "image/jpeg"),
    ]
    assert [file.path.read_bytes() for file in scan.files] == [
        jpeg(tmp_path),
        b"\xff\xd8\xff\xe0 truncated",
    ]
    assert scan.not_converted is not None
    assert "page-002.jpg is not a readable image" in scan.not_converted
    assert "cannot become PNG" in caplog.text
    assert "stored as the scanner delivered them (JPEG)" in caplog.text
    assert not list(scan.folder.glob("*.png"))


async def test_colour_pages_stored_in_the_asked_mode(
    storage: ScanStorage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Gray asked, colour delivered: document and previews are gray; said once."""
    colour = tmp_path / "colour.jpg"
    Image.new("RGB", (40, 60), (200, 30, 40)).save(colour, "JPEG")
    for _ in range(2):
        scan = await store(
            storage,
            colour.read_bytes(),
            document_format=DocumentFormat.PNG,
            color=ColorMode.GRAY,
        )
        with Image.open(scan.files[0].path) as document:
            assert document.mode == "L"
            assert document.info["dpi"] == pytest.approx((75, 75), abs=0.01)
        with Image.open(scan.previews[0]) as preview:
            assert preview.mode == "L"
    assert (
        caplog.text.count("office_scanner sends color pages when asked for gray") == 1
    )


async def test_latest_is_this_scanners(
    hass: HomeAssistant, storage: ScanStorage, tmp_path: Path
) -> None:
    """Two scanners with the same name share a folder; each finds its own last scan."""
    mine = await store(storage, jpeg(tmp_path))
    twin = ScanStorage(hass, device_name="Office Scanner", scanner="uuid-2")
    await store(twin, jpeg(tmp_path))
    assert (await storage.async_latest()) == mine
    hass.config.media_dirs = {}
    assert await storage.async_latest() is None


async def test_latest_skips_scans_whose_files_are_deleted(
    storage: ScanStorage, tmp_path: Path
) -> None:
    """The newest scan's file deleted on disk: the scan before is the latest."""
    older = await store(storage, jpeg(tmp_path))
    newer = await store(storage, jpeg(tmp_path))
    newer.files[0].path.unlink()
    assert await storage.async_latest() == older
    older.files[0].path.unlink()
    assert await storage.async_latest() is None


async def test_leftover_work_folders_are_removed_at_setup(
    hass: HomeAssistant, media_dir: Path
) -> None:
    """Pages of a job cut off by a crash go when the integration starts; nothing else."""
    scanners = media_dir / "wsd_scan"
    leftovers = [
        scanners / name / INCOMING_DIR / "0123abcd" for name in ("office", "home")
    ]
    for work in leftovers:
        work.mkdir(parents=True)
        (work / "page-001.jpg").write_bytes(b"half a page")
    (scanners / "office" / "letter.pdf").write_bytes(b"%PDF-")
    (scanners / "notes.txt").write_text("not a scanner")

    assert await async_setup_component(hass, DOMAIN, {})
    assert not any(work.exists() for work in leftovers)
    assert (scanners / "office" / "letter.pdf").read_bytes() == b"%PDF-"
    assert (scanners / "notes.txt").is_file()


async def test_blank_pages_are_left_out(storage: ScanStorage, tmp_path: Path) -> None:
    """Only the pages with content are stored, byte for byte; the scan counts the others."""
    blank = jpeg(tmp_path)
    path = tmp_path / "text.jpg"
    page = Image.new("L", (400, 560), "white")
    ImageDraw.Draw(page).text(
        (60, 250), "Total: 42.00", fill=0, font=ImageFont.load_default(size=24)
    )
    page.save(path, "JPEG")
    text = path.read_bytes()

    scan = await store(storage, blank, text, blank, skip_blank=50)
    assert (scan.pages, scan.blank_pages_skipped) == (1, 2)
    assert [file.path.read_bytes() for file in scan.files] == [text]
    assert load_scan(scan.folder, scan.name) == scan

    with pytest.raises(HomeAssistantError) as err:
        await store(storage, blank, blank, skip_blank=50)
    assert err.value.translation_key == "scan_all_blank"
    assert err.value.translation_placeholders == {"pages": "2"}
