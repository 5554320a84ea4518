"""Benchmark (d): the longest event-loop block while Home Assistant scans 50 pages.

Home Assistant (the test harness's instance: a real event loop and executor, its HTTP
server bound to 127.0.0.1 so the scanner's status events arrive as in a real set-up) loads
the integration for a simulated office MFP running in its own process (so the simulator's
page rendering does not run on the measured loop). One `wsd_scan.scan` action scans
`--pages` sheets from the feeder at 300 dpi in colour into a PDF: every page streams from
the socket to a file, the job state sensor counts it, then the PDF and the page previews
are made in the executor and the scan is stored.

Meanwhile a probe task sleeps 1 ms at a time on the same loop; how late it wakes is how
long the loop was blocked. The run reports the longest blocks (with the pages received at
that moment, to tell streaming from storing apart), the 99th percentile and the counts
above 10 and 50 ms. Goal: no block above 50 ms.

Run: `scripts/run python -m benchmarks.event_loop_block [--pages N] [--resolution DPI]
[--debug MS]`; `--debug 20` names the callbacks that ran longer than 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
import json
import logging
from pathlib import Path
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from homeassistant import loader
from homeassistant.const import EVENT_HOMEASSISTANT_START
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.wsd_scan.const import DOMAIN

#: How long the probe sleeps between two looks at the clock.
PROBE_INTERVAL = 0.001


@dataclass
class LoopProbe:
    """Measures how late a 1 ms sleep wakes up on the running loop."""

    pages: Callable[[], int]
    lags: list[tuple[float, float, int]] = field(default_factory=list)

    async def run(self) -> None:
        """Sleep, look at the clock, record the lateness, until cancelled."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            before = loop.time()
            await asyncio.sleep(PROBE_INTERVAL)
            after = loop.time()
            self.lags.append(
                (after - start, after - before - PROBE_INTERVAL, self.pages())
            )


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def _simulator(sheets: int) -> AsyncIterator[dict[str, Any]]:
    """Run the simulated office MFP with `sheets` in its feeder in its own process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "--no-discovery",
        "--feeder",
        str(sheets),
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        yield json.loads(await process.stdout.readline())
    finally:
        process.terminate()
        await process.wait()


async def _scan(
    hass: HomeAssistant, info: dict[str, Any], options: argparse.Namespace
) -> None:
    port = _free_port()
    assert await async_setup_component(
        hass, "http", {"http": {"server_host": "127.0.0.1", "server_port": port}}
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Simulated Office MFP",
        unique_id=info["uuid"],
        data={"host": "127.0.0.1", "xaddrs": [info["device_url"]]},
        options={"callback_url": f"http://127.0.0.1:{port}"},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_START)  # starts the HTTP server
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, info["uuid"]), entry.entry_id
    )
    assert device is not None

    probe = LoopProbe(
        lambda: (coordinator.data.job.pages or 0) if coordinator.data.job else 0
    )
    probing = asyncio.create_task(probe.run())
    started = time.perf_counter()
    response = await hass.services.async_call(
        DOMAIN,
        "scan",
        {
            "device_id": device.id,
            "source": "feeder",
            "format": "pdf",
            "resolution": options.resolution,
            "color": "color",
        },
        blocking=True,
        return_response=True,
    )
    elapsed = time.perf_counter() - started
    probing.cancel()
    await hass.config_entries.async_unload(entry.entry_id)
    assert response is not None
    _report(probe, response, elapsed, options)


def _report(
    probe: LoopProbe, response: Any, elapsed: float, options: argparse.Namespace
) -> None:
    lags = [lag for _, lag, _ in probe.lags]
    (document,) = response["files"]
    print(
        f"{response['pages']} pages, {options.resolution} dpi colour, PDF "
        f"{document['size'] / 1e6:.1f} MB, scan action {elapsed:.1f} s, "
        f"{len(lags)} probes"
    )
    print(
        f"longest block {max(lags) * 1000:.1f} ms, 99th percentile "
        f"{statistics.quantiles(lags, n=100)[98] * 1000:.2f} ms, "
        f"blocks > 10 ms: {sum(lag > 0.010 for lag in lags)}, "
        f"> 50 ms: {sum(lag > 0.050 for lag in lags)}"
    )
    print("longest five: at s, block ms, pages received by then")
    for at, lag, pages in sorted(probe.lags, key=lambda item: -item[1])[:5]:
        print(f"  {at:7.2f}  {lag * 1000:6.1f}  {pages}")


async def main(options: argparse.Namespace) -> None:
    """Run Home Assistant and the simulator; scan; print the figures."""
    logging.basicConfig(level=logging.WARNING)
    if options.debug:
        # asyncio's debug mode names each callback that runs longer (slower overall).
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = options.debug / 1000
    with tempfile.TemporaryDirectory() as scratch:
        media = Path(scratch, "media")
        media.mkdir()
        async with (
            _simulator(options.pages) as info,
            async_test_home_assistant(config_dir=scratch) as hass,
        ):
            # Load custom integrations (the test harness hides them by default).
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
            hass.config.media_dirs = {"local": str(media)}
            hass.config.allowlist_external_dirs = {str(media)}
            await _scan(hass, info, options)
            await hass.async_stop(force=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50, help="sheets in the feeder")
    parser.add_argument("--resolution", type=int, default=300, help="dpi")
    parser.add_argument(
        "--debug",
        type=float,
        metavar="MS",
        help="log every callback that runs longer than MS (asyncio debug mode)",
    )
    asyncio.run(main(parser.parse_args()))
