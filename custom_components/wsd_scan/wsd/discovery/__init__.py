"""WS-Discovery client: multicast Probe and Resolve, Hello/Bye listener, directed probe.

* `probe` (multicast.py) multicasts a Probe for `wsdp:Device` from one socket per interface
  address and yields scanners as their ProbeMatches arrive; `resolve` asks where a known
  endpoint lives now.
* `DiscoveryListener` (listener.py) hears Hello and Bye on the WS-Discovery port.
* `directed_probe` (directed.py) POSTs a Probe to a host's HTTP discovery endpoint.
* `locate` (locator.py) finds the WSD device behind a host or URL and reads its metadata;
  `find_scanners` probes and describes what answers.
* codec.py decodes and builds the messages, sockets.py opens the UDP sockets; host and
  XAddr handling lives in the library's addresses.py.

Garbage never escapes as anything but a dropped datagram; answers are de-duplicated by
MessageID (recent.py).
"""

from ..addresses import normalize_host, order_addresses, same_host, url_host
from .codec import (
    ACTION_PROBE,
    ACTION_RESOLVE,
    DEVICE_TYPE,
    MAX_DATAGRAM,
    PRINT,
    PRINT_DEVICE_TYPE,
    SCAN_DEVICE_TYPE,
    DiscoveryMessage,
    MessageKind,
    decode_envelope,
    decode_message,
    is_scanner,
    is_scanner_candidate,
    probe_message,
    resolve_message,
)
from .directed import DIRECTED_PROBE_PATH, directed_probe, directed_probe_url
from .listener import (
    AppSequenceTracker,
    DiscoveryEvent,
    DiscoveryEventType,
    DiscoveryListener,
)
from .locator import FoundScanner, LocatedDevice, find_scanners, is_listed, locate
from .multicast import (
    MULTICAST_UDP_REPEAT,
    PROBE_TIMEOUT,
    RESOLVE_TIMEOUT,
    UDP_MAX_DELAY,
    UDP_MIN_DELAY,
    UDP_UPPER_DELAY,
    probe,
    resolve,
)
from .sockets import (
    DEFAULT_MULTICAST,
    DISCOVERY_PORT,
    MULTICAST_V4,
    MULTICAST_V6,
    Multicast,
)

__all__ = [
    "ACTION_PROBE",
    "ACTION_RESOLVE",
    "DEFAULT_MULTICAST",
    "DEVICE_TYPE",
    "DIRECTED_PROBE_PATH",
    "DISCOVERY_PORT",
    "MAX_DATAGRAM",
    "MULTICAST_UDP_REPEAT",
    "MULTICAST_V4",
    "MULTICAST_V6",
    "PRINT",
    "PRINT_DEVICE_TYPE",
    "PROBE_TIMEOUT",
    "RESOLVE_TIMEOUT",
    "SCAN_DEVICE_TYPE",
    "UDP_MAX_DELAY",
    "UDP_MIN_DELAY",
    "UDP_UPPER_DELAY",
    "AppSequenceTracker",
    "DiscoveryEvent",
    "DiscoveryEventType",
    "DiscoveryListener",
    "DiscoveryMessage",
    "FoundScanner",
    "LocatedDevice",
    "MessageKind",
    "Multicast",
    "decode_envelope",
    "decode_message",
    "directed_probe",
    "directed_probe_url",
    "find_scanners",
    "is_listed",
    "is_scanner",
    "is_scanner_candidate",
    "locate",
    "normalize_host",
    "order_addresses",
    "probe",
    "probe_message",
    "resolve",
    "resolve_message",
    "same_host",
    "url_host",
]
