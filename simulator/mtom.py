"""MTOM/XOP multipart framing for RetrieveImage, correct or with real devices' bugs."""

from __future__ import annotations

from dataclasses import dataclass
import uuid

from .quirks import Quirk

CRLF = b"\r\n"


@dataclass(frozen=True)
class MultipartFraming:
    """The MIME envelope around one SOAP root part and one binary part."""

    boundary: str
    root_cid: str
    image_cid: str
    quirks: frozenset[Quirk]

    @classmethod
    def create(cls, host: str, quirks: frozenset[Quirk]) -> MultipartFraming:
        """Return framing with fresh boundary and content ids."""
        token = uuid.uuid4().hex
        return cls(
            boundary=f"MIMEBoundary_{token}",
            root_cid=f"root.{token}@{host}",
            image_cid=f"image.{token}@{host}",
            quirks=quirks,
        )

    @property
    def include_href(self) -> str:
        """The `href` of the xop:Include in the root part."""
        if Quirk.MIME_NO_INCLUDE_CID in self.quirks:
            return "cid:scan-data"
        return f"cid:{self.image_cid}"

    @property
    def content_type(self) -> str:
        """The HTTP Content-Type header value."""
        if Quirk.MIME_UNQUOTED_PARAMETERS in self.quirks:
            return (
                f"Multipart/Related; type=application/xop+xml; boundary={self.boundary}; "
                f"start=<{self.root_cid}>; startinfo=application/soap+xml"
            )
        return (
            f'multipart/related; type="application/xop+xml"; boundary="{self.boundary}"; '
            f'start="<{self.root_cid}>"; start-info="application/soap+xml"'
        )

    def _headers(self, headers: list[tuple[str, str]]) -> bytes:
        separator = ":" if Quirk.MIME_HEADER_NO_SPACE in self.quirks else ": "
        return b"".join(
            f"{name}{separator}{value}".encode() + CRLF for name, value in headers
        )

    def _delimiter(self, *, first: bool = False, last: bool = False) -> bytes:
        lead = (
            b"" if first or Quirk.MIME_NO_CRLF_BEFORE_BOUNDARY in self.quirks else CRLF
        )
        return lead + f"--{self.boundary}".encode() + (b"--" if last else b"") + CRLF

    def head(self, soap_part: bytes, image_type: str) -> bytes:
        """Everything before the image bytes: root part and the image part headers."""
        image_headers = [
            ("Content-Type", image_type),
            ("Content-Transfer-Encoding", "binary"),
        ]
        if Quirk.MIME_NO_INCLUDE_CID not in self.quirks:
            image_headers.append(("Content-ID", f"<{self.image_cid}>"))
        return (
            self._delimiter(first=True)
            + self._headers(
                [
                    (
                        "Content-Type",
                        'application/xop+xml; charset=UTF-8; type="application/soap+xml"',
                    ),
                    ("Content-Transfer-Encoding", "binary"),
                    ("Content-ID", f"<{self.root_cid}>"),
                ]
            )
            + CRLF
            + soap_part
            + self._delimiter()
            + self._headers(image_headers)
            + CRLF
        )

    def tail(self) -> bytes:
        """Return the closing delimiter that follows the image bytes."""
        return self._delimiter(last=True)
