"""Device quirk table: what particular models need beyond the generic tolerances.

Most deviations of real devices are handled for every device (faults in HTTP 200, end of
feeder variants, sloppy MIME framing, swapped sizes): those cost nothing when a device
behaves. The few here would be wrong for other devices, so they apply only to the models
named, matched on the manufacturer and model name of the device's DPWS metadata.
`quirks_for` returns the active ones; the ticket builder and the job runner consult them,
and Home Assistant's diagnostics and `scripts/wsd info` show their names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Final


@dataclass(frozen=True, slots=True)
class DeviceQuirks:
    """The quirks active for one device (all off by default)."""

    #: Names of the table entries that matched, for diagnostics.
    names: tuple[str, ...] = ()
    #: ImagesToTransfer sent for feeder jobs instead of 0 ("until the feeder is empty");
    #: the job still runs until the device ends the batch.
    feeder_images: int | None = None
    #: Highest resolution a colour scan may ask for.
    max_color_resolution: int | None = None
    #: Device formats not to ask for above a resolution: {format: highest resolution}.
    format_resolution_limits: dict[str, int] = field(default_factory=dict)

    def format_allowed(self, device_format: str, resolution: int) -> bool:
        """Whether `device_format` works at `resolution` on this device."""
        limit = self.format_resolution_limits.get(device_format)
        return limit is None or resolution <= limit


NO_QUIRKS: Final = DeviceQuirks()


@dataclass(frozen=True, slots=True)
class _Entry:
    """One row of the table: which devices, and what they need."""

    name: str
    manufacturer: re.Pattern[str]
    model: re.Pattern[str]
    feeder_images: int | None = None
    max_color_resolution: int | None = None
    format_resolution_limits: tuple[tuple[str, int], ...] = ()

    def matches(self, manufacturer: str, model: str) -> bool:
        return bool(self.manufacturer.search(manufacturer) and self.model.search(model))


def _pattern(expression: str) -> re.Pattern[str]:
    return re.compile(expression, re.IGNORECASE)


QUIRK_TABLE: Final = (
    # Ricoh Aficio MP 201 scans one sheet when ImagesToTransfer is 0 on the feeder;
    # sane-airscan sends 100 (sane-airscan #334, commit fb129ac).
    _Entry(
        "feeder_images_to_transfer_100",
        _pattern(r"ricoh"),
        _pattern(r"\bmp\s*201(?!\d)"),
        feeder_images=100,
    ),
    # Samsung M288x fails tiff-single-uncompressed scans above 150 dpi while JPEG works
    # (Tobag/wsd-scan device notes); the ticket then asks for another format.
    _Entry(
        "uncompressed_tiff_up_to_150_dpi",
        _pattern(r"samsung"),
        _pattern(r"\bm\s*288"),
        format_resolution_limits=(("tiff-single-uncompressed", 150),),
    ),
    # Canon iR2625/iR2630 advertise 600 dpi but scan colour only up to 300 dpi
    # (400/600 dpi are black and white only; sane-airscan #57).
    _Entry(
        "color_up_to_300_dpi",
        _pattern(r"canon"),
        _pattern(r"\bir\s*-?\s*26(25|30)"),
        max_color_resolution=300,
    ),
)


def quirks_for(manufacturer: str | None, model: str | None) -> DeviceQuirks:
    """Return the quirks of the device with this manufacturer and model name."""
    entries = [
        entry for entry in QUIRK_TABLE if entry.matches(manufacturer or "", model or "")
    ]
    if not entries:
        return NO_QUIRKS
    return DeviceQuirks(
        names=tuple(entry.name for entry in entries),
        feeder_images=next(
            (e.feeder_images for e in entries if e.feeder_images is not None), None
        ),
        max_color_resolution=min(
            (e.max_color_resolution for e in entries if e.max_color_resolution),
            default=None,
        ),
        format_resolution_limits=dict(
            limit for entry in entries for limit in entry.format_resolution_limits
        ),
    )
