"""Benchmark (a): RetrieveImage throughput and client memory, against the simulator.

A simulated scanner (`simulator.SimulatedScanner`, its own process) runs with
`Settings(huge_image_bytes=--size MiB)`, so RetrieveImage of a `tiff-single-uncompressed`
job streams a valid uncompressed TIFF of that size in a chunked MTOM body. Each client mode
runs in a fresh process: it creates the job with `wsd.ScanClient.create_job`
(CreateScanJob), then fetches the page with the same RetrieveImage request, and reports the
RetrieveImage time, its own CPU time, the simulator's CPU time and its peak RSS growth:

- `wsd`: `ScanClient.retrieve_image` — the full client path (`read_mtom` parses the
  multipart body and streams the image to a file, writes in the executor);
- `plain-drop`: aiohttp POSTs the same request, reads the body and drops it — the ceiling
  of this server and client;
- `plain-file`: the same, writing the body to a file in the event loop;
- `plain-executor`: the same, each write in the executor, as Home Assistant wants file I/O
  done (blocking writes stall the loop on slow storage such as SD cards).

Before the measured run each process warms up with a small PNG page through the same mode.
Modes run interleaved, `--repeat` rounds. Run:
`scripts/run python -m benchmarks.mtom_throughput [--size MIB] [--repeat N] [--mode M]...`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
import json
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp

from benchmarks._measure import cpu_seconds, peak_rss, reset_peak_rss
from custom_components.wsd_scan.wsd import (
    InputSource,
    ScanClient,
    ScanTicket,
    Size,
    soap,
)
from custom_components.wsd_scan.wsd.scan import CreatedJob
from custom_components.wsd_scan.wsd.xml import SCAN, build_envelope, element, sub
from simulator import SimulatedScanner
from simulator.settings import Settings

MIB = 1024 * 1024
#: The measured page: A4 at 300 dpi in colour (its length follows `huge_image_bytes`).
HUGE_TICKET = ScanTicket(
    format="tiff-single-uncompressed",
    input_source=InputSource.PLATEN,
    images_to_transfer=1,
    color="RGB24",
    resolution=300,
    size=Size(8268, 11693),
)
#: The warm-up page: a small PNG (not a huge format), rendered by the simulator.
WARMUP_TICKET = ScanTicket(
    format="png",
    input_source=InputSource.PLATEN,
    images_to_transfer=1,
    color="RGB24",
    resolution=75,
    size=Size(1000, 1000),
)

type Mode = Callable[[ScanClient, CreatedJob, Path], Awaitable[int]]


# --- server ---------------------------------------------------------------------------


async def _serve(size_mib: int) -> None:
    """Run the simulator on loopback; print its scan URL; run until stdin closes."""
    async with SimulatedScanner(
        "office_mfp",
        discovery=False,
        settings=Settings(huge_image_bytes=size_mib * MIB),
    ) as sim:
        print(sim.scan_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# --- client modes ---------------------------------------------------------------------


async def wsd(client: ScanClient, job: CreatedJob, path: Path) -> int:
    """Fetch the page the way the integration does."""
    size, _format = await client.retrieve_image(job, "bench", path)
    return size


@contextlib.asynccontextmanager
async def _post(
    client: ScanClient, job: CreatedJob
) -> AsyncIterator[aiohttp.ClientResponse]:
    """POST the RetrieveImage request `ScanClient.retrieve_image` sends."""
    request = element("sca:RetrieveImageRequest")
    sub(request, "sca:JobId", job.job_id)
    sub(request, "sca:JobToken", job.job_token)
    sub(sub(request, "sca:DocumentDescription"), "sca:DocumentName", "bench")
    payload = build_envelope(f"{SCAN}/RetrieveImage", client.url, request)
    async with client.session.post(
        client.url,
        data=payload,
        headers=soap.request_headers(),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=client.timeout),
    ) as response:
        yield response


async def plain_drop(client: ScanClient, job: CreatedJob, _path: Path) -> int:
    """Read the body and drop it."""
    received = 0
    async with _post(client, job) as response:
        async for chunk in response.content.iter_any():
            received += len(chunk)
    return received


async def plain_file(client: ScanClient, job: CreatedJob, path: Path) -> int:
    """Read the body into a file, the way a plain download does."""
    received = 0
    async with _post(client, job) as response:
        with path.open("wb") as file:
            async for chunk in response.content.iter_any():
                file.write(chunk)
                received += len(chunk)
    return received


async def plain_executor(client: ScanClient, job: CreatedJob, path: Path) -> int:
    """Read the body into a file, each write in the executor."""
    received = 0
    loop = asyncio.get_running_loop()
    async with _post(client, job) as response:
        with path.open("wb") as file:
            async for chunk in response.content.iter_any():
                await loop.run_in_executor(None, file.write, chunk)
                received += len(chunk)
    return received


MODES: dict[str, Mode] = {
    "wsd": wsd,
    "plain-drop": plain_drop,
    "plain-file": plain_file,
    "plain-executor": plain_executor,
}
BASELINES = ("plain-drop", "plain-file", "plain-executor")


async def _client(mode: str, url: str, server_pid: int) -> dict[str, float]:
    """Run one mode once; return its times, bytes and peak RSS growth."""
    run = MODES[mode]
    with tempfile.TemporaryDirectory() as scratch:
        async with aiohttp.ClientSession() as session:
            client = ScanClient(session, url)
            warmup = await client.create_job(WARMUP_TICKET)
            await run(client, warmup, Path(scratch, "warmup"))
            start = time.perf_counter()
            job = await client.create_job(HUGE_TICKET)
            created = time.perf_counter()
            before = reset_peak_rss()
            cpu = time.process_time()
            server_cpu = cpu_seconds(server_pid)
            received = await run(client, job, Path(scratch, "image"))
            seconds = time.perf_counter() - created
            server_cpu = cpu_seconds(server_pid) - server_cpu
            cpu = time.process_time() - cpu
            growth = peak_rss() - before
    return {
        "create": created - start,
        "seconds": seconds,
        "bytes": received,
        "cpu": cpu,
        "server_cpu": server_cpu,
        "rss_growth": growth,
    }


# --- driver ---------------------------------------------------------------------------


def _run_client(mode: str, url: str, server_pid: int) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.mtom_throughput", "--client", mode]
    output = subprocess.run(
        [*command, url, str(server_pid)], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


def _report(size: int, repeat: int, runs: dict[str, list[dict[str, float]]]) -> None:
    print(
        f"RetrieveImage of a {size} MiB page from the simulator over loopback, "
        f"{repeat} runs each (median; RSS: max)"
    )
    print(
        f"{'mode':<16}{'MB/s':>8}{'seconds':>9}{'CPU s':>7}{'sim CPU s':>11}"
        f"{'create ms':>11}{'RSS growth MiB':>16}"
    )
    rates = {}
    for mode, results in runs.items():
        rates[mode] = statistics.median(
            r["bytes"] / r["seconds"] / 1e6 for r in results
        )
        print(
            f"{mode:<16}{rates[mode]:>8.0f}"
            f"{statistics.median(r['seconds'] for r in results):>9.3f}"
            f"{statistics.median(r['cpu'] for r in results):>7.3f}"
            f"{statistics.median(r['server_cpu'] for r in results):>11.3f}"
            f"{statistics.median(r['create'] for r in results) * 1000:>11.1f}"
            f"{max(r['rss_growth'] for r in results) / MIB:>16.1f}"
        )
    if "wsd" in rates:
        for baseline in BASELINES:
            if baseline in rates:
                ratio = rates["wsd"] / rates[baseline]
                print(f"ratio wsd / {baseline:<15}= {ratio:.2f}")


def main() -> None:
    """Start the simulator, run the modes `--repeat` times in fresh processes, report."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="page size in MiB")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--mode", action="append", choices=list(MODES), help="default: every mode"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.size))
        return
    if args.client:
        mode, url, pid = args.client
        print(json.dumps(asyncio.run(_client(mode, url, int(pid)))))
        return
    modes = args.mode or list(MODES)
    command = [sys.executable, "-m", "benchmarks.mtom_throughput", "--serve"]
    with subprocess.Popen(
        [*command, "--size", str(args.size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    ) as server:
        assert server.stdout is not None and server.stdin is not None
        url = server.stdout.readline().strip()
        runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
        for _ in range(args.repeat):  # interleaved, so drifting load hits every mode
            for mode in modes:
                runs[mode].append(_run_client(mode, url, server.pid))
        server.stdin.close()
    _report(args.size, args.repeat, runs)


if __name__ == "__main__":
    main()
