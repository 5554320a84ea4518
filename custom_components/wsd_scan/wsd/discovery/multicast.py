"""One-shot multicast exchanges: Probe for scanners, Resolve an endpoint.

A Probe for `wsdp:Device` (as Windows sends it) goes out from one socket per interface
address, repeated as SOAP-over-UDP (September 2004, Appendix I) prescribes; answers are
taken only when their RelatesTo names one of our requests, once per MessageID.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
import functools
import logging
import random
import socket
from typing import Final

from ..exceptions import ErrorKind, WsdError
from ..models import DiscoveredDevice, normalize_uuid
from ..recent import RecentIds
from ..xml import new_message_id
from .codec import (
    DiscoveryMessage,
    decode_message,
    is_scanner,
    is_scanner_candidate,
    merge_devices,
    probe_message,
    resolve_for,
)
from .sockets import (
    DEFAULT_MULTICAST,
    Endpoint,
    Interface,
    Multicast,
    close_endpoints,
    open_endpoints,
    parse_interfaces,
    sender_socket,
)

_LOGGER = logging.getLogger(__name__)

#: Default listening window of a probe. DPWS lets devices wait up to 5 s before answering
#: (APP_MAX_DELAY, DPWS Appendix I), most answer within 1 s; sane-airscan listens 2.5 s.
PROBE_TIMEOUT: Final = 4.0
#: ResolveMatches come without the random delay (WS-Discovery section 6.3).
RESOLVE_TIMEOUT: Final = 2.0

#: SOAP-over-UDP retransmission (Appendix I): copies in total, first delay range, cap.
MULTICAST_UDP_REPEAT: Final = 4
UDP_MIN_DELAY: Final = 0.05
UDP_MAX_DELAY: Final = 0.25
UDP_UPPER_DELAY: Final = 0.5
#: MessageIDs remembered to drop retransmitted copies (SOAP-over-UDP Appendix II).
RECENT_IDS: Final = 1024


@dataclass(frozen=True, slots=True)
class _Arrival:
    message: DiscoveryMessage
    interface: Interface
    time: float


class _Exchange:
    """Per-interface sockets that multicast requests and collect the answers to them."""

    def __init__(self, interfaces: Iterable[str], multicast: Multicast) -> None:
        self._interfaces = parse_interfaces(interfaces)
        self._multicast = multicast
        self._endpoints: list[Endpoint] = []
        self._requests: set[str] = set()
        self._recent = RecentIds(RECENT_IDS)
        self._queue: asyncio.Queue[_Arrival] = asyncio.Queue()
        self._senders: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        if not self._interfaces:
            raise WsdError(
                ErrorKind.INVALID_ARGUMENT, "no interface address to probe on"
            )
        self._endpoints = await open_endpoints(
            self._interfaces, sender_socket, self._received
        )
        if not self._endpoints:
            raise WsdError(
                ErrorKind.UNREACHABLE,
                "cannot open a WS-Discovery socket on any interface",
            )

    def close(self) -> None:
        for task in self._senders:
            task.cancel()
        close_endpoints(self._endpoints)

    def _received(self, data: bytes, source: str, interface: Interface) -> None:
        try:
            message = decode_message(data, source=source, zone=interface.zone)
        except WsdError as err:
            _LOGGER.debug("Dropping datagram from %s: %s", source, err)
            return
        if message.relates_to not in self._requests or self._recent.seen(
            message.message_id
        ):
            return
        now = asyncio.get_running_loop().time()
        self._queue.put_nowait(_Arrival(message, interface, now))

    def send(
        self, build: Callable[[str], bytes], interface: Interface | None = None
    ) -> None:
        """Multicast `build(message_id)` with SOAP-over-UDP repeats; expect answers."""
        message_id = new_message_id()
        self._requests.add(message_id)
        payload = build(message_id)
        endpoints = [
            endpoint
            for endpoint in self._endpoints
            if interface is None or endpoint.interface == interface
        ]
        task = asyncio.get_running_loop().create_task(self._repeat(payload, endpoints))
        self._senders.add(task)
        task.add_done_callback(self._senders.discard)

    async def _repeat(self, payload: bytes, endpoints: list[Endpoint]) -> None:
        delay = random.uniform(UDP_MIN_DELAY, UDP_MAX_DELAY)
        for copy in range(MULTICAST_UDP_REPEAT):
            if copy:
                await asyncio.sleep(delay)
                delay = min(delay * 2, UDP_UPPER_DELAY)
            for endpoint in endpoints:
                if endpoint.transport is None or endpoint.transport.is_closing():
                    continue
                interface = endpoint.interface
                destination: tuple[str, int] | tuple[str, int, int, int] = (
                    (self._multicast.group_v4, self._multicast.port)
                    if interface.family == socket.AF_INET
                    else (
                        self._multicast.group_v6,
                        self._multicast.port,
                        0,
                        interface.ifindex,
                    )
                )
                endpoint.transport.sendto(payload, destination)

    async def receive(self, deadline: float) -> _Arrival | None:
        """Return the next answer that arrived before `deadline`; None once it passed."""
        loop = asyncio.get_running_loop()
        while True:
            remaining = deadline - loop.time()
            try:
                if remaining > 0:
                    async with asyncio.timeout(remaining):
                        arrival = await self._queue.get()
                else:
                    arrival = self._queue.get_nowait()
            except TimeoutError, asyncio.QueueEmpty:
                return None
            if arrival.time <= deadline:
                return arrival


async def probe(
    interfaces: Iterable[str],
    *,
    timeout: float = PROBE_TIMEOUT,
    include_candidates: bool = False,
    multicast: Multicast = DEFAULT_MULTICAST,
) -> AsyncIterator[DiscoveredDevice]:
    """Probe for scanners through each interface address; yield each device once, as found.

    `interfaces` are local addresses; IPv6 ones carry their scope (`fe80::1%2`, the
    `scope_id` of Home Assistant's adapters, or `fe80::1%eth0`). Home Assistant passes
    its enabled adapters. The probe asks for `wsdp:Device` and yields the devices
    advertising `ScanDeviceType`, and with `include_candidates` also those that may hide
    a scanner behind print types (`is_scanner_candidate`; confirm with their metadata).
    Matches without XAddrs are resolved first. The listening window lasts `timeout`
    seconds; leave the loop early with `contextlib.aclosing` to close the sockets at once.
    """
    wanted = is_scanner_candidate if include_candidates else is_scanner
    exchange = _Exchange(interfaces, multicast)
    await exchange.open()
    try:
        exchange.send(lambda message_id: probe_message(message_id=message_id))
        deadline = asyncio.get_running_loop().time() + timeout
        found: set[str] = set()
        resolving: dict[str, DiscoveredDevice] = {}
        while (arrival := await exchange.receive(deadline)) is not None:
            message = arrival.message
            for address, device in zip(message.addresses, message.devices, strict=True):
                if device.uuid in found:
                    continue
                if device.uuid in resolving:  # ResolveMatch: keep what the probe said
                    device = merge_devices(resolving[device.uuid], device)
                if not wanted(device):
                    continue
                if not device.xaddrs:
                    if device.uuid not in resolving:
                        resolving[device.uuid] = device
                        exchange.send(
                            functools.partial(resolve_for, address), arrival.interface
                        )
                    continue
                found.add(device.uuid)
                yield device
    finally:
        exchange.close()


async def resolve(
    address: str,
    interfaces: Iterable[str],
    *,
    timeout: float = RESOLVE_TIMEOUT,
    multicast: Multicast = DEFAULT_MULTICAST,
) -> DiscoveredDevice | None:
    """Ask where endpoint `address` lives now; None when it does not answer in time.

    `address` is the endpoint address as the device writes it, or a bare UUID (sent as
    `urn:uuid:…`).
    """
    wanted = normalize_uuid(address)
    exchange = _Exchange(interfaces, multicast)
    await exchange.open()
    try:
        exchange.send(functools.partial(resolve_for, address))
        deadline = asyncio.get_running_loop().time() + timeout
        while (arrival := await exchange.receive(deadline)) is not None:
            for device in arrival.message.devices:
                if device.uuid == wanted and device.xaddrs:
                    return device
        return None
    finally:
        exchange.close()
