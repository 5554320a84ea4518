"""`scripts/wsd`: a troubleshooting tool for WSD scanners, built on this library.

    scripts/wsd discover [--timeout SECONDS] [--interface IPADDR]... [--json]
    scripts/wsd info DEVICE [--json]
    scripts/wsd scan DEVICE [--source platen|adf|adf-duplex] [--format pdf|jpeg|png|tiff]
                     [--resolution DPI] [--color color|gray|bw]
                     [--paper a4|letter|legal|a5|max] [--out PATH]
    scripts/wsd push DEVICE --destination NAME --out DIR [--count N] [--notify-host IP]
                     [--discovery-port PORT]
    scripts/wsd post-scan ENDPOINT FILE... [--document-root NAME] [--user SID]
                     [--process-id GUID] [--filter XML|URI]... [--ca-file PEM] [--insecure]
    scripts/wsd serve-post-scan --out DIR [--host IPADDR] [--port N] [--count N]

DEVICE is a device URL (an XAddr) or host[:port] (found by a directed probe); so is
ENDPOINT, a WS-DSP scan server's service URL or host[:port]. `serve-post-scan` is
such a server (loopback unless told): it prints its endpoint, then each job received
into DIR. Results are JSON on stdout; a failure is one line on stderr naming the cause, and a non-zero exit.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
import contextlib
import dataclasses
from datetime import datetime
import enum
import json
import os
from pathlib import Path
import sys
import tempfile
from typing import Any, Final
import uuid

import aiohttp
from aiohttp import web
import yarl

from .blank import DEFAULT_SENSITIVITY as DEFAULT_BLANK_SENSITIVITY, async_drop_blank
from .discovery import (
    DiscoveryEvent,
    DiscoveryEventType,
    DiscoveryListener,
    Multicast,
    find_scanners,
    locate,
)
from .document import async_assemble
from .dsp import (
    NULL_SID,
    PostScanSettings,
    find_post_scan_endpoint,
    post_scan,
    post_scan_ssl,
)
from .dsp_server import PostScanServer, ReceivedJob
from .eventing import (
    SCAN_AVAILABLE_EVENT,
    EventingClient,
    NotificationHandler,
    SubscriptionManager,
)
from .exceptions import ErrorKind, WsdError
from .models import (
    ColorMode,
    DeviceInfo,
    DocumentFormat,
    PaperSize,
    ScanAvailableEvent,
    ScanDestination,
    ScannedPage,
    ScanSettings,
    ScanSource,
)
from .quirks import quirks_for
from .scan import ScanClient, ScanJobError
from .ticket import build_ticket

#: What a user can do about each kind of failure.
ADVICE: Final[dict[ErrorKind, str]] = {
    ErrorKind.UNREACHABLE: "the scanner is unreachable: check that it is on and on this network",
    ErrorKind.TIMEOUT: "the scanner did not answer in time",
    ErrorKind.PROTOCOL: "the scanner sent an answer that makes no sense",
    ErrorKind.INVALID_ARGUMENT: "invalid argument",
    ErrorKind.UNSUPPORTED: "the scanner does not support that",
    ErrorKind.FEEDER_EMPTY: "the document feeder is empty: load the pages",
    ErrorKind.JAM: "paper jam: clear it on the scanner",
    ErrorKind.COVER_OPEN: "a cover is open: close it",
    ErrorKind.BUSY: "the scanner is busy: try again in a moment",
    ErrorKind.ACTION_NEEDED: "the scanner needs attention on its panel",
    ErrorKind.SCANNING_DISABLED: "WSD scanning is disabled: enable it in the scanner's web interface",
    ErrorKind.CANCELLED: "the scan was cancelled",
    ErrorKind.DEVICE_ERROR: "the scanner reported an error",
    ErrorKind.STORAGE: "cannot write the scan here",
}
_SOURCES: Final = {
    "platen": ScanSource.PLATEN,
    "adf": ScanSource.FEEDER,
    "adf-duplex": ScanSource.FEEDER_DUPLEX,
}
_EXIT_FAILURE: Final = 1
_EXIT_USAGE: Final = 2


def _jsonable(value: object) -> Any:
    """Turn models into JSON-friendly values (dataclasses, enums, sets)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(_jsonable(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def _print_json(value: object) -> None:
    print(json.dumps(_jsonable(value), indent=2, sort_keys=False))


async def _resolve_device(session: aiohttp.ClientSession, target: str) -> DeviceInfo:
    """Find the device behind a URL or host[:port] and read its metadata."""
    return (await locate(session, target)).info


def _scan_client(session: aiohttp.ClientSession, device: DeviceInfo) -> ScanClient:
    if device.scan_service_url is None:
        raise WsdError(ErrorKind.UNSUPPORTED, f"{device.name} has no scan service")
    return ScanClient(
        session,
        device.scan_service_url,
        quirks=quirks_for(device.manufacturer, device.model),
    )


async def _discover(options: argparse.Namespace) -> None:
    interfaces = options.interface or local_addresses()
    async with aiohttp.ClientSession() as session:
        found = await find_scanners(session, interfaces, timeout=options.timeout)
    if not options.json:
        for scanner in found:
            name = scanner.info.name if scanner.info else scanner.device.uuid
            print(f"{name}  {scanner.device.xaddrs[0]}")
        return
    _print_json(
        [
            {
                "uuid": scanner.device.uuid,
                "name": info.name if (info := scanner.info) else None,
                "manufacturer": info.manufacturer if info else None,
                "model": info.model if info else None,
                "scan_service_url": info.scan_service_url if info else None,
                "xaddrs": list(scanner.device.xaddrs),
            }
            for scanner in found
        ]
    )


def local_addresses() -> list[str]:
    """Every IPv4 address of this machine's interfaces but loopback (ifaddr ships with HA)."""
    import ifaddr  # noqa: PLC0415 - only this command needs it

    return [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not str(ip.ip).startswith("127.")
    ]


async def _info(options: argparse.Namespace) -> None:
    async with aiohttp.ClientSession() as session:
        device = await _resolve_device(session, options.device)
        client = _scan_client(session, device)
        elements = await client.get_elements()
    _print_json(
        {
            "device": device,
            "quirks": client.quirks.names,
            "capabilities": elements.capabilities,
            "status": elements.status,
        }
    )


def _settings(options: argparse.Namespace) -> ScanSettings:
    return ScanSettings(
        source=_SOURCES[options.source],
        format=DocumentFormat(options.format),
        resolution=options.resolution,
        color=ColorMode(options.color),
        paper=PaperSize(options.paper),
    )


async def _scan_to(
    client: ScanClient,
    settings: ScanSettings,
    out: Path,
    *,
    scan_identifier: str | None = None,
    destination_token: str | None = None,
    skip_blank: int | None = None,
) -> dict[str, object]:
    """Scan with `settings` and store the document at `out` (stem and directory).

    With `skip_blank` (a sensitivity), blank pages are left out.
    """
    elements = await client.get_elements()
    if elements.capabilities is None:
        raise WsdError(
            ErrorKind.PROTOCOL, "the scanner did not describe its capabilities"
        )
    ticket = build_ticket(
        elements.capabilities, settings, status=elements.status, quirks=client.quirks
    )
    out.parent.mkdir(parents=True, exist_ok=True)

    async def store(pages: Sequence[ScannedPage]) -> list[Path]:
        return await async_assemble(
            [page.path for page in pages],
            out.parent,
            out.stem,
            settings.format,
            resolution=ticket.resolution,
            color=settings.color,
        )

    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".wsd-scan-") as pages_dir:
        try:
            result = await client.scan(
                ticket,
                Path(pages_dir),
                scan_identifier=scan_identifier,
                destination_token=destination_token,
            )
        except ScanJobError as err:
            if err.pages:
                # No page is lost: what arrived before the failure is saved.
                kept = await store(err.pages)
                print(
                    f"kept {len(err.pages)} pages scanned before the error: "
                    + ", ".join(str(path) for path in kept),
                    file=sys.stderr,
                )
            raise
        pages = list(result.pages)
        if skip_blank is not None:
            pages = await async_drop_blank(pages, skip_blank)
            if not pages:
                raise WsdError(
                    ErrorKind.INVALID_ARGUMENT,
                    f"all {len(result.pages)} pages are blank: nothing to store",
                )
        files = await store(pages)
    summary: dict[str, object] = {
        "pages": len(pages),
        "files": [str(path) for path in files],
        "format": settings.format,
    }
    if skip_blank is not None:
        summary["blank_pages_skipped"] = len(result.pages) - len(pages)
    return summary


async def _scan(options: argparse.Namespace) -> None:
    settings = _settings(options)
    out: Path = options.out or Path(
        f"scan-{datetime.now():%Y%m%d-%H%M%S}.{options.format}"
    )
    async with aiohttp.ClientSession() as session:
        device = await _resolve_device(session, options.device)
        _print_json(
            await _scan_to(
                _scan_client(session, device),
                settings,
                out.resolve(),
                skip_blank=options.skip_blank,
            )
        )


@contextlib.asynccontextmanager
async def serving(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    host: str,
    port: int = 0,
    *,
    prefix: str = "/wsd-scan",
) -> AsyncIterator[str]:
    """Serve POSTs to `handler` at an unguessable path under `prefix`; yield its URL."""
    app = web.Application()
    path = f"{prefix}/{uuid.uuid4().hex}"
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield f"http://{host}:{runner.addresses[0][1]}{path}"
    finally:
        await runner.cleanup()


async def _push(options: argparse.Namespace) -> None:
    """Keep a panel entry registered and scan each press of it.

    The registration is renewed, made again when a renewal fails, and checked at once
    when the scanner says Hello (heard on the `--notify-host` address): a power cycle
    makes the scanner forget it.
    """
    events: asyncio.Queue[ScanAvailableEvent] = asyncio.Queue()
    destination = ScanDestination(options.destination, client_context=uuid.uuid4().hex)
    async with aiohttp.ClientSession() as session:
        device = await _resolve_device(session, options.device)
        client = _scan_client(session, device)
        handler = NotificationHandler()
        async with serving(handler.aiohttp_handler, options.notify_host) as notify_url:
            registration = SubscriptionManager(
                EventingClient(session, client.url),
                handler,
                notify_url=lambda _identifier: notify_url,
                device_hosts=[yarl.URL(client.url).host or ""],
                actions=[SCAN_AVAILABLE_EVENT],
                destinations=[destination],
                listener=lambda event: (
                    events.put_nowait(event)
                    if isinstance(event, ScanAvailableEvent)
                    else None
                ),
            )

            def hello(event: DiscoveryEvent) -> None:
                if (
                    event.type is DiscoveryEventType.HELLO
                    and event.device.uuid == device.uuid
                ):
                    registration.announced(event.device.app_sequence)

            hellos = DiscoveryListener(
                [options.notify_host],
                hello,
                multicast=Multicast(port=options.discovery_port),
            )
            await registration.start()
            try:
                if registration.last_error is not None:
                    raise registration.last_error
                try:
                    await hellos.start()
                except WsdError as err:
                    print(
                        f"warning: not listening for the scanner's Hello ({err}); "
                        "after a restart it is registered again at the next renewal",
                        file=sys.stderr,
                    )
                for number in range(1, options.count + 1):
                    event = await events.get()
                    result = await _scan_to(
                        client,
                        ScanSettings(
                            source=ScanSource.for_input_source(event.input_source)
                        ),
                        options.out / f"scan-{number:03d}.pdf",
                        scan_identifier=event.scan_identifier,
                        destination_token=registration.destination_tokens.get(
                            event.client_context, ""
                        ),
                    )
                    print(json.dumps(result), flush=True)
            finally:
                await hellos.stop()
                await registration.stop()


async def _post_scan(options: argparse.Namespace) -> None:
    settings = PostScanSettings(
        user_identifier=options.user,
        scan_process_id=options.process_id,
        document_root_name=options.document_root,
        filters=tuple(options.filter),
    )
    ssl = await asyncio.to_thread(
        post_scan_ssl, ca_file=options.ca_file, verify=not options.insecure
    )
    async with aiohttp.ClientSession() as session:
        endpoint = await find_post_scan_endpoint(session, options.endpoint, ssl=ssl)
        status = await post_scan(session, endpoint, options.files, settings, ssl=ssl)
    _print_json(
        {
            "endpoint": endpoint,
            "job_token": status.job_token,
            "state": status.state,
            "images_received": status.images_received,
        }
    )


def _keep_documents(job: ReceivedJob, out: Path) -> list[str]:
    """Link a job's documents into `out` under names not taken yet (blocking)."""
    kept = []
    for document in job.documents:
        stem = f"{job.job_token[:8]}-{document.document_id:03d}"
        target = out / f"{stem}.{document.image_format.extension}"
        os.link(document.path, target)
        kept.append(str(target))
    return kept


async def _serve_post_scan(options: argparse.Namespace) -> None:
    out: Path = options.out.resolve()
    received = 0
    done = asyncio.Event()

    async def keep(job: ReceivedJob) -> None:
        nonlocal received
        files = await asyncio.to_thread(_keep_documents, job, out)
        result = {
            "job_token": job.job_token,
            "document_root_name": job.document_root_name,
            "user": job.user_identifier,
            "files": files,
        }
        print(json.dumps(result), flush=True)
        received += 1
        if received == options.count:
            done.set()

    server = PostScanServer(out / ".incoming", keep)
    await server.start()
    try:
        async with serving(
            server.aiohttp_handler, options.host, options.port, prefix="/wsd-scan/dsp"
        ) as endpoint:
            print(json.dumps({"endpoint": endpoint}), flush=True)
            await done.wait()
    finally:
        await server.close()


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="scripts/wsd",
        description="Find, inspect and use WSD scanners.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    discover = commands.add_parser("discover", help="find scanners on the network")
    discover.add_argument("--timeout", type=float, default=3.0)
    discover.add_argument("--interface", action="append", metavar="IPADDR")
    discover.add_argument("--json", action="store_true")
    discover.set_defaults(run=_discover)

    info = commands.add_parser("info", help="what a scanner is and can do")
    info.add_argument("device", metavar="DEVICE")
    info.add_argument("--json", action="store_true", help="(output is always JSON)")
    info.set_defaults(run=_info)

    scan = commands.add_parser("scan", help="scan to a file")
    scan.add_argument("device", metavar="DEVICE")
    scan.add_argument("--source", choices=list(_SOURCES), default="platen")
    scan.add_argument(
        "--format", choices=[f.value for f in DocumentFormat], default="pdf"
    )
    scan.add_argument("--resolution", type=int, default=300, metavar="DPI")
    scan.add_argument("--color", choices=[c.value for c in ColorMode], default="color")
    scan.add_argument("--paper", choices=[p.value for p in PaperSize], default="a4")
    scan.add_argument("--out", type=Path, metavar="PATH")
    scan.add_argument(
        "--skip-blank",
        type=int,
        nargs="?",
        const=DEFAULT_BLANK_SENSITIVITY,
        metavar="SENSITIVITY",
        help="leave blank pages out (sensitivity 0-100, higher skips more; "
        f"default {DEFAULT_BLANK_SENSITIVITY})",
    )
    scan.set_defaults(run=_scan)

    push = commands.add_parser("push", help="scan from the scanner's panel")
    push.add_argument("device", metavar="DEVICE")
    push.add_argument("--destination", required=True, metavar="NAME")
    push.add_argument("--out", type=Path, required=True, metavar="DIR")
    push.add_argument("--count", type=int, default=1, metavar="N")
    push.add_argument("--notify-host", default="127.0.0.1", metavar="IPADDR")
    push.add_argument(
        "--discovery-port",
        type=int,
        default=Multicast().port,
        metavar="PORT",
        help="where the scanner's Hello is heard (WS-Discovery: 3702)",
    )
    push.set_defaults(run=_push)

    post = commands.add_parser("post-scan", help="upload files to a WS-DSP endpoint")
    post.add_argument("endpoint", metavar="ENDPOINT")
    post.add_argument("files", type=Path, nargs="+", metavar="FILE")
    post.add_argument("--document-root", default="scan", metavar="NAME")
    post.add_argument("--user", default=NULL_SID, metavar="SID")
    post.add_argument("--process-id", metavar="GUID", help="default: a fresh GUID")
    post.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="XML|URI",
        help="a FiltersToProcess entry (repeatable)",
    )
    post.add_argument("--ca-file", type=Path, metavar="PEM", help="a CA to trust")
    post.add_argument(
        "--insecure", action="store_true", help="do not verify the TLS certificate"
    )
    post.set_defaults(run=_post_scan)

    serve = commands.add_parser(
        "serve-post-scan", help="receive WS-DSP post-scan jobs into a folder"
    )
    serve.add_argument("--out", type=Path, required=True, metavar="DIR")
    serve.add_argument("--host", default="127.0.0.1", metavar="IPADDR")
    serve.add_argument("--port", type=int, default=0, metavar="N")
    serve.add_argument(
        "--count",
        type=int,
        default=0,
        metavar="N",
        help="stop after the EndPostScanJob of N jobs (default: run until stopped)",
    )
    serve.set_defaults(run=_serve_post_scan)
    return parser


async def run(argv: Sequence[str] | None = None) -> int:
    """Run a command in the running event loop; return the exit status."""
    options = build_parser().parse_args(argv)
    try:
        await options.run(options)
    except WsdError as err:
        print(f"error: {ADVICE[err.kind]} ({err})", file=sys.stderr)
        return _EXIT_USAGE if err.kind is ErrorKind.INVALID_ARGUMENT else _EXIT_FAILURE
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return _EXIT_FAILURE
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; return the exit status (130 after Ctrl-C)."""
    try:
        return asyncio.run(run(argv))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
