"""Measuring helpers shared by the benchmarks: peak RSS of this process, CPU time."""

from __future__ import annotations

import os
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


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # Fields 14 and 15 of proc_pid_stat(5), counted after the command name (field 2).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
