"""Measuring helpers shared by the benchmarks: peak RSS of this process."""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def reset_peak_rss() -> int:
    """Reset the peak-RSS mark (Linux `clear_refs` 5); return the current RSS in bytes."""
    _CLEAR_REFS.write_text("5")
    return _status_kib("VmRSS") * 1024


def peak_rss() -> int:
    """Return the peak RSS since the last reset, in bytes."""
    return _status_kib("VmHWM") * 1024
