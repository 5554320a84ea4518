"""The "WSD scans" media source: every scan in the Media panel, PDFs included.

Home Assistant's "My media" lists and serves only images, audio and video, so it would
hide PDFs. This source shows the scan library (`storage.py`) by scanner and scan:

    <scanner>                        a scanner's scans, newest first
    <scanner>/<scan>                 a scan: its files, then a preview of each page
    <scanner>/<scan>/file/<name>     a file of the scan (the PDF, or a page image)
    <scanner>/<scan>/page/<name>     the preview of a page

Files are served by `ScanFileView` (authenticated; the Media panel gets signed URLs).
Only files a scan's manifest lists can be reached; PDFs and TIFFs are downloads. Files
deleted on disk are not shown, and a scan whose files are all deleted is gone.

The Media panel shows what it resolves in a dialog that plays audio, video and images
only (frontend 20260930: `hui-dialog-web-browser-play-media`); anything else, a PDF
included, reads "Your browser's media player does not support this type of media". So a
document (PDF, TIFF) is browsed as a folder of its pages, with its first page as its
thumbnail; it still resolves to the document itself for media players and automations.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from http import HTTPStatus
import mimetypes
from pathlib import Path
import re
from typing import Final, override
from urllib.parse import quote

from aiohttp import hdrs, web
from aiohttp.helpers import content_disposition_header
from homeassistant.components.http.auth import async_sign_path
from homeassistant.components.media_player.const import (
    CONTENT_AUTH_EXPIRY_TIME,
    MediaClass,
)
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import (
    BrowseMediaSource,
    MediaSource,
    MediaSourceItem,
    PlayMedia,
    Unresolvable,
    generate_media_source_id,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView

from .const import DOMAIN
from .storage import (
    StoredFile,
    StoredScan,
    library_root,
    list_scans,
    load_scan,
    plain_name,
)

URL_PREFIX: Final = "/api/wsd_scan/scans"
FILE: Final = "file"
PAGE: Final = "page"
#: Types a browser shows itself; other files are served as downloads.
_INLINE_TYPES: Final = frozenset({"image/jpeg", "image/png"})
#: How the files and previews of a scan stored one file per page end: `-003`.
_PAGE_SUFFIX: Final = re.compile(r"-\d{3,}")


async def async_get_media_source(hass: HomeAssistant) -> WsdScanMediaSource:
    """Return the "WSD scans" media source."""
    return WsdScanMediaSource(hass)


def file_media_id(scan: StoredScan, name: str) -> str:
    """Return the media source id of a scan's file."""
    return generate_media_source_id(DOMAIN, _identifier(scan, FILE, name))


def _identifier(scan: StoredScan, kind: str, name: str) -> str:
    return f"{scan.folder.name}/{scan.name}/{kind}/{name}"


def _parts(identifier: str) -> list[str]:
    """Split an identifier; every part must be a plain name (no traversal)."""
    parts = identifier.split("/") if identifier else []
    try:
        for part in parts:
            plain_name(part)
    except ValueError as err:
        raise Unresolvable(f"Invalid identifier {identifier}") from err
    if len(parts) > 4 or (
        len(parts) > 2 and (len(parts) < 4 or parts[2] not in {FILE, PAGE})
    ):
        raise Unresolvable(f"Unknown identifier {identifier}")
    return parts


def find_file(root: Path, identifier: str) -> Path | None:
    """Return the file an identifier names, if its scan lists it. Blocking."""
    try:
        scanner, name, kind, file_name = _parts(identifier)
    except Unresolvable, ValueError:
        return None
    scan = load_scan(root / scanner, name)
    if scan is None:
        return None
    paths = [file.path for file in scan.files] if kind == FILE else list(scan.previews)
    return next(
        (path for path in paths if path.name == file_name and path.is_file()), None
    )


def _mime_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _is_inline(mime_type: str) -> bool:
    return mime_type in _INLINE_TYPES


def _pages_of(scan: StoredScan, document: StoredFile) -> list[tuple[int, Path]]:
    """Return the numbers and previews of a document's pages.

    A scan is one document (`letter.pdf`: every page) or one file per page
    (`letter-003.tiff`: page 3, whose preview is `page-003.jpg`).
    """
    suffix = document.path.stem.removeprefix(scan.name)
    if _PAGE_SUFFIX.fullmatch(suffix):
        return [
            (int(suffix[1:]), preview)
            for preview in scan.previews
            if preview.stem.endswith(suffix)
        ]
    return list(enumerate(scan.previews, start=1))


def _url(identifier: str) -> str:
    return f"{URL_PREFIX}/{quote(identifier)}"


class WsdScanMediaSource(MediaSource):
    """Browse and resolve the scan library."""

    name = "WSD scans"

    def __init__(self, hass: HomeAssistant) -> None:
        """Serve the scans of every scanner."""
        super().__init__(DOMAIN)
        self.hass = hass

    @override
    async def async_resolve_media(self, item: MediaSourceItem) -> PlayMedia:
        """Resolve a file or page to the URL `ScanFileView` serves it at."""
        root = library_root(self.hass)
        path = root and await self.hass.async_add_executor_job(
            find_file, root, item.identifier
        )
        if not path:
            raise Unresolvable(f"No scan file {item.identifier}")
        return PlayMedia(_url(item.identifier), _mime_type(path), path=path)

    @override
    async def async_browse_media(self, item: MediaSourceItem) -> BrowseMediaSource:
        """Return the scanners, a scanner's scans, or a scan's files and pages."""
        try:
            parts = _parts(item.identifier)
        except Unresolvable as err:
            raise BrowseError(str(err)) from err
        root = library_root(self.hass)
        if not parts:
            folders = (
                await self.hass.async_add_executor_job(_scanner_folders, root)
                if root
                else []
            )
            return self._node(
                "",
                self.name or DOMAIN,
                [self._scanner_node(folder) for folder in folders],
            )
        if root is None or (len(parts) > 2 and parts[2] != FILE):
            raise BrowseError(f"Not a folder: {item.identifier}")
        if len(parts) == 1:
            scans = await self.hass.async_add_executor_job(list_scans, root / parts[0])
            node = self._scanner_node(parts[0])
            node.children = [self._scan_node(scan) for scan in scans]
            return node
        scan = await self.hass.async_add_executor_job(
            load_scan, root / parts[0], parts[1]
        )
        if scan is None:
            raise BrowseError(f"No scan {item.identifier}")
        if len(parts) == 2:
            return self._node(
                item.identifier,
                scan.name,
                [
                    *(self._file_node(scan, file) for file in scan.files),
                    *self._page_nodes(scan, enumerate(scan.previews, start=1)),
                ],
            )
        document = next(
            (
                file
                for file in scan.files
                if file.path.name == parts[3] and not _is_inline(_mime_type(file.path))
            ),
            None,
        )
        if document is None:
            raise BrowseError(f"Not a document: {item.identifier}")
        node = self._file_node(scan, document)
        node.children = self._page_nodes(scan, _pages_of(scan, document))
        return node

    def _node(
        self, identifier: str, title: str, children: list[BrowseMediaSource] | None
    ) -> BrowseMediaSource:
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=identifier,
            media_class=MediaClass.DIRECTORY,
            media_content_type="",
            title=title,
            can_play=False,
            can_expand=True,
            children=children,
            children_media_class=MediaClass.DIRECTORY,
        )

    def _scanner_node(self, folder: str) -> BrowseMediaSource:
        names = {
            entry.runtime_data.runner.storage.device: entry.title
            for entry in self.hass.config_entries.async_loaded_entries(DOMAIN)
        }
        return self._node(folder, names.get(folder, folder), None)

    def _scan_node(self, scan: StoredScan) -> BrowseMediaSource:
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=f"{scan.folder.name}/{scan.name}",
            media_class=MediaClass.DIRECTORY,
            media_content_type="",
            title=scan.name,
            can_play=False,
            can_expand=True,
            thumbnail=self._signed(_identifier(scan, PAGE, scan.previews[0].name))
            if scan.previews
            else None,
            children_media_class=MediaClass.IMAGE,
        )

    def _file_node(self, scan: StoredScan, file: StoredFile) -> BrowseMediaSource:
        """Return an image to view, or a document to open as a folder of its pages."""
        identifier = _identifier(scan, FILE, file.path.name)
        mime_type = _mime_type(file.path)
        if _is_inline(mime_type):
            return self._image_node(identifier, file.path.name, mime_type)
        pages = _pages_of(scan, file)
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=identifier,
            media_class=MediaClass.DIRECTORY,
            media_content_type=mime_type,
            title=file.path.name,
            can_play=False,
            can_expand=True,
            thumbnail=self._signed(_identifier(scan, PAGE, pages[0][1].name))
            if pages
            else None,
            children_media_class=MediaClass.IMAGE,
        )

    def _page_nodes(
        self, scan: StoredScan, pages: Iterable[tuple[int, Path]]
    ) -> list[BrowseMediaSource]:
        return [
            self._image_node(
                _identifier(scan, PAGE, preview.name),
                f"Page {number}",
                _mime_type(preview),
            )
            for number, preview in pages
        ]

    def _image_node(
        self, identifier: str, title: str, mime_type: str
    ) -> BrowseMediaSource:
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=identifier,
            media_class=MediaClass.IMAGE,
            media_content_type=mime_type,
            title=title,
            can_play=True,
            can_expand=False,
            thumbnail=self._signed(identifier),
        )

    @callback
    def _signed(self, identifier: str) -> str:
        return async_sign_path(
            self.hass, _url(identifier), timedelta(seconds=CONTENT_AUTH_EXPIRY_TIME)
        )


def _scanner_folders(root: Path) -> list[str]:
    """Return the scanners' folders in the library. Blocking."""
    try:
        return sorted(
            path.name
            for path in root.iterdir()
            if path.is_dir() and not path.name.startswith(".")
        )
    except OSError:
        return []


class ScanFileView(HomeAssistantView):
    """Serves the files and page previews of stored scans."""

    url = f"{URL_PREFIX}/{{identifier:.+}}"
    name = "api:wsd_scan:scans"

    async def get(self, request: web.Request, identifier: str) -> web.StreamResponse:
        """Return a scan's file; images inline, other files as downloads."""
        hass = request.app[KEY_HASS]
        root = library_root(hass)
        path = root and await hass.async_add_executor_job(find_file, root, identifier)
        if not path:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        headers = {}
        if not _is_inline(_mime_type(path)):
            headers[hdrs.CONTENT_DISPOSITION] = content_disposition_header(
                "attachment", filename=path.name
            )
        return web.FileResponse(path, headers=headers)
