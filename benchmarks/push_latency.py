"""Benchmark (e): panel press → CreateScanJob latency ("Scan to Home Assistant").

A simulated office MFP registers one panel entry through the same pieces Home Assistant
uses (a `NotificationHandler` served by the CLI's aiohttp endpoint, a
`SubscriptionManager` with a ScanDestination, a `ScanClient`). Each round presses Scan on the simulator's panel and
records when the scanner received the CreateScanJob carrying the press's ScanIdentifier,
measured on the scanner's clock from the moment it posted ScanAvailableEvent. Scanner and
client share one event loop (a worst case: the scanner's own work delays the client).

The goal is ≤ 1 s; devices give up after an undocumented window (Scan Service spec, ScanAvailableEvent: no time limit is given).

Run: `scripts/run python -m benchmarks.push_latency [--rounds N]`.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path
import statistics
import tempfile

import aiohttp

from custom_components.wsd_scan.wsd import (
    SCAN_AVAILABLE_EVENT,
    EventingClient,
    NotificationHandler,
    ScanAvailableEvent,
    ScanClient,
    ScanDestination,
    ScanSettings,
    SubscriptionManager,
    WsdEvent,
    build_ticket,
)
from custom_components.wsd_scan.wsd.cli import serving
from simulator import SimulatedScanner


async def _measure(rounds: int, folder: Path) -> list[float]:
    """Press `rounds` times; return each press → CreateScanJob latency in seconds."""
    latencies: list[float] = []
    handler = NotificationHandler()
    async with (
        SimulatedScanner("office_mfp", discovery=False) as sim,
        aiohttp.ClientSession() as session,
        serving(handler.aiohttp_handler, "127.0.0.1") as notify_url,
    ):
        client = ScanClient(session, sim.scan_url)
        elements = await client.get_elements()
        assert elements.capabilities is not None
        ticket = build_ticket(elements.capabilities, ScanSettings(resolution=75))
        jobs: set[asyncio.Task[object]] = set()
        manager: SubscriptionManager

        def on_event(event: WsdEvent) -> None:
            if isinstance(event, ScanAvailableEvent):
                token = manager.destination_tokens.get(event.client_context)
                job = client.job(
                    ticket,
                    folder,
                    scan_identifier=event.scan_identifier,
                    destination_token=token,
                )
                task = asyncio.create_task(job.run())
                jobs.add(task)
                task.add_done_callback(jobs.discard)

        manager = SubscriptionManager(
            EventingClient(session, sim.scan_url),
            handler,
            notify_url=lambda _identifier: notify_url,
            device_hosts=["127.0.0.1"],
            actions=[SCAN_AVAILABLE_EVENT],
            destinations=[ScanDestination("Home Assistant", "benchmark")],
            listener=on_event,
        )
        await manager.start()
        try:
            for _ in range(rounds):
                pressed = datetime.now(UTC)
                scan_identifier = sim.service.press_scan_button("benchmark")
                while not any(
                    job.scan_identifier == scan_identifier for job in sim.jobs.values()
                ):
                    await asyncio.sleep(0.001)
                job = next(
                    job
                    for job in sim.jobs.values()
                    if job.scan_identifier == scan_identifier
                )
                latencies.append((job.created - pressed).total_seconds())
                await asyncio.gather(*jobs)
        finally:
            await manager.stop()
    return latencies


async def _main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        latencies = await _measure(rounds, Path(folder))
    print(f"rounds: {rounds}")
    print(f"press → CreateScanJob: median {statistics.median(latencies) * 1000:.1f} ms")
    print(f"                       max    {max(latencies) * 1000:.1f} ms (goal ≤ 1000)")


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(_main(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
