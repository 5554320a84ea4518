"""Exceptions of the wsd library.

Every failure the library reports is a `WsdError` carrying an `ErrorKind`, so callers (the
Home Assistant layer, the command-line tool) map kinds to messages without parsing text.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class ErrorKind(StrEnum):
    """What went wrong, in the terms a user acts on."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    PROTOCOL = "protocol"
    INVALID_ARGUMENT = "invalid_argument"
    #: A panel-started scan's ScanIdentifier or DestinationToken is no longer valid.
    STALE_DESTINATION = "stale_destination"
    UNSUPPORTED = "unsupported"
    FEEDER_EMPTY = "feeder_empty"
    JAM = "jam"
    COVER_OPEN = "cover_open"
    BUSY = "busy"
    ACTION_NEEDED = "action_needed"
    SCANNING_DISABLED = "scanning_disabled"
    CANCELLED = "cancelled"
    DEVICE_ERROR = "device_error"
    #: Received pages cannot be written (disk full, no permission, missing folder).
    STORAGE = "storage"


class WsdError(Exception):
    """A failure talking to a WSD device."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        """Store the kind next to the human-readable message."""
        super().__init__(message)
        self.kind = kind


class WsdFault(WsdError):
    """The device answered with a SOAP fault.

    `subcode` is the local name of the most specific fault code (prefixes are meaningless:
    devices and even the specifications print them inconsistently).
    """

    def __init__(
        self,
        subcode: str,
        reason: str,
        *,
        code: str = "",
        detail: str = "",
        kind: ErrorKind = ErrorKind.DEVICE_ERROR,
    ) -> None:
        """Describe the fault."""
        super().__init__(kind, f"device fault {subcode or code}: {reason}".rstrip(": "))
        self.subcode = subcode
        self.code = code
        self.reason = reason
        self.detail = detail


class WsdHttpError(WsdError):
    """The device answered with an HTTP error status and no SOAP fault.

    `reason` is the first line of the answer's body (bounded, control characters
    removed), or the status's reason phrase when the body has no text.
    """

    def __init__(self, kind: ErrorKind, status: int, reason: str, message: str) -> None:
        """Describe the answer."""
        super().__init__(kind, message)
        self.status = status
        self.reason = reason


def most_telling(errors: Sequence[WsdError]) -> WsdError:
    """Return the error to report when every address failed (`errors` is not empty).

    An answer that made no sense (a fault, a protocol error) says more than a silent or
    unreachable address.
    """
    answered = [
        err
        for err in errors
        if err.kind not in (ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT)
    ]
    return (answered or list(errors))[0]
