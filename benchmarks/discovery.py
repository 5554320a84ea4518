"""Benchmark (c): WS-Discovery of 20 simulated scanners on loopback multicast.

Starts N simulated scanners in this process (each answers a Probe after its own delay,
drawn from 0.05–0.25 s, like real devices spreading their answers), then runs one `probe()`
through 127.0.0.1 and records when each scanner arrives: the time to the first result and
to the complete list. The probe's listening window (3 s by default) is not waited out to
report these; the window's end is reported separately.

Run: `scripts/run python -m benchmarks.discovery [--devices N] [--rounds N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import time

from custom_components.wsd_scan.wsd.discovery import probe
from simulator import SimulatedScanner
from simulator.settings import Settings


async def _round(devices: int, window: float) -> tuple[float, float, float, int]:
    """Run one probe; return (first, complete, window end) in seconds and devices found."""
    async with contextlib.AsyncExitStack() as stack:
        scanners = [
            await stack.enter_async_context(
                SimulatedScanner(
                    profile="office_mfp",
                    discovery=True,
                    settings=Settings(probe_reply_delay=random.uniform(0.05, 0.25)),
                )
            )
            for _ in range(devices)
        ]
        wanted = {scanner.uuid for scanner in scanners}
        start = time.perf_counter()
        arrivals = [
            time.perf_counter() - start
            async for device in probe(["127.0.0.1"], timeout=window)
            if device.uuid in wanted
        ]
        end = time.perf_counter() - start
    return arrivals[0], arrivals[-1], end, len(arrivals)


async def _main(devices: int, rounds: int, window: float) -> None:
    results = [await _round(devices, window) for _ in range(rounds)]
    firsts, completes, ends, counts = zip(*results, strict=True)
    print(f"devices: {devices}, rounds: {rounds}, listening window: {window} s")
    print(f"found per round: {list(counts)}")
    print(f"time to first result:  median {statistics.median(firsts) * 1000:.0f} ms")
    print(f"time to complete list: median {statistics.median(completes) * 1000:.0f} ms")
    print(f"probe returned after:  median {statistics.median(ends) * 1000:.0f} ms")


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=3.0)
    options = parser.parse_args()
    asyncio.run(_main(options.devices, options.rounds, options.window))


if __name__ == "__main__":
    main()
