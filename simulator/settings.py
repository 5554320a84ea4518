"""Tunable behaviour of a simulated scanner (times are seconds, sizes bytes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    """Knobs tests turn; defaults follow the specifications and real devices."""

    # [SCAN] §6.2: first RetrieveImage within 60 s of CreateScanJob, and between images.
    retrieve_timeout: float = 60.0
    # How long after ScanAvailableEvent the device accepts the push CreateScanJob
    # (no document gives it for real devices).
    push_scan_window: float = 30.0
    # Random wait before answering a multicast Probe (APP_MAX_DELAY allows up to 5 s).
    probe_reply_delay: float = 0.0
    # Quirk.LATE_PROBE_ANSWER: Pantum answers after more than 2.5 s.
    late_probe_delay: float = 3.0
    # Quirk.SLOW_STREAMING chunking.
    slow_chunk_size: int = 4096
    slow_chunk_delay: float = 0.02
    # Quirk.CALIBRATING_WARMUP: CreateScanJob calls that fault before the lamp is ready.
    calibration_faults: int = 2
    # When set, RetrieveImage of a `dib` / `tiff-single-uncompressed` job streams a valid
    # image of about this many bytes (throughput benchmarks).
    huge_image_bytes: int | None = None
    # Quirk.HOSTILE_OVERSIZED_BODY padding.
    oversized_bytes: int = 16 * 1024 * 1024
    # Quirk.HOSTILE_STALL_MID_BODY: how long to stall (None: until the simulator stops).
    stall_seconds: float | None = None
    # When set, the feeder jams (MediaJam) once a job has delivered this many images.
    jam_after_images: int | None = None
    # Single-sided originals: the back of every sheet scanned duplex is blank paper.
    blank_backs: bool = False
    # Upper bound of granted WS-Eventing subscription lifetimes.
    max_subscription_seconds: float = 3600.0
    # Jobs kept in GetJobHistory.
    history_length: int = 10
