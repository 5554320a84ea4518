"""wsd: an asyncio client for WSD scanners (WS-Discovery, DPWS, WS-Scan, WS-Eventing, WS-DSP).

No Home Assistant imports: the library takes an `aiohttp.ClientSession` from its caller and
reports failures as `WsdError` with an `ErrorKind`.
"""

from .exceptions import ErrorKind, WsdError, WsdFault

__all__ = ["ErrorKind", "WsdError", "WsdFault"]
