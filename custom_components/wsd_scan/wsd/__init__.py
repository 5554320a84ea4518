"""wsd: an asyncio client for WSD scanners (WS-Discovery, DPWS, WS-Scan, WS-Eventing, WS-DSP).

No Home Assistant imports: the library takes an `aiohttp.ClientSession` from its caller and
reports failures as `WsdError` with an `ErrorKind`.
"""

from .discovery import (
    DiscoveryEvent,
    DiscoveryEventType,
    DiscoveryListener,
    Multicast,
    directed_probe,
    is_scanner,
    is_scanner_candidate,
    probe,
    resolve,
)
from .exceptions import ErrorKind, WsdError, WsdFault
from .metadata import get_device_info
from .models import AppSequence, DeviceInfo, DiscoveredDevice, HostedService

__all__ = [
    "AppSequence",
    "DeviceInfo",
    "DiscoveredDevice",
    "DiscoveryEvent",
    "DiscoveryEventType",
    "DiscoveryListener",
    "ErrorKind",
    "HostedService",
    "Multicast",
    "WsdError",
    "WsdFault",
    "directed_probe",
    "get_device_info",
    "is_scanner",
    "is_scanner_candidate",
    "probe",
    "resolve",
]
