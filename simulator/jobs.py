"""Scan jobs: the WS-Scan job state machine and its XML shapes (Scan Service spec: CreateScanJob, RetrieveImage, CancelJob, JobStatus)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from .elements import timestamp
from .pages import PageSpec, huge_image_geometry
from .soap import SCAN, sub
from .ticket import MediaSide, ScanTicket, write_document_parameters

TERMINAL_STATES = frozenset({"Completed", "Aborted", "Canceled"})
UNCOMPRESSED_FORMATS = frozenset(
    {"dib", "tiff-single-uncompressed", "tiff-multi-uncompressed"}
)
HUGE_FORMATS = frozenset({"dib", "tiff-single-uncompressed"})
_BITS = {
    "BlackAndWhite1": 1,
    "Grayscale4": 4,
    "Grayscale8": 8,
    "Grayscale16": 16,
    "RGB24": 24,
}


@dataclass(frozen=True)
class ImageGeometry:
    """Pixel size of the images of one side."""

    pixels_per_line: int
    lines: int
    bytes_per_line: int


def side_geometry(ticket: ScanTicket, side: MediaSide) -> ImageGeometry:
    """Compute the final image size of one side (region × resolution × scaling, rotated)."""
    assert side.region is not None and side.resolution is not None
    scale_w, scale_h = ticket.scaling or (100, 100)
    width = max(1, side.region.width * side.resolution[0] * scale_w // 100_000)
    height = max(1, side.region.height * side.resolution[1] * scale_h // 100_000)
    if ticket.rotation in (90, 270):
        width, height = height, width
    bytes_per_line = 0
    if ticket.format in UNCOMPRESSED_FORMATS:
        bytes_per_line = (width * _BITS.get(side.color or "RGB24", 24) + 7) // 8
    return ImageGeometry(width, height, bytes_per_line)


@dataclass
class Job:
    """One scan job and everything the device remembers about it."""

    id: int
    token: str
    ticket: ScanTicket
    planned: list[PageSpec]
    created: datetime
    scan_identifier: str | None = None
    huge_bytes: int | None = None
    state: str = "Pending"
    reasons: list[str] = field(default_factory=list)
    delivered: int = 0
    document_names: list[str] = field(default_factory=list)
    completed: datetime | None = None
    end_of_feeder_image_sent: bool = False
    timer: asyncio.TimerHandle | None = None

    @property
    def terminal(self) -> bool:
        """Whether the job reached Completed, Aborted or Canceled."""
        return self.state in TERMINAL_STATES

    @property
    def multi_page(self) -> bool:
        """Whether one RetrieveImage returns every page."""
        return (self.ticket.format or "").startswith(
            "tiff-multi"
        ) or self.ticket.format in (
            "pdf-a",
            "xps",
        )

    @property
    def remaining(self) -> list[PageSpec]:
        """Pages scanned but not yet transferred."""
        return self.planned[self.delivered :]

    def front_geometry(self) -> ImageGeometry:
        """Image size of front sides (huge pages included)."""
        assert self.ticket.front is not None
        geometry = side_geometry(self.ticket, self.ticket.front)
        if self.huge_bytes is None:
            return geometry
        channels = 3 if self.ticket.front.color == "RGB24" else 1
        width, lines = huge_image_geometry(
            geometry.pixels_per_line, channels, self.huge_bytes
        )
        return ImageGeometry(width, lines, width * channels)

    def write_status(self, parent: etree._Element) -> None:
        """Append JobStatus."""
        node = sub(parent, SCAN, "JobStatus")
        sub(node, SCAN, "JobId", self.id)
        sub(node, SCAN, "JobState", self.state)
        reasons = sub(node, SCAN, "JobStateReasons")
        for reason in self.reasons or ["None"]:
            sub(reasons, SCAN, "JobStateReason", reason)
        sub(node, SCAN, "ScansCompleted", self.delivered)
        sub(node, SCAN, "JobCreatedTime", timestamp(self.created))
        if self.completed is not None:
            sub(node, SCAN, "JobCompletedTime", timestamp(self.completed))

    def write_summary(self, parent: etree._Element) -> None:
        """Append JobSummary."""
        node = sub(parent, SCAN, "JobSummary")
        sub(node, SCAN, "JobId", self.id)
        sub(node, SCAN, "JobName", self.ticket.job_name)
        sub(node, SCAN, "JobOriginatingUserName", self.ticket.user_name)
        sub(node, SCAN, "JobState", self.state)
        reasons = sub(node, SCAN, "JobStateReasons")
        for reason in self.reasons or ["None"]:
            sub(reasons, SCAN, "JobStateReason", reason)
        sub(node, SCAN, "ScansCompleted", self.delivered)

    def write_end_state(self, parent: etree._Element) -> None:
        """Append JobEndState."""
        node = sub(parent, SCAN, "JobEndState")
        sub(node, SCAN, "JobId", self.id)
        sub(node, SCAN, "JobCompletedState", self.state)
        reasons = sub(node, SCAN, "JobCompletedStateReasons")
        for reason in self.reasons or ["None"]:
            sub(reasons, SCAN, "JobStateReason", reason)
        sub(node, SCAN, "JobName", self.ticket.job_name)
        sub(node, SCAN, "JobOriginatingUserName", self.ticket.user_name)
        sub(node, SCAN, "ScansCompleted", self.delivered)
        if self.completed is not None:
            sub(node, SCAN, "JobCompletedTime", timestamp(self.completed))

    def write_image_information(self, parent: etree._Element) -> None:
        """Append ImageInformation (front, and back for duplex)."""
        node = sub(parent, SCAN, "ImageInformation")
        sides = [("MediaFrontImageInfo", self.front_geometry())]
        if self.ticket.input_source == "ADFDuplex":
            back = self.ticket.back
            sides.append(
                (
                    "MediaBackImageInfo",
                    self.front_geometry()
                    if back is None
                    else side_geometry(self.ticket, back),
                )
            )
        for local, geometry in sides:
            info = sub(node, SCAN, local)
            sub(info, SCAN, "PixelsPerLine", geometry.pixels_per_line)
            sub(info, SCAN, "NumberOfLines", geometry.lines)
            sub(info, SCAN, "BytesPerLine", geometry.bytes_per_line)

    def write_documents(self, parent: etree._Element) -> None:
        """Append Documents: the final parameters and one Document per transfer."""
        node = sub(parent, SCAN, "Documents")
        write_document_parameters(node, self.ticket, element="DocumentFinalParameters")
        for name in self.document_names:
            document = sub(node, SCAN, "Document")
            sub(sub(document, SCAN, "DocumentDescription"), SCAN, "DocumentName", name)
