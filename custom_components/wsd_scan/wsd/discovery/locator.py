"""Finding devices with their metadata: behind an address, or on the local network.

`locate` is the one call for everything that starts from an address a person typed or
mDNS announced: the config flow, the `wsd` command line and the post-scan endpoint lookup.
`find_scanners` probes the local network and describes what answers, for a list to
choose from.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Collection, Iterable
import contextlib
from dataclasses import dataclass
import logging
from ssl import SSLContext
from typing import cast

import aiohttp
import yarl

from .. import soap
from ..exceptions import ErrorKind, WsdError, most_telling
from ..metadata import get_device_info
from ..models import DeviceInfo, DiscoveredDevice
from .codec import is_scanner
from .directed import DIRECTED_PROBE_PATH, directed_probe, directed_probe_url
from .multicast import PROBE_TIMEOUT, probe
from .sockets import DEFAULT_MULTICAST, Multicast

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LocatedDevice:
    """A WSD device found behind an address, and what its metadata says."""

    #: The address that answered: the target as given, or `host:port` of the port tried.
    address: str
    #: Its transport addresses, best first (a device URL given comes first).
    xaddrs: tuple[str, ...]
    info: DeviceInfo


@dataclass(frozen=True, slots=True)
class FoundScanner:
    """A scanner a probe found, with its metadata unless that did not come in time."""

    device: DiscoveredDevice
    info: DeviceInfo | None


def is_listed(device: DiscoveredDevice, info: DeviceInfo | None) -> bool:
    """Whether a probed device is a scanner to offer.

    The metadata settles it (a scan service); without metadata, what the device
    advertised does (a print-only candidate is left out).
    """
    if info is not None:
        return info.scan_service_url is not None
    return is_scanner(device)


async def find_scanners(
    session: aiohttp.ClientSession,
    interfaces: Iterable[str],
    *,
    timeout: float = PROBE_TIMEOUT,
    describe_timeout: float = soap.REQUEST_TIMEOUT,
    exclude: Collection[str] = (),
    multicast: Multicast = DEFAULT_MULTICAST,
) -> list[FoundScanner]:
    """Probe for scanners, reading each one's metadata while the probe listens.

    Devices that may hide a scanner behind print types are asked too
    (`is_scanner_candidate`); `is_listed` decides what is returned. Endpoints in
    `exclude` (normalised UUIDs, such as the ones already set up) are left out
    unasked. Raises `WsdError` when no interface can probe.
    """
    found: dict[str, tuple[DiscoveredDevice, asyncio.Task[DeviceInfo | None]]] = {}
    try:
        async with contextlib.aclosing(
            cast(  # an async generator, closed early with its sockets on error
                "AsyncGenerator[DiscoveredDevice]",
                probe(
                    interfaces,
                    timeout=timeout,
                    include_candidates=True,
                    multicast=multicast,
                ),
            )
        ) as devices:
            async for device in devices:
                if device.uuid not in exclude:
                    found[device.uuid] = (
                        device,
                        asyncio.create_task(
                            _try_describe(session, device, describe_timeout)
                        ),
                    )
        infos = await asyncio.gather(*(task for _, task in found.values()))
    finally:
        for _, task in found.values():
            task.cancel()
    return [
        FoundScanner(device, info)
        for (device, _), info in zip(found.values(), infos, strict=True)
        if is_listed(device, info)
    ]


async def _try_describe(
    session: aiohttp.ClientSession, device: DiscoveredDevice, timeout: float
) -> DeviceInfo | None:
    """Return a probed device's metadata, None unless it comes within `timeout`."""
    try:
        async with asyncio.timeout(timeout):
            return await get_device_info(
                session, device.uuid, device.xaddrs, timeout=timeout
            )
    except (WsdError, TimeoutError) as err:
        _LOGGER.debug("No metadata from %s: %s", device.uuid, err or "timeout")
        return None


async def locate(
    session: aiohttp.ClientSession,
    target: str,
    *,
    ports: Collection[int] = (),
    timeout: float = soap.REQUEST_TIMEOUT,
    ssl: SSLContext | bool = True,
) -> LocatedDevice:
    """Find the WSD device behind `target` and read its metadata.

    `target` is a host, `host:port`, `[v6]:port` or a device URL. A directed probe asks
    the host's discovery endpoint (on the URL's scheme and port; port 80 for a bare
    host); a scanner among the matches is preferred. A device URL that does not host the
    discovery endpoint is still taken when it answers the metadata Get. With `ports`,
    `target` is a bare host tried on each port in turn until a device answers.

    Raises `WsdError`: INVALID_ARGUMENT when `target` is no host or http(s) URL,
    UNSUPPORTED when the endpoint answers but no device matches, else what the last
    step failed with (the most telling error over all ports).
    """
    if not ports:
        return await _locate(session, target.strip(), timeout, ssl)
    errors: list[WsdError] = []
    for port in dict.fromkeys(ports):
        try:
            authority = yarl.URL.build(scheme="http", host=target, port=port)
        except ValueError as err:
            raise WsdError(
                ErrorKind.INVALID_ARGUMENT, f"not a host: {target!r}"
            ) from err
        try:
            return await _locate(session, authority.raw_authority, timeout, ssl)
        except WsdError as err:
            errors.append(err)
    raise most_telling(errors)


async def _locate(
    session: aiohttp.ClientSession,
    target: str,
    timeout: float,
    ssl: SSLContext | bool,
) -> LocatedDevice:
    probe_url = directed_probe_url(target)
    device_url = target if "://" in target else None
    if device_url is not None:
        probe_url = str(yarl.URL(device_url).with_path(DIRECTED_PROBE_PATH))
    try:
        devices = await directed_probe(session, probe_url, timeout=timeout)
    except WsdError:
        if device_url is None:
            raise
        devices = []
    if not devices:
        if device_url is None:  # the endpoint exists, but nothing there matches (202)
            raise WsdError(ErrorKind.UNSUPPORTED, f"{target} is no WSD device")
        # The metadata names the device.
        info = await get_device_info(
            session, device_url, [device_url], timeout=timeout, ssl=ssl
        )
        return LocatedDevice(target, (device_url,), info)
    device = next((d for d in devices if is_scanner(d)), devices[0])
    first = (device_url,) if device_url is not None else ()
    xaddrs = tuple(dict.fromkeys((*first, *device.xaddrs)))
    info = await get_device_info(session, device.uuid, xaddrs, timeout=timeout, ssl=ssl)
    return LocatedDevice(target, xaddrs, info)
