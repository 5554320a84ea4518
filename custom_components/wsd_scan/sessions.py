"""Multi-pass sessions: several scans (passes) of one scanner that become one document.

A session lives in the scanner's folder of the scan library, hidden like the scans'
own folders:

    .sessions/<id>/session.json       the document's settings and the passes so far;
                                      written again (atomically) after every pass
    .sessions/<id>/pass-1/page-001.jpg  each pass's pages, as the scanner sent them

Pages stay files, so memory does not grow with the passes. Finishing assembles every
pass's pages, in order, into one document of the library (storage.py), then removes
the folder. A session folder left by a restart is taken up again when the scanner is set
up (finished at once when its time is up): its pages are never lost.

Manual duplex is a session of two passes through a simplex feeder: the fronts, then the
stack turned over. The backs come last sheet first and go between the fronts
(`interleave_backs`), turned by 180° when asked (some feeders take the turned stack
bottom edge first).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
import json
import logging
from pathlib import Path
import shutil
from typing import Any, Final
import uuid

from .const import Destination
from .paperless import PaperlessFields
from .storage import plain_name
from .wsd import ColorMode, DocumentFormat, ImageFormat, ScannedPage
from .wsd.document import interleave_backs, sniff_image_format

_LOGGER = logging.getLogger(__name__)

SESSIONS_DIR: Final = ".sessions"
SESSION_MANIFEST: Final = "session.json"
#: How long a session stays open after its last pass (a manual duplex scan waits this
#: long for the backs); then it is stored as it is.
SESSION_TIMEOUT: Final = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class SessionPass:
    """One scan of a session: its pages, and whether the scan ended well."""

    pages: tuple[ScannedPage, ...]
    complete: bool
    duration: float


@dataclass(frozen=True, slots=True)
class SessionProgress:
    """What Home Assistant shows of an open session."""

    passes: int
    pages: int
    #: When the session is stored as it is, unless a pass or finish comes first.
    expires: datetime
    #: A manual duplex scan has its fronts and waits for the stack turned over.
    waiting_for_backs: bool


@dataclass(frozen=True, slots=True)
class SessionDocument:
    """The pages a session's document holds, in order, and those to turn by 180°."""

    pages: list[ScannedPage]
    turned: frozenset[Path]


@dataclass(slots=True, kw_only=True)
class ScanSession:
    """An open session: its folder, the settings of its document, its passes."""

    folder: Path
    #: The document's file name (rendered when the session started).
    name: str
    #: The endpoint UUID of the scanner.
    scanner: str
    created: datetime
    expires: datetime
    document_format: DocumentFormat
    resolution: int
    color: ColorMode
    destination: Destination
    skip_blank: int | None
    paperless_fields: PaperlessFields = PaperlessFields()
    manual_duplex: bool = False
    rotate_backs: bool = False
    passes: list[SessionPass] = field(default_factory=list)
    #: Stored or given up (a timer may still hold it).
    closed: bool = False

    @classmethod
    def new(cls, scanner_folder: Path, **settings: Any) -> ScanSession:
        """Return a session (not yet on disk) in a scanner's folder."""
        folder = scanner_folder / SESSIONS_DIR / uuid.uuid4().hex
        return cls(folder=folder, **settings)

    @property
    def pages(self) -> int:
        """The pages scanned so far."""
        return sum(len(scan.pages) for scan in self.passes)

    @property
    def waiting_for_backs(self) -> bool:
        """Whether this manual duplex scan has its fronts only."""
        return self.manual_duplex and len(self.passes) == 1

    @property
    def complete(self) -> bool:
        """Whether every pass ended well."""
        return all(scan.complete for scan in self.passes)

    @property
    def duration(self) -> float:
        """Seconds spent scanning, over every pass."""
        return round(sum(scan.duration for scan in self.passes), 3)

    def progress(self) -> SessionProgress:
        """Return what Home Assistant shows of the session."""
        return SessionProgress(
            len(self.passes), self.pages, self.expires, self.waiting_for_backs
        )

    def next_pass_folder(self) -> Path:
        """Return the folder the next pass's pages are written to."""
        return self.folder / f"pass-{len(self.passes) + 1}"

    def document(self) -> SessionDocument:
        """Return the document's pages: the passes in order, or fronts and backs.

        The pages are numbered anew (their previews are named after their number).
        Raises `WsdError` (INVALID_ARGUMENT) when the backs of a manual duplex scan
        are not as many as its fronts.
        """
        if self.manual_duplex and len(self.passes) == 2:
            fronts, backs = (scan.pages for scan in self.passes)
            pages = interleave_backs(fronts, backs)
            turned = frozenset(page.path for page in backs if self.rotate_backs)
        else:
            pages = [page for scan in self.passes for page in scan.pages]
            turned = frozenset()
        return SessionDocument(
            [
                ScannedPage(number, page.path, page.format, page.size)
                for number, page in enumerate(pages, start=1)
            ],
            turned,
        )

    def save(self) -> None:
        """Write `session.json` under a temporary name, then rename it. Blocking."""
        self.folder.mkdir(parents=True, exist_ok=True)
        manifest = self.folder / SESSION_MANIFEST
        partial = manifest.with_suffix(".part")
        partial.write_text(json.dumps(self.to_manifest()), encoding="utf-8")
        partial.replace(manifest)

    def adopt_cut_off_pass(self) -> None:
        """Add the pages of a pass a crash cut off, if any, as a failed pass. Blocking.

        The library gives a page file its name only once it is complete.
        """
        files = sorted(
            path
            for path in self.next_pass_folder().glob("page-*")
            if path.suffix != ".part"
        )
        if not files:
            return
        pages = []
        for number, path in enumerate(files, start=1):
            with path.open("rb") as file:
                image_format = sniff_image_format(file.read(16))
            pages.append(ScannedPage(number, path, image_format, path.stat().st_size))
        _LOGGER.info(
            "Keeping %d pages of a scan cut off in %s", len(pages), self.folder
        )
        self.passes.append(SessionPass(tuple(pages), complete=False, duration=0.0))
        self.save()

    def remove(self) -> None:
        """Remove the session's folder and its pages. Blocking."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def to_manifest(self) -> dict[str, Any]:
        """Return what `session.json` holds (page files relative to the folder)."""
        return {
            "name": self.name,
            "scanner": self.scanner,
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat(),
            "format": self.document_format.value,
            "resolution": self.resolution,
            "color": self.color.value,
            "destination": self.destination.value,
            "skip_blank": self.skip_blank,
            "paperless": asdict(self.paperless_fields),
            "manual_duplex": self.manual_duplex,
            "rotate_backs": self.rotate_backs,
            "passes": [
                {
                    "pages": [
                        {
                            "file": page.path.relative_to(self.folder).as_posix(),
                            "format": page.format.value,
                            "size": page.size,
                        }
                        for page in scan.pages
                    ],
                    "complete": scan.complete,
                    "duration": scan.duration,
                }
                for scan in self.passes
            ],
        }

    @classmethod
    def from_manifest(cls, folder: Path, data: dict[str, Any]) -> ScanSession:
        """Read a `session.json`; raises KeyError, TypeError or ValueError if malformed."""
        return cls(
            folder=folder,
            name=plain_name(data["name"]),
            scanner=str(data["scanner"]),
            created=datetime.fromisoformat(data["created"]),
            expires=datetime.fromisoformat(data["expires"]),
            document_format=DocumentFormat(data["format"]),
            resolution=int(data["resolution"]),
            color=ColorMode(data["color"]),
            destination=Destination(data["destination"]),
            skip_blank=None if data["skip_blank"] is None else int(data["skip_blank"]),
            paperless_fields=PaperlessFields.from_config(
                data["paperless"], str(data["paperless"]["profile"])
            ),
            manual_duplex=bool(data["manual_duplex"]),
            rotate_backs=bool(data["rotate_backs"]),
            passes=[
                SessionPass(
                    tuple(
                        ScannedPage(
                            number,
                            folder / _pass_file(page["file"]),
                            ImageFormat(page["format"]),
                            int(page["size"]),
                        )
                        for number, page in enumerate(scan["pages"], start=1)
                    ),
                    bool(scan["complete"]),
                    float(scan["duration"]),
                )
                for scan in data["passes"]
            ],
        )


def _pass_file(name: object) -> str:
    """Return `pass-N/<file>` if that is what `name` is (a manifest may be edited)."""
    if not isinstance(name, str) or name.count("/") != 1:
        raise ValueError(f"not a page of a pass: {name!r}")
    folder, file = name.split("/")
    if not folder.startswith("pass-") or not folder[5:].isdecimal():
        raise ValueError(f"not a page of a pass: {name!r}")
    return f"{folder}/{plain_name(file)}"


def load_sessions(scanner_folder: Path, scanner: str) -> list[ScanSession]:
    """Return the sessions a scanner left in its folder, oldest first. Blocking.

    A folder whose manifest cannot be read is left alone (its pages stay on disk). The
    pages of a pass cut off by a crash join their session.
    """
    sessions = []
    for manifest in (scanner_folder / SESSIONS_DIR).glob(f"*/{SESSION_MANIFEST}"):
        try:
            session = ScanSession.from_manifest(
                manifest.parent, json.loads(manifest.read_bytes())
            )
        except (OSError, KeyError, TypeError, ValueError) as err:
            _LOGGER.warning("Cannot read the scan session in %s: %s", manifest, err)
            continue
        if session.scanner != scanner:
            continue
        try:
            session.adopt_cut_off_pass()
        except OSError as err:
            _LOGGER.warning(
                "Cannot keep the pages cut off in %s: %s", session.folder, err
            )
        sessions.append(session)
    return sorted(sessions, key=lambda session: session.created)
