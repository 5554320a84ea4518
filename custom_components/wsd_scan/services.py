"""The `wsd_scan.scan` and `wsd_scan.cancel` actions.

Both target a scanner by its device. Settings left out come from the scanner's options;
the scan answers (when asked) with its pages, files and duration, or with the open
session after a session's pass (`session: start | add`, a manual duplex scan's fronts).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any, Final

from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, service
import probatio

from .const import (
    CONF_COLOR,
    CONF_CORRESPONDENT,
    CONF_DOCUMENT_TYPE,
    CONF_FORMAT,
    CONF_PAPER,
    CONF_RESOLUTION,
    CONF_ROTATE_BACKS,
    CONF_SESSION,
    CONF_SOURCE,
    CONF_TAGS,
    CONF_TITLE,
    DOMAIN,
    SOURCE_FEEDER_MANUAL_DUPLEX,
    Destination,
    SessionStep,
    WhenBusy,
)
from .media_source import file_media_id
from .models import WsdScanConfigEntry
from .paperless import TITLE_PLACEHOLDERS, PaperlessFields, check_title
from .profiles import Profile, entry_profiles, manual_duplex, options_request
from .runner import PassOutcome, ScanOutcome
from .storage import FILE_NAME_PLACEHOLDERS
from .wsd import ColorMode, DocumentFormat, PaperSize, ScanSettings, ScanSource, Size
from .wsd.blank import (
    DEFAULT_SENSITIVITY as DEFAULT_BLANK_SENSITIVITY,
    MAX_SENSITIVITY as MAX_BLANK_SENSITIVITY,
    MIN_SENSITIVITY as MIN_BLANK_SENSITIVITY,
)

SERVICE_SCAN: Final = "scan"
SERVICE_CANCEL: Final = "cancel"

ATTR_PROFILE: Final = "profile"
ATTR_WIDTH: Final = "width"
ATTR_HEIGHT: Final = "height"
ATTR_CONTENT_TYPE: Final = "content_type"
ATTR_QUALITY: Final = "quality"
ATTR_FILE_NAME: Final = "file_name"
ATTR_DESTINATION: Final = "destination"
#: Leave blank pages out, at this sensitivity (0–100).
ATTR_SKIP_BLANK: Final = "skip_blank"
ATTR_WHEN_BUSY: Final = "when_busy"
ATTR_PAPERLESS_TITLE: Final = "paperless_title"
ATTR_PAPERLESS_TAGS: Final = "paperless_tags"
ATTR_PAPERLESS_CORRESPONDENT: Final = "paperless_correspondent"
ATTR_PAPERLESS_DOCUMENT_TYPE: Final = "paperless_document_type"
#: What the documents get in Paperless-ngx, by the keys a profile stores them under.
PAPERLESS_FIELDS: Final = {
    ATTR_PAPERLESS_TITLE: CONF_TITLE,
    ATTR_PAPERLESS_TAGS: CONF_TAGS,
    ATTR_PAPERLESS_CORRESPONDENT: CONF_CORRESPONDENT,
    ATTR_PAPERLESS_DOCUMENT_TYPE: CONF_DOCUMENT_TYPE,
}


def _off(value: Any) -> None:
    """Accept `false` or `off` (YAML's false, or the text) and nothing else."""
    if value is not False and value != "off":
        raise probatio.Invalid("expected off")


def _on(value: Any) -> int:
    """Read `true` or `on` as the default sensitivity (an int would read true as 1)."""
    if value is not True and value != "on":
        raise probatio.Invalid("expected on")
    return DEFAULT_BLANK_SENSITIVITY


#: WS-Scan ContentType keywords by the action's values.
CONTENT_TYPES: Final = {
    "auto": "Auto",
    "text": "Text",
    "photo": "Photo",
    "mixed": "Mixed",
    "halftone": "Halftone",
}

SCAN_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(ATTR_DEVICE_ID): cv.string,
        probatio.Optional(CONF_SOURCE): probatio.In(
            [*ScanSource, SOURCE_FEEDER_MANUAL_DUPLEX]
        ),
        probatio.Optional(CONF_FORMAT): probatio.Coerce(DocumentFormat),
        probatio.Optional(CONF_RESOLUTION): probatio.All(
            probatio.Coerce(int), probatio.Range(min=50, max=4800)
        ),
        probatio.Optional(CONF_COLOR): probatio.Coerce(ColorMode),
        probatio.Optional(CONF_PAPER): probatio.Coerce(PaperSize),
        probatio.Inclusive(ATTR_WIDTH, "custom size"): probatio.All(
            probatio.Coerce(float), probatio.Range(min=10, max=1000)
        ),
        probatio.Inclusive(ATTR_HEIGHT, "custom size"): probatio.All(
            probatio.Coerce(float), probatio.Range(min=10, max=2000)
        ),
        probatio.Optional(ATTR_CONTENT_TYPE): probatio.In(CONTENT_TYPES),
        probatio.Optional(ATTR_QUALITY): probatio.All(
            probatio.Coerce(int), probatio.Range(min=1, max=100)
        ),
        probatio.Optional(ATTR_PROFILE): cv.string,
        probatio.Optional(ATTR_FILE_NAME): cv.string,
        probatio.Optional(ATTR_DESTINATION): probatio.Coerce(Destination),
        # `false`/`off` keeps every page whatever the options' default; `true`/`on`
        # skips at the default sensitivity.
        probatio.Optional(ATTR_SKIP_BLANK): probatio.Any(
            _off,
            _on,
            probatio.All(
                probatio.Coerce(int),
                probatio.Range(min=MIN_BLANK_SENSITIVITY, max=MAX_BLANK_SENSITIVITY),
            ),
            msg="expected a sensitivity (0 to 100), on or off",
        ),
        probatio.Optional(CONF_SESSION): probatio.Coerce(SessionStep),
        probatio.Optional(CONF_ROTATE_BACKS): cv.boolean,
        probatio.Optional(ATTR_WHEN_BUSY, default=WhenBusy.QUEUE): probatio.Coerce(
            WhenBusy
        ),
        probatio.Optional(ATTR_PAPERLESS_TITLE): cv.string,
        probatio.Optional(ATTR_PAPERLESS_TAGS): probatio.All(
            cv.ensure_list, [cv.string]
        ),
        probatio.Optional(ATTR_PAPERLESS_CORRESPONDENT): cv.string,
        probatio.Optional(ATTR_PAPERLESS_DOCUMENT_TYPE): cv.string,
    }
)
CANCEL_SCHEMA: Final = probatio.Schema({probatio.Required(ATTR_DEVICE_ID): cv.string})


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for every scanner)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_SCAN,
        _async_scan,
        schema=SCAN_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
        description_placeholders={
            "placeholders": FILE_NAME_PLACEHOLDERS,
            "title_placeholders": TITLE_PLACEHOLDERS,
        },
    )
    hass.services.async_register(
        DOMAIN, SERVICE_CANCEL, _async_cancel, schema=CANCEL_SCHEMA
    )


def _entry(call: ServiceCall) -> WsdScanConfigEntry:
    """Return the entry of the scanner the call targets (loaded, of this domain)."""
    entry: WsdScanConfigEntry
    _device, entry = service.async_get_device_and_config_entry(
        call.hass, DOMAIN, call.data[ATTR_DEVICE_ID]
    )
    return entry


def _scan_settings(data: dict[str, Any], defaults: ScanSettings) -> ScanSettings:
    """Return the defaults with what the action's data sets."""
    changes: dict[str, Any] = {
        key: data[key]
        for key in (CONF_FORMAT, CONF_RESOLUTION, CONF_COLOR, ATTR_QUALITY)
        if key in data
    }
    if CONF_SOURCE in data:
        changes["source"] = (
            ScanSource.FEEDER
            if data[CONF_SOURCE] == SOURCE_FEEDER_MANUAL_DUPLEX
            else ScanSource(data[CONF_SOURCE])
        )
    if ATTR_WIDTH in data:
        changes["paper"] = Size.from_mm(data[ATTR_WIDTH], data[ATTR_HEIGHT])
    elif CONF_PAPER in data:
        changes["paper"] = data[CONF_PAPER]
    if ATTR_CONTENT_TYPE in data:
        changes["content_type"] = CONTENT_TYPES[data[ATTR_CONTENT_TYPE]]
    return replace(defaults, **changes)


def _paperless_fields(data: dict[str, Any], base: PaperlessFields) -> PaperlessFields:
    """Return `base` with the Paperless-ngx fields the action's data sets."""
    given = {
        key: data[field] for field, key in PAPERLESS_FIELDS.items() if field in data
    }
    explicit = PaperlessFields.from_config(given)
    return replace(base, **{key: getattr(explicit, key) for key in given})


def _profile(entry: WsdScanConfigEntry, wanted: str) -> Profile:
    """Return the scanner's panel profile named `wanted` (any case), or with that id."""
    profiles = entry_profiles(entry)
    for profile in profiles:
        if wanted == profile.profile_id or (
            profile.name.casefold() == wanted.strip().casefold()
        ):
            return profile
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="unknown_profile",
        translation_placeholders={
            "profile": wanted,
            "profiles": ", ".join(profile.name for profile in profiles),
        },
    )


async def _async_scan(call: ServiceCall) -> ServiceResponse:
    """Scan on the targeted scanner and store the document in the media library.

    What the call leaves out comes from the panel profile it names, else from the
    scanner's options.
    """
    entry = _entry(call)
    data = dict(call.data)
    base = (
        _profile(entry, data[ATTR_PROFILE]).request
        if ATTR_PROFILE in data
        else options_request(entry.options)
    )
    request = replace(
        base,
        settings=_scan_settings(data, base.settings),
        file_name=data.get(ATTR_FILE_NAME, base.file_name),
        destination=data.get(ATTR_DESTINATION, base.destination),
        skip_blank=data.get(ATTR_SKIP_BLANK, base.skip_blank),
        paperless_fields=_paperless_fields(data, base.paperless_fields),
        session=data.get(CONF_SESSION, base.session),
        manual_duplex=manual_duplex(data)
        if CONF_SOURCE in data
        else base.manual_duplex,
        rotate_backs=data.get(CONF_ROTATE_BACKS, base.rotate_backs),
        when_busy=data[ATTR_WHEN_BUSY],
    )
    check_title(request.paperless_fields.title)
    outcome = await entry.runtime_data.runner.async_scan(request)
    if not call.return_response:
        return None
    if isinstance(outcome, PassOutcome):
        return _pass_response(outcome)
    return _scan_response(outcome)


def _pass_response(outcome: PassOutcome) -> dict[str, Any]:
    """Return the action's response data for a pass scanned into the open session."""
    session = outcome.session
    return {
        "pages": outcome.pages,
        "blank_pages_skipped": 0,
        "files": [],
        "duration": outcome.duration,
        "session": {
            "passes": session.passes,
            "pages": session.pages,
            "expires": session.expires.isoformat(),
            "waiting_for_backs": session.waiting_for_backs,
        },
    }


def _scan_response(outcome: ScanOutcome) -> dict[str, Any]:
    """Return the action's response data for a finished scan.

    `files` lists what the media library holds (nothing when the scan only went to the
    post-scan endpoint or Paperless-ngx); `post_scan` is there when the scan went to the
    endpoint, `paperless` (the documents made) when it went to Paperless-ngx, and
    `glass_instead_of_feeder` when `auto` found the feeder empty.
    """
    scan = outcome.scan
    response: dict[str, Any] = {
        "pages": scan.pages,
        "blank_pages_skipped": scan.blank_pages_skipped,
        "files": [
            {
                "path": str(file.path),
                "media_content_id": file_media_id(scan, file.path.name),
                "size": file.size,
                "mime_type": file.mime_type,
            }
            for file in (scan.files if outcome.kept else ())
        ],
        "duration": scan.duration,
    }
    if outcome.glass_instead_of_feeder:
        response["glass_instead_of_feeder"] = True
    if (post_scan := outcome.post_scan) is not None:
        response["post_scan"] = {
            "job_token": post_scan.job_token,
            "state": post_scan.state,
            "images_received": post_scan.images_received,
        }
    if outcome.paperless:
        response["paperless"] = [asdict(document) for document in outcome.paperless]
    return response


async def _async_cancel(call: ServiceCall) -> None:
    """Cancel the targeted scanner's running scan and the scans waiting for it."""
    runner = _entry(call).runtime_data.runner
    if not runner.busy:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_scanning",
            translation_placeholders={"name": runner.name},
        )
    runner.async_cancel()
