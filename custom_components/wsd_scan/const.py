"""Constants of the WSD Scan integration."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DOMAIN: Final = "wsd_scan"

# Config entry data: CONF_HOST (homeassistant.const; how the user or discovery reached the
# scanner: host, host:port or a device URL) and the XAddrs. The entry's unique id is the
# scanner's normalised endpoint UUID.
#: The device's transport addresses (WS-Discovery XAddrs), best first.
CONF_XADDRS: Final = "xaddrs"

# Options.
#: Seconds between GetScannerElements(ScannerStatus) polls while push does not work.
CONF_POLL_INTERVAL: Final = "poll_interval"
#: Base URL the scanner posts WS-Eventing notifications to (HA behind NAT/containers).
CONF_CALLBACK_URL: Final = "callback_url"
#: Whether a scan started by the Scan button or on the panel shows a notification.
CONF_NOTIFY_SCANS: Final = "notify_scans"
#: Default scan settings (the Scan button, panel scans, actions without arguments).
CONF_SOURCE: Final = "source"
CONF_FORMAT: Final = "format"
CONF_RESOLUTION: Final = "resolution"
CONF_COLOR: Final = "color"
CONF_PAPER: Final = "paper"

#: Panel profiles ("Scan to Home Assistant" entries): a list of dicts with CONF_PROFILE_ID,
#: CONF_NAME (the ClientDisplayName) and the scan settings keys above. Absent: one default
#: profile with the entry's default settings.
CONF_PROFILES: Final = "profiles"
#: A profile's stable id: the ClientContext the scanner echoes when it is chosen.
CONF_PROFILE_ID: Final = "id"

#: The post-scan endpoint (WS-DSP), a dict of the keys below; absent: none.
CONF_POST_SCAN: Final = "post_scan"
#: Its URL, or a host found by directed probe and metadata.
CONF_ENDPOINT: Final = "endpoint"
CONF_USER_IDENTIFIER: Final = "user_identifier"
CONF_SCAN_PROCESS_ID: Final = "scan_process_id"
#: DocumentRootName; the scan's file name when absent.
CONF_DOCUMENT_ROOT: Final = "document_root_name"
CONF_FILTERS: Final = "filters"
CONF_CA_FILE: Final = "ca_file"
CONF_VERIFY_TLS: Final = "verify_tls"
#: The Paperless-ngx server, a dict of CONF_URL, CONF_TOKEN (homeassistant.const),
#: CONF_TAGS (tags given to every document) and CONF_CREATE_MISSING; absent: none. In a
#: profile: what its documents are given, a dict of CONF_TITLE, CONF_TAGS,
#: CONF_CORRESPONDENT and CONF_DOCUMENT_TYPE. A tag, correspondent or document type is
#: stored as its id (a number) or its name (text, looked up).
CONF_PAPERLESS: Final = "paperless"
CONF_TAGS: Final = "tags"
#: Whether tags, correspondents and document types named but missing are created.
CONF_CREATE_MISSING: Final = "create_missing"
#: The documents' title, a template (paperless.TITLE_PLACEHOLDERS).
CONF_TITLE: Final = "title"
CONF_CORRESPONDENT: Final = "correspondent"
CONF_DOCUMENT_TYPE: Final = "document_type"
#: Blank pages are left out of a profile's scans at this sensitivity (0–100); absent: kept.
CONF_SKIP_BLANK: Final = "skip_blank"
#: Where a profile's scans go (a `Destination`).
CONF_DESTINATION: Final = "destination"


class Destination(StrEnum):
    """Where a scan goes: the media library, the post-scan endpoint, Paperless-ngx."""

    MEDIA = "media"
    POST_SCAN = "post_scan"
    #: The media library and the post-scan endpoint.
    BOTH = "both"
    PAPERLESS = "paperless"
    MEDIA_AND_PAPERLESS = "media_and_paperless"

    @property
    def keeps_media(self) -> bool:
        """Whether the scan stays in the media library once handed over."""
        return self in {
            Destination.MEDIA,
            Destination.BOTH,
            Destination.MEDIA_AND_PAPERLESS,
        }


DEFAULT_POLL_INTERVAL: Final = 30
DEFAULT_SOURCE: Final = "auto"
DEFAULT_FORMAT: Final = "pdf"
DEFAULT_RESOLUTION: Final = 300
DEFAULT_COLOR: Final = "color"
DEFAULT_PAPER: Final = "a4"
DEFAULT_PROFILE_ID: Final = "home_assistant"
DEFAULT_PROFILE_NAME: Final = "Home Assistant"

#: Path of the HTTP view that receives WS-Eventing notifications; the last segment is the
#: (unguessable) subscription identifier.
NOTIFY_PATH: Final = "/api/wsd_scan/notify"

#: The source of a manual duplex scan: the fronts through the feeder, then the stack
#: turned over and the backs (a Home Assistant source: the scanner has a simplex feeder).
SOURCE_FEEDER_MANUAL_DUPLEX: Final = "feeder_manual_duplex"
#: Whether the backs of a manual duplex scan are turned by 180° (a profile's, the
#: options'): feeders that take the turned stack bottom edge first need it.
CONF_ROTATE_BACKS: Final = "rotate_backs"
#: A profile's step in a multi-pass session (a `SessionStep`); absent: none.
CONF_SESSION: Final = "session"
#: A profile's event type on the Scan button event entity: its name as a slug, fixed
#: when the profile is added (absent in profiles made before: their subentry id).
CONF_EVENT_TYPE: Final = "event_type"


class SessionStep(StrEnum):
    """A scan's step in a multi-pass session: one document of several passes."""

    #: Scan a pass and open the session (refused while one is open).
    START = "start"
    #: Scan a pass and add it (opens a session when none is).
    ADD = "add"
    #: Store the session's passes as one document; nothing is scanned.
    FINISH = "finish"


class WhenBusy(StrEnum):
    """What a scan asked for while the scanner is busy does."""

    #: Wait in the scanner's queue (bounded).
    QUEUE = "queue"
    #: Fail at once with the `busy` error.
    FAIL = "fail"


#: Fired when the fronts of a manual duplex scan are in: turn the stack over and scan
#: the backs (data: device_id, name, pages, expires).
EVENT_WAITING_FOR_BACKS: Final = "wsd_scan_waiting_for_backs"
