"""Benchmark (a): RetrieveImage body throughput and client memory.

A loopback server (its own process) streams one MTOM response whose image is `--size` MiB,
chunked like the devices send it. Each client mode downloads it in a fresh process that
reports its time and its peak RSS growth during the transfer:

- `plain`: aiohttp reads the body and drops it — the network ceiling;
- `plain-file`: aiohttp reads the body and writes it to a file in the event loop;
- `plain-executor`: the same, but each write runs in the executor, as Home Assistant
  wants file I/O done (blocking writes stall the loop on slow storage such as SD cards);
- `mtom`: `wsd.mtom.read_mtom` parses the multipart body and writes the image to a file.

Run: `scripts/run python -m benchmarks.mtom_throughput [--size MIB] [--repeat N]`.
To add a mode (e.g. the full RetrieveImage client against the simulator), add a function
to `MODES`; it gets the session, the URL and a scratch file and returns the bytes it got.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
import json
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp
from aiohttp import web

from benchmarks._measure import peak_rss, reset_peak_rss
from custom_components.wsd_scan.wsd.mtom import read_mtom

MIB = 1024 * 1024
BOUNDARY = "MIMEBoundary_benchmark"
_SOAP = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"'
    b' xmlns:xop="http://www.w3.org/2004/08/xop/include"'
    b' xmlns:wscn="http://schemas.microsoft.com/windows/2006/08/wdp/scan"><soap:Body>'
    b'<wscn:RetrieveImageResponse><wscn:ScanData><xop:Include href="cid:image@bench"/>'
    b"</wscn:ScanData></wscn:RetrieveImageResponse></soap:Body></soap:Envelope>"
)
_HEAD = (
    (
        f'--{BOUNDARY}\r\nContent-Type: application/xop+xml; type="application/soap+xml"\r\n'
        "Content-ID: <root@bench>\r\n\r\n"
    ).encode()
    + _SOAP
    + (
        f"\r\n--{BOUNDARY}\r\nContent-Type: image/tiff\r\nContent-ID: <image@bench>\r\n\r\n"
    ).encode()
)
_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()
CONTENT_TYPE = (
    f'multipart/related; type="application/xop+xml"; boundary="{BOUNDARY}"; '
    'start="<root@bench>"'
)

type Mode = Callable[[aiohttp.ClientSession, str, Path], Awaitable[int]]


# --- server ---------------------------------------------------------------------------


async def _serve(size_mib: int) -> None:
    """Serve the MTOM response on a free loopback port; print the port; run until stdin closes."""
    # Uncompressed TIFF-like bytes: a header, then varied "pixels" (1 MiB, repeated).
    block = memoryview(b"II*\x00" + bytes(range(256)) * (4096 - 1) + bytes(252))

    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPE})
        await response.prepare(request)
        await response.write(_HEAD)
        for _ in range(size_mib):
            await response.write(block)
        await response.write(_TAIL)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


# --- client modes ---------------------------------------------------------------------


async def plain(session: aiohttp.ClientSession, url: str, _path: Path) -> int:
    """Read the body and drop it."""
    received = 0
    async with session.get(url) as response:
        async for chunk in response.content.iter_any():
            received += len(chunk)
    return received


async def plain_file(session: aiohttp.ClientSession, url: str, path: Path) -> int:
    """Read the body into a file, the way a plain download does."""
    received = 0
    async with session.get(url) as response:
        with path.open("wb") as file:
            async for chunk in response.content.iter_any():
                file.write(chunk)
                received += len(chunk)
    return received


async def mtom(session: aiohttp.ClientSession, url: str, path: Path) -> int:
    """Parse the multipart body and stream the image to a file."""
    async with session.get(url) as response:
        result = await read_mtom(response, path)
    return result.size


async def plain_executor(session: aiohttp.ClientSession, url: str, path: Path) -> int:
    """Read the body into a file, each write in the executor."""
    received = 0
    loop = asyncio.get_running_loop()
    async with session.get(url) as response:
        with path.open("wb") as file:
            async for chunk in response.content.iter_any():
                await loop.run_in_executor(None, file.write, chunk)
                received += len(chunk)
    return received


MODES: dict[str, Mode] = {
    "plain": plain,
    "plain-file": plain_file,
    "plain-executor": plain_executor,
    "mtom": mtom,
}


async def _client(mode: str, url: str) -> dict[str, float]:
    """Run one mode once; return seconds, bytes and peak RSS growth."""
    with tempfile.TemporaryDirectory() as scratch:
        async with aiohttp.ClientSession() as session:
            await plain(session, url, Path(scratch))  # warm up: imports, first use
            before = reset_peak_rss()
            start = time.perf_counter()
            received = await MODES[mode](session, url, Path(scratch, "image"))
            seconds = time.perf_counter() - start
            growth = peak_rss() - before
    return {"seconds": seconds, "bytes": received, "rss_growth": growth}


# --- driver ---------------------------------------------------------------------------


def _run_client(mode: str, url: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.mtom_throughput", "--client", mode, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(output)
    return result


def main() -> None:
    """Start the server, run every mode `--repeat` times in fresh processes, report."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="image size in MiB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.size))
        return
    if args.client:
        print(json.dumps(asyncio.run(_client(*args.client))))
        return
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.mtom_throughput",
            "--serve",
            "--size",
            str(args.size),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        assert server.stdout is not None and server.stdin is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}/"
        runs = {
            mode: [_run_client(mode, url) for _ in range(args.repeat)] for mode in MODES
        }
        server.stdin.close()
    print(
        f"MTOM body with a {args.size} MiB image over loopback, {args.repeat} runs each (median)"
    )
    print(f"{'mode':<16}{'MB/s':>10}{'seconds':>10}{'peak RSS growth MiB':>22}")
    rates = {}
    for mode, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        rates[mode] = results[0]["bytes"] / seconds / 1e6
        growth = max(r["rss_growth"] for r in results) / MIB
        print(f"{mode:<16}{rates[mode]:>10.0f}{seconds:>10.3f}{growth:>22.1f}")
    for baseline in ("plain", "plain-file", "plain-executor"):
        print(f"ratio mtom / {baseline:<15}= {rates['mtom'] / rates[baseline]:.2f}")


if __name__ == "__main__":
    main()
