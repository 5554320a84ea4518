"""The "WSD scans" media source: browsing scans (PDFs included) and serving their files."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from homeassistant.components import media_source
from homeassistant.components.media_player.browse_media import (
    async_process_play_media_url,
)
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.wsd_scan.const import DOMAIN
from custom_components.wsd_scan.media_source import URL_PREFIX
from custom_components.wsd_scan.storage import MANIFEST, SCANS_DIR
from simulator import SimulatedScanner

from .ha_fixtures import scan

pytestmark = pytest.mark.usefixtures("socket_enabled")

ROOT = "media-source://wsd_scan"
SCANNER = f"{ROOT}/simulated_office_mfp"


@pytest.fixture
async def duplex_pdf(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> Path:
    """Scan one sheet on both sides into a PDF; return the PDF."""
    scanner.load_feeder(1)
    response = await scan(
        hass, scanner.uuid, source="feeder_duplex", file_name="letter"
    )
    return Path(response["files"][0]["path"])


async def test_browse_scanners_scans_files_and_pages(
    hass: HomeAssistant, scanner: SimulatedScanner, duplex_pdf: Path
) -> None:
    """Root → scanner (by its entry's title) → scan → the PDF and a page per side."""
    await scan(hass, scanner.uuid, source="platen", format="jpeg", file_name="photo")

    root = await media_source.async_browse_media(hass, ROOT)
    assert root.title == "WSD scans"
    assert [(child.title, child.media_content_id) for child in root.children] == [
        ("Simulated Office MFP", SCANNER)
    ]

    scanner_node = await media_source.async_browse_media(hass, SCANNER)
    assert [child.title for child in scanner_node.children] == ["photo", "letter"]
    assert all(
        child.can_expand and child.thumbnail.startswith(f"{URL_PREFIX}/")
        for child in scanner_node.children
    )

    letter = await media_source.async_browse_media(hass, f"{SCANNER}/letter")
    assert [
        (child.title, child.media_content_type, child.can_play, child.can_expand)
        for child in letter.children
    ] == [
        ("letter.pdf", "application/pdf", False, True),
        ("Page 1", "image/jpeg", True, False),
        ("Page 2", "image/jpeg", True, False),
    ]
    assert letter.children[0].media_content_id == f"{SCANNER}/letter/file/letter.pdf"


async def test_a_pdf_opens_as_its_pages_with_the_first_as_thumbnail(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    duplex_pdf: Path,
) -> None:
    """The Media panel cannot show a PDF: it opens as a folder of its pages."""
    letter = await media_source.async_browse_media(hass, f"{SCANNER}/letter")
    pdf = letter.children[0]
    client = await hass_client_no_auth()
    thumbnail = await client.get(pdf.thumbnail)
    assert thumbnail.status == HTTPStatus.OK
    previews = duplex_pdf.parent / SCANS_DIR / "letter"
    assert await thumbnail.read() == (previews / "page-001.jpg").read_bytes()

    document = await media_source.async_browse_media(hass, pdf.media_content_id)
    assert (document.title, document.can_expand) == ("letter.pdf", True)
    assert [
        (page.title, page.media_content_id, page.can_play) for page in document.children
    ] == [
        ("Page 1", f"{SCANNER}/letter/page/page-001.jpg", True),
        ("Page 2", f"{SCANNER}/letter/page/page-002.jpg", True),
    ]


async def test_every_item_the_panel_opens_is_an_image(
    hass: HomeAssistant, scanner: SimulatedScanner, duplex_pdf: Path
) -> None:
    """What the Media panel resolves it shows in a dialog: images, not documents.

    Walks the whole tree (PDF, per-page TIFFs, JPEGs): every item that is not a
    folder resolves to a JPEG or PNG; every folder browses.
    """
    scanner.load_feeder(2)
    await scan(hass, scanner.uuid, source="feeder", format="tiff", file_name="sheets")
    await scan(hass, scanner.uuid, source="platen", format="png", file_name="photo")
    pending = [ROOT]
    opened = []
    while pending:
        node = await media_source.async_browse_media(hass, pending.pop())
        for child in node.children:
            if child.can_expand:
                pending.append(child.media_content_id)
                continue
            media = await media_source.async_resolve_media(
                hass, child.media_content_id, None
            )
            assert media.mime_type in {"image/jpeg", "image/png"}
            opened.append(child.media_content_id.removeprefix(f"{SCANNER}/"))
    assert "photo/file/photo.png" in opened
    assert "letter/page/page-002.jpg" in opened
    assert "sheets/page/page-002.jpg" in opened


async def test_a_page_file_opens_as_its_own_page(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A scan stored one TIFF per page: each TIFF opens as the page it holds."""
    scanner.load_feeder(2)
    response = await scan(
        hass, scanner.uuid, source="feeder", format="tiff", file_name="sheets"
    )
    first, second = (file["media_content_id"] for file in response["files"])
    assert second == f"{SCANNER}/sheets/file/sheets-002.tiff"
    for media_content_id, number in ((first, 1), (second, 2)):
        node = await media_source.async_browse_media(hass, media_content_id)
        assert node.media_content_type == "image/tiff"
        assert [(page.title, page.media_content_id) for page in node.children] == [
            (f"Page {number}", f"{SCANNER}/sheets/page/page-00{number}.jpg")
        ]
        assert node.thumbnail.startswith(
            f"{URL_PREFIX}/simulated_office_mfp/sheets/page/page-00{number}.jpg?"
        )
        media = await media_source.async_resolve_media(hass, media_content_id, None)
        assert media.mime_type == "image/tiff"


async def test_resolve_and_download_the_pdf(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    duplex_pdf: Path,
) -> None:
    """The PDF resolves to an authenticated URL that serves it as a download."""
    media = await media_source.async_resolve_media(
        hass, f"{SCANNER}/letter/file/letter.pdf", None
    )
    assert media.mime_type == "application/pdf"
    assert media.path == duplex_pdf
    client = await hass_client()
    response = await client.get(media.url)
    assert response.status == HTTPStatus.OK
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert await response.read() == duplex_pdf.read_bytes()


async def test_pages_are_viewable(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    duplex_pdf: Path,
) -> None:
    """A page resolves to an inline JPEG preview; signed, as the Media panel gets it."""
    media = await media_source.async_resolve_media(
        hass, f"{SCANNER}/letter/page/page-002.jpg", None
    )
    assert media.mime_type == "image/jpeg"
    # What the media_source/resolve_media command does before answering the panel.
    signed = async_process_play_media_url(hass, media.url, allow_relative_url=True)
    assert "authSig=" in signed

    client = await hass_client_no_auth()
    assert (await client.get(media.url)).status == HTTPStatus.UNAUTHORIZED
    response = await client.get(signed)
    assert response.status == HTTPStatus.OK
    assert "Content-Disposition" not in response.headers
    preview = duplex_pdf.parent / SCANS_DIR / "letter" / "page-002.jpg"
    assert await response.read() == preview.read_bytes()
    with Image.open(preview) as image:
        assert image.format == "JPEG"


@pytest.mark.parametrize(
    "identifier",
    [
        "simulated_office_mfp/letter/file/missing.pdf",
        "simulated_office_mfp/letter/file/page-001.jpg",
        "simulated_office_mfp/letter/page/letter.pdf",
        "simulated_office_mfp/nothing/file/letter.pdf",
        "simulated_office_mfp/letter/file",
        "simulated_office_mfp/letter/other/letter.pdf",
        "simulated_office_mfp/../../secrets.yaml",
        "simulated_office_mfp/.scans/letter/scan.json",
    ],
)
async def test_only_listed_files_are_served(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    duplex_pdf: Path,
    identifier: str,
) -> None:
    """Anything a scan's manifest does not list is neither resolved nor served."""
    with pytest.raises(media_source.Unresolvable):
        await media_source.async_resolve_media(hass, f"{ROOT}/{identifier}", None)
    client = await hass_client()
    response = await client.get(f"{URL_PREFIX}/{identifier}")
    assert response.status == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    "identifier",
    [
        "simulated_office_mfp/nothing",
        "simulated_office_mfp/letter/page/page-001.jpg",
        "simulated_office_mfp/letter/file/missing.pdf",
        "simulated_office_mfp/..",
        "a/b/c",
    ],
)
async def test_browsing_what_is_no_folder(
    hass: HomeAssistant, duplex_pdf: Path, identifier: str
) -> None:
    """Browsing a file, a missing scan or a traversal is a browse error."""
    with pytest.raises(BrowseError):
        await media_source.async_browse_media(hass, f"{ROOT}/{identifier}")


async def test_broken_and_foreign_entries_are_skipped(
    hass: HomeAssistant, media_dir: Path, duplex_pdf: Path
) -> None:
    """Scans with broken manifests are left out; other folders show their names."""
    broken = duplex_pdf.parent / SCANS_DIR / "broken"
    broken.mkdir()
    (broken / MANIFEST).write_text('{"created": "yesterday"}')
    escaping = duplex_pdf.parent / SCANS_DIR / "escaping"
    escaping.mkdir()
    manifest = (duplex_pdf.parent / SCANS_DIR / "letter" / MANIFEST).read_text()
    (escaping / MANIFEST).write_text(manifest.replace("letter.pdf", "../x.pdf"))
    (media_dir / "wsd_scan" / "old_scanner").mkdir()
    (media_dir / "wsd_scan" / "stray-file.txt").write_text("")

    root = await media_source.async_browse_media(hass, ROOT)
    assert [child.title for child in root.children] == [
        "old_scanner",
        "Simulated Office MFP",
    ]
    scans = await media_source.async_browse_media(hass, SCANNER)
    assert [child.title for child in scans.children] == ["letter"]
    assert (
        await media_source.async_browse_media(hass, f"{ROOT}/old_scanner")
    ).children == []


async def test_deleted_files_are_gone(
    hass: HomeAssistant, scanner: SimulatedScanner, duplex_pdf: Path
) -> None:
    """Files deleted on disk are neither listed nor resolved; without files, no scan."""
    scanner.load_feeder(2)
    pages = await scan(
        hass, scanner.uuid, source="feeder", format="jpeg", file_name="pages"
    )
    first, second = (Path(file["path"]) for file in pages["files"])
    first.unlink()
    node = await media_source.async_browse_media(hass, f"{SCANNER}/pages")
    assert [child.title for child in node.children] == [
        second.name,
        "Page 1",
        "Page 2",
    ]
    with pytest.raises(media_source.Unresolvable):
        await media_source.async_resolve_media(
            hass, f"{SCANNER}/pages/file/{first.name}", None
        )

    duplex_pdf.unlink()
    scans = await media_source.async_browse_media(hass, SCANNER)
    assert [child.title for child in scans.children] == ["pages"]
    with pytest.raises(BrowseError):
        await media_source.async_browse_media(hass, f"{SCANNER}/letter")
    with pytest.raises(media_source.Unresolvable):
        await media_source.async_resolve_media(
            hass, f"{SCANNER}/letter/page/page-001.jpg", None
        )


async def test_without_media_folder(hass: HomeAssistant) -> None:
    """No media folder: an empty source that resolves nothing."""
    hass.config.media_dirs = {}
    assert await async_setup_component(hass, DOMAIN, {})
    root = await media_source.async_browse_media(hass, ROOT)
    assert root.children == []
    with pytest.raises(media_source.Unresolvable):
        await media_source.async_resolve_media(
            hass, f"{SCANNER}/letter/file/letter.pdf", None
        )
    with pytest.raises(BrowseError):
        await media_source.async_browse_media(hass, SCANNER)


async def test_names_with_spaces(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """A file name with spaces and accents resolves, signs and serves."""
    response = await scan(
        hass, scanner.uuid, source="platen", format="jpeg", file_name="Brief März 1"
    )
    (file,) = response["files"]
    media = await media_source.async_resolve_media(hass, file["media_content_id"], None)
    client = await hass_client_no_auth()
    served = await client.get(
        async_process_play_media_url(hass, media.url, allow_relative_url=True)
    )
    assert served.status == HTTPStatus.OK
    assert await served.read() == Path(file["path"]).read_bytes()
