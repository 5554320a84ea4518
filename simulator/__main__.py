"""Run a simulated scanner standalone: `python -m simulator --profile office_mfp`.

Prints one JSON line with the device URLs, then serves until Ctrl-C / SIGTERM.
`main(argv)` is the entry point `scripts/wsd simulate` delegates to.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import contextlib
import json
import signal
import sys

from .profiles import PROFILES
from .quirks import QUIRK_ORIGINS, Quirk
from .scan_server import ScanServer
from .scanner import SimulatedScanner
from .settings import Settings


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--profile", default="office_mfp", choices=sorted(PROFILES))
    parser.add_argument(
        "--quirk",
        action="append",
        default=[],
        choices=[q.value for q in Quirk],
        metavar="QUIRK",
    )
    parser.add_argument(
        "--interface", default="127.0.0.1", help="address to serve and multicast on"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="HTTP port (0: any free port)"
    )
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--udp-port", type=int, default=3702)
    parser.add_argument(
        "--no-discovery", action="store_true", help="no WS-Discovery (UDP)"
    )
    parser.add_argument("--uuid", default=None, help="endpoint UUID (default: random)")
    parser.add_argument("--feeder", type=int, default=0, help="sheets in the feeder")
    parser.add_argument(
        "--blank-backs",
        action="store_true",
        help="duplex backs are blank paper (noise and the edge's shadow)",
    )
    parser.add_argument(
        "--scan-server", action="store_true", help="also run a WS-DSP scan server"
    )
    parser.add_argument(
        "--list-quirks", action="store_true", help="describe every quirk and exit"
    )
    return parser


async def serve(options: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or SIGINT/SIGTERM when `stop` is None)."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    sim = SimulatedScanner(
        profile=options.profile,
        quirks=options.quirk,
        host=options.interface,
        http_port=options.port,
        discovery=not options.no_discovery,
        multicast_interface=options.interface,
        udp_port=options.udp_port,
        uuid=options.uuid,
        control_port=options.control_port,
        settings=Settings(blank_backs=options.blank_backs),
    )
    server = ScanServer(host=options.interface) if options.scan_server else None
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(sim)
        sim.load_feeder(options.feeder)
        info = {
            "uuid": sim.uuid,
            "profile": sim.profile.name,
            "device_url": sim.device_url,
            "scan_url": sim.scan_url,
            "probe_url": sim.probe_url,
            "control_url": sim.control_url,
        }
        if server is not None:
            await stack.enter_async_context(server)
            info["scan_server_url"] = server.url
        print(json.dumps(info), flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run; returns the exit status."""
    options = build_parser().parse_args(argv)
    if options.list_quirks:
        for quirk in Quirk:
            print(f"{quirk.value}: {QUIRK_ORIGINS[quirk]}")
        return 0
    asyncio.run(serve(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
