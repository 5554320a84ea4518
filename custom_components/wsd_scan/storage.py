"""Where scans land: one folder per scanner in Home Assistant's media library.

Under `<first media dir>/wsd_scan/` (the scan library):

    <scanner>/                       the scanner's name, slugified
        <name>.pdf                   the document, or <name>.jpg / <name>-001.jpg, … per page
        .scans/<name>/scan.json      what the scan holds; written last: a scan without it
                                     does not exist
        .scans/<name>/page-001.jpg   a browser-viewable preview of each page
        .incoming/<job>/             pages while they stream in; removed after the job,
                                     or at the next start when Home Assistant stopped
                                     in the middle of it

Hidden folders stay out of Home Assistant's "My media"; the "WSD scans" media source
(`media_source.py`) shows each scan with its pages. Files get their final names
atomically (written under a temporary name in the same folder tree, then hard-linked)
and never replace a file: a taken name gets -2, -3, …
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
import errno
from functools import partial
import json
import logging
import mimetypes
import os
from pathlib import Path
import re
import shutil
from typing import Any, Final
import uuid

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import slugify

from .const import DOMAIN
from .wsd import (
    ColorMode,
    DocumentFormat,
    ScannedPage,
    WsdError,
    async_assemble,
    async_drop_blank,
    preview_page,
)
from .wsd.document import turn_upside_down

_LOGGER = logging.getLogger(__name__)

#: File name of a scan unless the action names another.
DEFAULT_FILE_NAME: Final = "scan_{date}_{time}"
#: The placeholders of file names, as the translations show them.
FILE_NAME_PLACEHOLDERS: Final = "{date}, {time}, {device}"
SCANS_DIR: Final = ".scans"
INCOMING_DIR: Final = ".incoming"
MANIFEST: Final = "scan.json"
MAX_FILE_NAME_LENGTH: Final = 100

_FIELD: Final = re.compile(r"\{([^{}]*)\}")
#: Letters, digits and a few separators; no path separators, no leading dot or dash,
#: no trailing dot or space (Windows shares drop those).
_FILE_NAME: Final = re.compile(r"\w(?:[\w .,+()-]*[\w)])?")
#: How a job's files are named in its work folder before they get the scan's name.
_WORK_STEM: Final = "document"
#: Names tried for one scan: name, name-2, … name-999.
_MAX_SUFFIX: Final = 1000
#: link() errors of file systems without hard links (FAT, some network shares).
_NO_HARD_LINKS: Final = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
)
_DISK_FULL: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
_NOT_PERMITTED: Final = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def render_file_name(template: str, *, device: str, when: datetime) -> str:
    """Fill in `{date}`, `{time}` and `{device}`; the result must be a plain file name.

    Raises `ServiceValidationError` for unknown placeholders and for anything that is
    not a plain name (path separators, `..`, leading dots, characters outside the list).
    """
    values = {
        "date": when.strftime("%Y-%m-%d"),
        "time": when.strftime("%H-%M-%S"),
        "device": device,
    }
    unknown = [field for field in _FIELD.findall(template) if field not in values]
    name = _FIELD.sub(lambda match: values.get(match[1], match[0]), template).strip()
    if (
        unknown
        or len(name) > MAX_FILE_NAME_LENGTH
        or ".." in name
        or not _FILE_NAME.fullmatch(name)
    ):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_file_name",
            translation_placeholders={
                "file_name": template,
                "placeholders": FILE_NAME_PLACEHOLDERS,
            },
        )
    return name


def storage_error(err: OSError, path: Path) -> HomeAssistantError:
    """Return the translated error for a file that cannot be written."""
    if err.errno in _DISK_FULL:
        key = "disk_full"
    elif err.errno in _NOT_PERMITTED:
        key = "storage_not_permitted"
    else:
        key = "storage_failed"
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={
            "path": str(path),
            "error": err.strerror or str(err),
        },
    )


def library_root(hass: HomeAssistant) -> Path | None:
    """Return the scan library's folder: `wsd_scan` in the first media folder."""
    media_dirs = list(hass.config.media_dirs.values())
    return Path(media_dirs[0], DOMAIN) if media_dirs else None


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file of a stored scan."""

    path: Path
    size: int
    mime_type: str


@dataclass(frozen=True, slots=True)
class StoredScan:
    """A scan in the library: its documents, the previews of its pages, how it went."""

    folder: Path
    name: str
    created: datetime
    #: The endpoint UUID of the scanner that made it.
    scanner: str
    files: tuple[StoredFile, ...]
    previews: tuple[Path, ...]
    pages: int
    #: False when the job failed and these are the pages received before.
    complete: bool
    duration: float
    #: Blank pages left out of the document.
    blank_pages_skipped: int = 0
    #: Why the pages are stored as the scanner delivered them, not in the format asked
    #: for (None: they are). Known to the run that stored them, not kept in `scan.json`.
    not_converted: str | None = field(default=None, compare=False)

    def to_manifest(self) -> dict[str, Any]:
        """Return what `scan.json` holds (names relative to the scanner's folder)."""
        return {
            "created": self.created.isoformat(),
            "scanner": self.scanner,
            "files": [
                {"name": file.path.name, "size": file.size, "mime_type": file.mime_type}
                for file in self.files
            ],
            "previews": [preview.name for preview in self.previews],
            "pages": self.pages,
            "complete": self.complete,
            "duration": self.duration,
            "blank_pages_skipped": self.blank_pages_skipped,
        }

    @classmethod
    def from_manifest(cls, folder: Path, name: str, data: dict[str, Any]) -> StoredScan:
        """Read a `scan.json`; raises KeyError, TypeError or ValueError if malformed."""
        return cls(
            folder=folder,
            name=name,
            created=datetime.fromisoformat(data["created"]),
            scanner=str(data["scanner"]),
            files=tuple(
                StoredFile(
                    folder / plain_name(file["name"]),
                    int(file["size"]),
                    str(file["mime_type"]),
                )
                for file in data["files"]
            ),
            previews=tuple(
                folder / SCANS_DIR / name / plain_name(preview)
                for preview in data["previews"]
            ),
            pages=int(data["pages"]),
            complete=bool(data["complete"]),
            duration=float(data["duration"]),
            blank_pages_skipped=int(data.get("blank_pages_skipped", 0)),
        )


def plain_name(name: object) -> str:
    """Return `name` if it is a plain file name (a manifest may have been edited)."""
    if not isinstance(name, str) or not _FILE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"not a plain file name: {name!r}")
    return name


def load_scan(folder: Path, name: str) -> StoredScan | None:
    """Return the scan `name` in a scanner's folder, None if there is none. Blocking.

    Files deleted since the scan are left out; a scan whose files are all gone is none.
    """
    try:
        data = json.loads(
            (folder / SCANS_DIR / plain_name(name) / MANIFEST).read_bytes()
        )
        scan = StoredScan.from_manifest(folder, name, data)
    except (OSError, KeyError, TypeError, ValueError) as err:
        _LOGGER.debug("No scan %s in %s: %s", name, folder, err)
        return None
    files = tuple(file for file in scan.files if file.path.is_file())
    if not files:
        _LOGGER.debug("The files of scan %s in %s are deleted", name, folder)
        return None
    return replace(scan, files=files)


def list_scans(folder: Path) -> list[StoredScan]:
    """Return the scans in a scanner's folder, newest first. Blocking."""
    try:
        names = [path.name for path in (folder / SCANS_DIR).iterdir()]
    except OSError:
        return []
    scans = [scan for name in names if (scan := load_scan(folder, name)) is not None]
    return sorted(scans, key=lambda scan: scan.created, reverse=True)


async def async_remove_leftover_work(hass: HomeAssistant) -> None:
    """Remove every scanner's work folders: what jobs cut off by a crash left behind.

    Runs when the integration is set up, before any scanner is: no job can be using one.
    Not when a scanner's entry is set up: on a reload, the job its unload cancelled may
    still be storing its pages.
    """
    root = library_root(hass)
    if root is not None:
        await hass.async_add_executor_job(_remove_work_folders, root)


def _remove_work_folders(root: Path) -> None:
    """Remove the job folders in `root/<scanner>/.incoming`. Blocking."""
    for work in root.glob(f"*/{INCOMING_DIR}/*"):
        _LOGGER.info("Removing the work folder of an interrupted scan: %s", work)
        shutil.rmtree(work, ignore_errors=True)


def _link(source: Path, target: Path) -> bool:
    """Give `source` the name `target` unless it is taken; never replaces a file."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError as err:
        if err.errno not in _NO_HARD_LINKS:
            raise
        # No hard links here. Only this scanner's one job at a time writes to its
        # folder, so checking first is safe enough.
        if target.exists():
            return False
        partial = target.with_name(f".{target.name}.part")
        shutil.copyfile(source, partial)
        partial.replace(target)
    return True


class ScanStorage:
    """One scanner's folder in the scan library."""

    def __init__(self, hass: HomeAssistant, *, device_name: str, scanner: str) -> None:
        """Store the scans of the scanner `scanner` (its UUID) named `device_name`."""
        self.hass = hass
        self.device = slugify(device_name) or "scanner"
        self.scanner = scanner
        self._color_conversion_logged = False

    @property
    def folder(self) -> Path:
        """The scanner's folder; `HomeAssistantError` without a media folder."""
        root = library_root(self.hass)
        if root is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="no_media_folder"
            )
        return root / self.device

    def work_folder(self) -> Path:
        """Return a new folder (not yet created) for the pages of one job."""
        return self.folder / INCOMING_DIR / uuid.uuid4().hex

    async def async_check(self) -> None:
        """Create the scanner's folder, which must be an allowed path."""
        folder = self.folder
        if not await self.hass.async_add_executor_job(
            self.hass.config.is_allowed_path, str(folder)
        ):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="path_not_allowed",
                translation_placeholders={"path": str(folder)},
            )
        try:
            await self.hass.async_add_executor_job(
                lambda: folder.mkdir(parents=True, exist_ok=True)
            )
        except OSError as err:
            raise storage_error(err, folder) from err

    async def async_store(
        self,
        pages: Sequence[ScannedPage],
        work: Path,
        name: str,
        document_format: DocumentFormat,
        *,
        resolution: int,
        created: datetime,
        complete: bool,
        duration: float,
        color: ColorMode = ColorMode.COLOR,
        skip_blank: int | None = None,
        turned: Collection[Path] = (),
    ) -> StoredScan:
        """Assemble the pages into the document and store it with page previews.

        With `skip_blank` (a sensitivity), blank pages are left out (the others are
        stored as they came); when every page is blank, nothing is stored and the
        translated `scan_all_blank` error says so. The pages whose files are in
        `turned` are turned by 180° in the document and previews (losslessly, see
        `turn_upside_down`).

        Colour pages become gray or black and white when `color` asked for that (and
        the scanner did not do it). Pages that cannot become the document (a PDF page
        asked to be a JPEG, an image that cannot be read) are stored as the scanner
        delivered them, one file each; the scan's `not_converted` says why. Raises a
        translated `HomeAssistantError` when the files cannot be written.
        """
        folder = self.folder
        not_converted: str | None = None
        received = len(pages)
        if skip_blank is not None:
            pages = await async_drop_blank(pages, skip_blank)
            if not pages:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="scan_all_blank",
                    translation_placeholders={"pages": str(received)},
                )
        try:
            try:
                outputs = await async_assemble(
                    [page.path for page in pages],
                    work,
                    _WORK_STEM,
                    document_format,
                    resolution=resolution,
                    title=name,
                    color=color,
                    on_color_converted=lambda mode: self._color_converted(color, mode),
                )
            except WsdError as err:
                _LOGGER.warning(
                    "The pages of %s cannot become %s (%s); they are stored as the "
                    "scanner delivered them (%s)",
                    name,
                    document_format.value.upper(),
                    err,
                    ", ".join(sorted({page.format.value.upper() for page in pages})),
                )
                not_converted = str(err)
                color = ColorMode.COLOR  # the previews show the pages as stored
                outputs = await self.hass.async_add_executor_job(
                    _as_delivered, pages, work
                )
            turned_indices = [
                index for index, page in enumerate(pages) if page.path in turned
            ]
            if turned_indices:
                await self.hass.async_add_executor_job(
                    _turn,
                    outputs,
                    turned_indices,
                    document_format is DocumentFormat.PDF and not_converted is None,
                )
            return await self._async_publish(
                outputs,
                pages,
                work,
                name,
                color=color,
                created=created,
                complete=complete,
                duration=duration,
                blank_pages_skipped=received - len(pages),
                not_converted=not_converted,
                turned=turned,
            )
        except OSError as err:
            raise storage_error(err, folder) from err

    def _color_converted(self, asked: ColorMode, delivered: ColorMode) -> None:
        """Say once that this scanner ignores the colour mode. Runs in the executor."""
        if not self._color_conversion_logged:
            self._color_conversion_logged = True
            _LOGGER.info(
                "%s sends %s pages when asked for %s; they are converted",
                self.device,
                delivered.value,
                asked.value,
            )

    async def async_discard(self, work: Path) -> None:
        """Remove a job's work folder and what is left in it."""
        await self.hass.async_add_executor_job(
            lambda: shutil.rmtree(work, ignore_errors=True)
        )

    async def async_remove(self, scan: StoredScan) -> None:
        """Remove a scan from the library: its files, previews and manifest."""
        await self.hass.async_add_executor_job(_remove_scan, scan)

    async def async_latest(self) -> StoredScan | None:
        """Return this scanner's newest scan in the library, if any."""
        root = library_root(self.hass)
        if root is None:
            return None
        scans = await self.hass.async_add_executor_job(list_scans, root / self.device)
        return next((scan for scan in scans if scan.scanner == self.scanner), None)

    async def async_store_delivered(
        self, files: Sequence[ScannedPage], work: Path, name: str, *, created: datetime
    ) -> StoredScan:
        """Store files as they are, byte for byte (documents a post-scan client sent).

        One scan of one file per document, named and published like `async_store`'s;
        `work` is made here, and left for the caller to discard.
        """
        folder = self.folder
        try:
            await self.hass.async_add_executor_job(partial(work.mkdir, parents=True))
            outputs = await self.hass.async_add_executor_job(_as_delivered, files, work)
            return await self._async_publish(
                outputs,
                files,
                work,
                name,
                # Previews show the documents as they are (no colour mode was asked for).
                color=ColorMode.COLOR,
                created=created,
                complete=True,
                duration=0.0,
            )
        except OSError as err:
            raise storage_error(err, folder) from err

    async def _async_publish(
        self,
        outputs: list[Path],
        pages: Sequence[ScannedPage],
        work: Path,
        name: str,
        *,
        color: ColorMode,
        created: datetime,
        complete: bool,
        duration: float,
        blank_pages_skipped: int = 0,
        not_converted: str | None = None,
        turned: Collection[Path] = (),
    ) -> StoredScan:
        """Give the outputs their names, with previews, and write the manifest.

        Raises OSError when a file cannot be written.
        """
        folder = self.folder
        scan_dir, files, previews = await self.hass.async_add_executor_job(
            partial(
                _publish, folder, outputs, pages, work, name, color=color, turned=turned
            )
        )
        scan = StoredScan(
            folder=folder,
            name=scan_dir.name,
            created=created,
            scanner=self.scanner,
            files=files,
            previews=previews,
            pages=len(pages),
            complete=complete,
            duration=duration,
            blank_pages_skipped=blank_pages_skipped,
            not_converted=not_converted,
        )
        await self.hass.async_add_executor_job(_write_manifest, scan)
        return scan


def _remove_scan(scan: StoredScan) -> None:
    # The manifest first: a scan without it no longer exists, whatever remains.
    shutil.rmtree(scan.folder / SCANS_DIR / scan.name, ignore_errors=True)
    for file in scan.files:
        file.path.unlink(missing_ok=True)


def _publish(
    folder: Path,
    outputs: list[Path],
    pages: Sequence[ScannedPage],
    work: Path,
    name: str,
    *,
    color: ColorMode,
    turned: Collection[Path],
) -> tuple[Path, tuple[StoredFile, ...], tuple[Path, ...]]:
    """Make the previews and give every file its name. Blocking.

    Returns the scan's hidden folder (its name is the scan's), files and previews.
    """
    previews = _make_previews(pages, work / "previews", color, turned)
    scan_dir, targets = _claim(folder, outputs, name)
    stored_previews = []
    for preview in previews:
        stored = scan_dir / preview.name
        preview.rename(stored)
        stored_previews.append(stored)
    files = tuple(
        StoredFile(
            path,
            path.stat().st_size,
            mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        )
        for path in targets
    )
    return scan_dir, files, tuple(stored_previews)


def _as_delivered(pages: Sequence[ScannedPage], work: Path) -> list[Path]:
    """Name the page files as a document's: one file per page, in its own format.

    In a folder of their own: a failed assembly may have left some of its files.
    """
    folder = work / "delivered"
    folder.mkdir()
    outputs = []
    for page in pages:
        number = "" if len(pages) == 1 else f"-{page.index:03d}"
        output = folder / f"{_WORK_STEM}{number}{page.path.suffix}"
        _link(page.path, output)
        outputs.append(output)
    return outputs


def _write_manifest(scan: StoredScan) -> None:
    """Write `scan.json` under a temporary name, then rename it: the scan now exists."""
    manifest = scan.folder / SCANS_DIR / scan.name / MANIFEST
    partial = manifest.with_suffix(".part")
    partial.write_text(json.dumps(scan.to_manifest()), encoding="utf-8")
    partial.replace(manifest)


def _turn(outputs: list[Path], indices: list[int], one_pdf: bool) -> None:
    """Turn the pages at `indices` upside down: in one PDF, or each its own file."""
    if one_pdf:
        turn_upside_down(outputs[0], indices)
    else:
        for index in indices:
            turn_upside_down(outputs[index])


def _make_previews(
    pages: Sequence[ScannedPage],
    folder: Path,
    color: ColorMode,
    turned: Collection[Path],
) -> list[Path]:
    """Write a preview of each page that has one (PDF pages have none), turned as asked."""
    folder.mkdir()
    previews = []
    for page in pages:
        try:
            preview = preview_page(
                page.path, folder / f"page-{page.index:03d}", color=color
            )
        except WsdError as err:
            # The document holds the page; only its preview is missing.
            _LOGGER.warning("No preview of page %d: %s", page.index, err)
            continue
        if preview is not None:
            if page.path in turned:
                turn_upside_down(preview)
            previews.append(preview)
    return previews


def _claim(folder: Path, outputs: list[Path], name: str) -> tuple[Path, list[Path]]:
    """Give the outputs the first free name (name, name-2, …); return its files.

    The scan's hidden folder is created first (mkdir is atomic), then each file is
    linked under its name; a name taken by any file is released and the next tried.
    """
    scans = folder / SCANS_DIR
    scans.mkdir(parents=True, exist_ok=True)
    for number in range(1, _MAX_SUFFIX):
        stem = name if number == 1 else f"{name}-{number}"
        scan_dir = scans / stem
        try:
            scan_dir.mkdir()
        except FileExistsError:
            continue
        linked: list[Path] = []
        for output in outputs:
            target = folder / (stem + output.name.removeprefix(_WORK_STEM))
            if not _link(output, target):
                break
            linked.append(target)
        else:
            return scan_dir, linked
        for target in linked:
            target.unlink()
        scan_dir.rmdir()
    raise OSError(errno.EEXIST, "no free file name", str(folder / name))
