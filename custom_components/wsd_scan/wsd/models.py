"""Typed models shared by the wsd library's modules.

Sections: identity and discovery, device metadata, images. The scanning and eventing models
follow below them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# --- identity and discovery ---------------------------------------------------------------

_UUID_PREFIXES = ("urn:uuid:", "uuid:")


def normalize_uuid(address: str) -> str:
    """Normalise an endpoint reference address to its bare, lower-case UUID.

    Devices write `urn:uuid:…`, `uuid:…` (WS-Discovery's own examples; Epson firmware) or
    upper case; Home Assistant keys devices by this value, so every form must agree.
    """
    value = address.strip().lower()
    for prefix in _UUID_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


@dataclass(frozen=True, slots=True)
class AppSequence:
    """WS-Discovery AppSequence: a higher instance id means the device restarted."""

    instance_id: int
    message_number: int
    sequence_id: str | None = None


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """A WSD device seen in a ProbeMatch, ResolveMatch or Hello."""

    uuid: str
    types: frozenset[tuple[str, str]]
    xaddrs: tuple[str, ...]
    metadata_version: int | None = None
    app_sequence: AppSequence | None = None
    #: The address the answer came from (tried first among the XAddrs).
    source_address: str | None = None

    @property
    def is_scanner(self) -> bool:
        """Whether the device advertises the WS-Scan device type."""
        return any(local == "ScanDeviceType" for _, local in self.types)


# --- device metadata ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostedService:
    """A service hosted by the device (DPWS Relationship/Hosted)."""

    service_id: str | None
    types: frozenset[tuple[str, str]]
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a device says about itself (DPWS ThisModel, ThisDevice, Hosted)."""

    uuid: str
    manufacturer: str | None = None
    model: str | None = None
    model_number: str | None = None
    friendly_name: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    presentation_url: str | None = None
    manufacturer_url: str | None = None
    scan_service_url: str | None = None
    services: tuple[HostedService, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        """A display name: the friendly name, else manufacturer and model."""
        if self.friendly_name:
            return self.friendly_name
        parts = [p for p in (self.manufacturer, self.model) if p]
        return " ".join(parts) or self.uuid


# --- images ---------------------------------------------------------------------------------


class ImageFormat(StrEnum):
    """Image formats as sniffed from their bytes (never trusted from the device's word)."""

    JPEG = "jpeg"
    PNG = "png"
    TIFF = "tiff"
    BMP = "bmp"
    PDF = "pdf"
    UNKNOWN = "unknown"

    @property
    def extension(self) -> str:
        """The usual file extension, without the dot."""
        return {"jpeg": "jpg", "unknown": "bin"}.get(self.value, self.value)

    @property
    def mime_type(self) -> str:
        """The MIME type."""
        return {
            "jpeg": "image/jpeg",
            "png": "image/png",
            "tiff": "image/tiff",
            "bmp": "image/bmp",
            "pdf": "application/pdf",
        }.get(self.value, "application/octet-stream")
