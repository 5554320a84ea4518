"""Fixtures for things on loopback: scripted HTTP "devices", ports, a discovery port.

Registered for the whole suite in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
import socket

from aiohttp import web
import pytest

from custom_components.wsd_scan.wsd import Multicast

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
type DeviceFactory = Callable[[Handler], Awaitable[str]]


@pytest.fixture
async def http_device(socket_enabled: None) -> AsyncIterator[DeviceFactory]:
    """Start tiny HTTP "devices" on loopback; each call returns a base URL.

    Every request is answered by `handler` at any path; the returned URL is the base.
    """
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def udp_port(socket_enabled: None) -> int:
    """Return a free UDP port, so each test has its own WS-Discovery "network"."""
    return _free_port(socket.SOCK_DGRAM)


@pytest.fixture
def multicast(udp_port: int) -> Multicast:
    """Give the test its own WS-Discovery "network": the usual group, a free UDP port."""
    return Multicast(port=udp_port)


@pytest.fixture
def closed_port(socket_enabled: None) -> int:
    """Return a TCP port on loopback where nothing listens."""
    return _free_port(socket.SOCK_STREAM)
