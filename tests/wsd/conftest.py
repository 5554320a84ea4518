"""Fixtures of the wsd library tests: an HTTP client session, tiny devices, free ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
import socket

import aiohttp
from aiohttp import web
import pytest

CAPTURES = Path(__file__).parents[1] / "captures"

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
type DeviceFactory = Callable[[Handler], Awaitable[str]]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Provide an HTTP client session like the one Home Assistant hands the library."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def http_device(socket_enabled: None) -> AsyncIterator[DeviceFactory]:
    """Start tiny HTTP "devices" on loopback, returning their base URL.

    Every request is answered by `handler` at any path; the returned URL is the base.
    """
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def udp_port(socket_enabled: None) -> int:
    """Find a free UDP port, so each test has its own WS-Discovery "network"."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def closed_port(socket_enabled: None) -> int:
    """Find a TCP port on loopback where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
