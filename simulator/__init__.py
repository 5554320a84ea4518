"""A faithful emulated WSD scanner (and WS-DSP scan server) for tests and demos.

The scanner is independent of the integration: it never imports `custom_components`,
so it catches client bugs instead of sharing them. The scan server is the library's own
WS-DSP server with the simulator's records and faults around it (one implementation,
tested by the library's tests and by every client test).
"""

from __future__ import annotations

from .discovery import UdpTiming
from .profiles import PROFILES, AdfCaps, HostedService, Profile, SourceCaps
from .quirks import QUIRK_ORIGINS, Quirk
from .scan_server import ScanServer
from .scanner import SimulatedScanner
from .settings import Settings

__all__ = [
    "PROFILES",
    "QUIRK_ORIGINS",
    "AdfCaps",
    "HostedService",
    "Profile",
    "Quirk",
    "ScanServer",
    "Settings",
    "SimulatedScanner",
    "SourceCaps",
    "UdpTiming",
]
