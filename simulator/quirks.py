"""Device deviations the simulator can switch on, each traced to the real device.

Each entry names its device and the public source that reports it: `sa:` = a
sane-airscan commit, `sa#` = a sane-airscan issue, or a capture in tests/captures/.
"""

from __future__ import annotations

from enum import StrEnum


class Quirk(StrEnum):
    """A switchable deviation from the specifications."""

    # --- faults and request checks ---
    FAULT_IN_HTTP_200 = "fault_in_http_200"
    STRICT_PREFIXES = "strict_prefixes"
    STRICT_WSA_TO = "strict_wsa_to"
    REQUIRE_JOB_INFORMATION = "require_job_information"
    PANEL_START_ONLY = "panel_start_only"
    CALIBRATING_WARMUP = "calibrating_warmup"
    HTTP_ERRORS_WITHOUT_SOAP = "http_errors_without_soap"
    ONE_REQUEST_PER_CONNECTION = "one_request_per_connection"
    # --- end of the feeder ---
    END_OF_FEEDER_JOB_ID_NOT_FOUND = "end_of_feeder_job_id_not_found"
    EMPTY_FEEDER_NOT_ACCEPTING_JOBS = "empty_feeder_not_accepting_jobs"
    END_OF_FEEDER_NOT_ACCEPTING_JOBS = "end_of_feeder_not_accepting_jobs"
    END_OF_FEEDER_EMPTY_IMAGE = "end_of_feeder_empty_image"
    ZERO_IMAGES_SCANS_ONE_SHEET = "zero_images_scans_one_sheet"
    # --- capabilities ---
    SWAPPED_MAX_SIZE = "swapped_max_size"
    DUPLEX_FLAG_FALSE = "duplex_flag_false"
    # --- image transfer ---
    SLOW_STREAMING = "slow_streaming"
    FORMAT_LIES = "format_lies"
    MIME_NO_CRLF_BEFORE_BOUNDARY = "mime_no_crlf_before_boundary"
    MIME_HEADER_NO_SPACE = "mime_header_no_space"
    MIME_UNQUOTED_PARAMETERS = "mime_unquoted_parameters"
    MIME_XOP_2003 = "mime_xop_2003"
    MIME_NO_INCLUDE_CID = "mime_no_include_cid"
    # --- discovery ---
    TWO_PROBE_MATCHES = "two_probe_matches"
    UUID_WITHOUT_URN = "uuid_without_urn"
    LATE_PROBE_ANSWER = "late_probe_answer"
    NO_XADDRS_IN_HELLO = "no_xaddrs_in_hello"
    # --- hostile responses ---
    HOSTILE_DTD_ENTITIES = "hostile_dtd_entities"
    HOSTILE_BILLION_LAUGHS = "hostile_billion_laughs"
    HOSTILE_OVERSIZED_BODY = "hostile_oversized_body"
    HOSTILE_TRUNCATED_MIME = "hostile_truncated_mime"
    HOSTILE_STALL_MID_BODY = "hostile_stall_mid_body"


QUIRK_ORIGINS: dict[Quirk, str] = {
    Quirk.FAULT_IN_HTTP_200: (
        "SOAP faults (also the end-of-feeder one) come with HTTP 200 — "
        "Lexmark MB2236adw, Xerox WorkCentre 3225 (sa:a75c96f, sa#103)"
    ),
    Quirk.STRICT_PREFIXES: (
        "requests must use Windows prefixes soap/wsa and sca or wscn, else a fault — "
        "Panasonic KV-S1058Y (sa:ac5e8f0), Brother ADS-2700W (sa#147)"
    ),
    Quirk.STRICT_WSA_TO: (
        "wsa:To must be the service URL (metadata Get: the device EPR), else a fault — "
        "HP LaserJet Pro MFP M125 (sa:8daaa8f)"
    ),
    Quirk.REQUIRE_JOB_INFORMATION: (
        "CreateScanJob without JobDescription/JobInformation faults InvalidArgs — "
        "Canon TR7500 (sa:ddb98c8, sa#34)"
    ),
    Quirk.PANEL_START_ONLY: (
        "client-initiated CreateScanJob faults ServerErrorNotAcceptingJobs; only "
        "panel-started (ScanAvailableEvent) jobs work — Kyocera in WSD mode (sa#258)"
    ),
    Quirk.CALIBRATING_WARMUP: (
        "the first CreateScanJob calls fault ServerErrorNotAcceptingJobs while the "
        "status says Calibrating — many devices after wake-up (airscan-wsd.c)"
    ),
    Quirk.HTTP_ERRORS_WITHOUT_SOAP: (
        "errors come as bare HTTP statuses with a text body instead of SOAP faults "
        "(busy → 503, refused request → 400/409, job or image gone → 404, else 500) — "
        "embedded web servers in front of the WSD stack; Kyocera answers HTTP 500 while "
        "it refuses jobs (sa#258)"
    ),
    Quirk.ONE_REQUEST_PER_CONNECTION: (
        "one request per connection: the answer carries no `Connection: close` and "
        "the connection stays open, but a second request on it is dropped unanswered — "
        "the rule of RFC 9112 §9.6 (a client that sent `Connection: close` sends "
        "nothing more on that connection); Kyocera ECOSYS M2040dn (airscan-http.c)"
    ),
    Quirk.END_OF_FEEDER_JOB_ID_NOT_FOUND: (
        "an ADF job ends with ClientErrorJobIdNotFound instead of "
        "ClientErrorNoImagesAvailable — Ricoh Aficio MP 201 (sa#334)"
    ),
    Quirk.EMPTY_FEEDER_NOT_ACCEPTING_JOBS: (
        "an empty ADF is reported at CreateScanJob as ServerErrorNotAcceptingJobs with "
        "ScannerState Idle — Canon MF410 series (sa#98, sa:c32769b)"
    ),
    Quirk.END_OF_FEEDER_NOT_ACCEPTING_JOBS: (
        "an ADF job ends with ServerErrorNotAcceptingJobs at RetrieveImage while the "
        "ScannerState is Idle — Canon MF410 series (sa#98, sa:c32769b)"
    ),
    Quirk.END_OF_FEEDER_EMPTY_IMAGE: (
        "an ADF job ends with an empty (0-byte) image instead of a fault — "
        "Epson ES-580W (ES series tool comments)"
    ),
    Quirk.ZERO_IMAGES_SCANS_ONE_SHEET: (
        "ImagesToTransfer=0 on the ADF scans only one sheet — Ricoh Aficio MP 201 "
        "(sa:fb129ac)"
    ),
    Quirk.SWAPPED_MAX_SIZE: (
        "maximum Width/Height are swapped in ScannerConfiguration — "
        "Kyocera ECOSYS M2040dn (captured, airscan-wsd.c)"
    ),
    Quirk.DUPLEX_FLAG_FALSE: (
        "ADFSupportsDuplex=0 although ADFBack is present and duplex works — "
        "Brother MFC-9340CDW / MFC-9370CDW (sa:7a88b37)"
    ),
    Quirk.SLOW_STREAMING: (
        "the image part trickles out in small chunks — Epson WorkForce WF-3640 "
        "(airscand quirks/epson.py)"
    ),
    Quirk.FORMAT_LIES: (
        "the image is not in the requested format (png asked → JPEG sent, jfif/exif "
        "asked → PNG sent) — Pantum M7100DN (sa#281, sa:1d8bf0f)"
    ),
    Quirk.MIME_NO_CRLF_BEFORE_BOUNDARY: (
        "MIME boundary not preceded by CRLF — Xerox WorkCentre 3025 (sa#71)"
    ),
    Quirk.MIME_HEADER_NO_SPACE: (
        "part headers written `Content-Type:image/jpeg` without a space — "
        "Epson WorkForce WF-3640 trace (airscand tests/test_mtom.py)"
    ),
    Quirk.MIME_UNQUOTED_PARAMETERS: (
        "multipart parameters unquoted, `startinfo` without hyphen, `Multipart/Related` — "
        "the [SCAN]/[DDK] examples; Canon MF745C/746C, iR-ADV 4545 layouts (sa#36)"
    ),
    Quirk.MIME_XOP_2003: (
        "xop:Include in the 2003/12 draft namespace — the [SCAN]/[DDK] examples (gaps A15)"
    ),
    Quirk.MIME_NO_INCLUDE_CID: (
        "the image part has no Content-ID matching the xop:Include href; clients must "
        "take the first non-root part — Canon MF746Cx, Dell C2665dnf (sa#36, sa#65)"
    ),
    Quirk.TWO_PROBE_MATCHES: (
        "ProbeMatches holds two ProbeMatch (printer and scanner) — Lexmark MX310dn "
        "(sa:392cae7, sa#304)"
    ),
    Quirk.UUID_WITHOUT_URN: (
        "the endpoint address is `uuid:…` without `urn:` — Kyocera ECOSYS M2040dn "
        "(captured ProbeMatches)"
    ),
    Quirk.LATE_PROBE_ANSWER: (
        "multicast Probes are answered after more than 2.5 s — Pantum (sa:e63b1ac)"
    ),
    Quirk.NO_XADDRS_IN_HELLO: (
        "Hello carries no XAddrs, clients must Resolve — devices built on Windows "
        "WSDAPI (WS-Discovery 2005/04 §4.1 Hello: XAddrs is optional)"
    ),
    Quirk.HOSTILE_DTD_ENTITIES: (
        "responses carry a DOCTYPE with an external entity (XXE) — hostile or broken "
        "firmware; a client must not resolve it"
    ),
    Quirk.HOSTILE_BILLION_LAUGHS: (
        "responses carry a nested-entity expansion bomb — hostile device"
    ),
    Quirk.HOSTILE_OVERSIZED_BODY: (
        "SOAP responses padded to many megabytes — hostile device; "
        "DPWS MAX_ENVELOPE_SIZE is 32 767 octets"
    ),
    Quirk.HOSTILE_TRUNCATED_MIME: (
        "RetrieveImage connection closed in the middle of the image part — "
        "HP LaserJet MFP M130fw truncated images (sa#60), network loss"
    ),
    Quirk.HOSTILE_STALL_MID_BODY: (
        "RetrieveImage stops sending in the middle of the image part and never finishes "
        "— hung firmware (Xerox B225/B235 'remote scan in progress', sa#378)"
    ),
}
