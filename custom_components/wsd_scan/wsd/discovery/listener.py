"""Passive listening: Hello and Bye on the WS-Discovery port.

The listener shares the port with every other WS-Discovery user of the host
(SO_REUSEADDR/SO_REUSEPORT, bound to the group address so unicast meant for others is not
taken), and tracks AppSequence (WS-Discovery Appendix I) to report reboots and to drop
stale messages.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable
import contextlib
from dataclasses import dataclass, replace
from enum import StrEnum
import functools
import logging
from typing import Self

from ..exceptions import ErrorKind, WsdError
from ..models import AppSequence, DiscoveredDevice
from ..recent import RecentIds
from .codec import MessageKind, decode_message, is_scanner, is_scanner_candidate
from .multicast import RECENT_IDS, RESOLVE_TIMEOUT, resolve
from .sockets import (
    DEFAULT_MULTICAST,
    Endpoint,
    Interface,
    Multicast,
    close_endpoints,
    listener_socket,
    open_endpoints,
    parse_interfaces,
)

_LOGGER = logging.getLogger(__name__)


class DiscoveryEventType(StrEnum):
    """What a device announced."""

    HELLO = "hello"
    BYE = "bye"


@dataclass(frozen=True, slots=True)
class DiscoveryEvent:
    """A Hello or Bye heard by `DiscoveryListener`.

    A Bye needs to name only the endpoint, so its `device.types` and `device.xaddrs` are
    often empty. `rebooted` is set when the device's AppSequence InstanceId rose since
    its previous message: its WS-Eventing subscriptions are gone.
    """

    type: DiscoveryEventType
    device: DiscoveredDevice
    rebooted: bool = False


class AppSequenceTracker:
    """Per-endpoint AppSequence bookkeeping (WS-Discovery Appendix I).

    The rules are those of Windows' WSDAPI ("AppSequence Validation Rules").

    `check` returns None for a stale or repeated message (drop it), else whether the
    device restarted since the last accepted message (higher InstanceId). The devices
    heard least recently are forgotten beyond `size`, so a flood of invented endpoints
    cannot grow it without bound.
    """

    def __init__(self, size: int = RECENT_IDS) -> None:
        """Start with no device known."""
        self._last: OrderedDict[str, AppSequence] = OrderedDict()
        self._size = size

    def check(self, uuid: str, sequence: AppSequence | None) -> bool | None:
        """Accept or reject a message of endpoint `uuid`; see the class docstring."""
        if sequence is None:
            return False
        last = self._last.get(uuid)
        if last is not None:
            if sequence.instance_id < last.instance_id:
                return None
            if (
                sequence.instance_id == last.instance_id
                and sequence.sequence_id == last.sequence_id
                and sequence.message_number <= last.message_number
            ):
                return None
        self._last[uuid] = sequence
        self._last.move_to_end(uuid)
        if len(self._last) > self._size:
            self._last.popitem(last=False)
        return last is not None and sequence.instance_id > last.instance_id


class DiscoveryListener:
    """Hears Hello and Bye on the WS-Discovery port and reports them through a callback.

    Hello is reported for scanners (and, with `include_candidates`, for devices that may
    be scanners); Bye for every device, since it carries no types. Hello without XAddrs
    (WSDAPI-based devices) is resolved before it is reported. Messages repeated or older
    than the last one accepted from a device (AppSequence) are dropped. Use as an async
    context manager, or call `start` and `stop`.
    """

    def __init__(
        self,
        interfaces: Iterable[str],
        callback: Callable[[DiscoveryEvent], None],
        *,
        include_candidates: bool = False,
        multicast: Multicast = DEFAULT_MULTICAST,
        resolve_timeout: float = RESOLVE_TIMEOUT,
    ) -> None:
        """Prepare to listen on the given interface addresses."""
        self._interfaces = parse_interfaces(interfaces)
        self._callback = callback
        self._wanted = is_scanner_candidate if include_candidates else is_scanner
        self._multicast = multicast
        self._resolve_timeout = resolve_timeout
        self._endpoints: list[Endpoint] = []
        self._recent = RecentIds(RECENT_IDS)
        self._sequences = AppSequenceTracker()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        """Whether at least one interface is being listened on."""
        return bool(self._endpoints)

    async def start(self) -> None:
        """Join the discovery group on every interface that allows it.

        Raises `WsdError` when no interface could be joined at all.
        """
        if self._endpoints:
            return
        self._endpoints = await open_endpoints(
            self._interfaces,
            functools.partial(listener_socket, multicast=self._multicast),
            self._received,
        )
        if not self._endpoints:
            raise WsdError(
                ErrorKind.UNREACHABLE,
                f"cannot listen for WS-Discovery on UDP port {self._multicast.port}",
            )

    async def stop(self) -> None:
        """Leave the group and drop pending resolutions."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        close_endpoints(self._endpoints)
        self._endpoints = []
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Self:
        """Start listening."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop listening."""
        await self.stop()

    def _received(self, data: bytes, source: str, interface: Interface) -> None:
        try:
            message = decode_message(data, source=source, zone=interface.zone)
        except WsdError as err:
            _LOGGER.debug("Dropping datagram from %s: %s", source, err)
            return
        if message.kind not in (MessageKind.HELLO, MessageKind.BYE):
            return
        if self._recent.seen(message.message_id):
            return
        for address, device in zip(message.addresses, message.devices, strict=True):
            rebooted = self._sequences.check(device.uuid, message.app_sequence)
            if rebooted is None:
                _LOGGER.debug("Dropping stale %s of %s", message.kind, device.uuid)
                continue
            if message.kind is MessageKind.BYE:
                self._report(DiscoveryEvent(DiscoveryEventType.BYE, device, rebooted))
            elif not self._wanted(device):
                continue
            elif device.xaddrs:
                self._report(DiscoveryEvent(DiscoveryEventType.HELLO, device, rebooted))
            else:
                task = asyncio.get_running_loop().create_task(
                    self._resolve_and_report(address, device, rebooted, interface)
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _resolve_and_report(
        self,
        address: str,
        device: DiscoveredDevice,
        rebooted: bool,
        interface: Interface,
    ) -> None:
        spec = (
            f"{interface.address}%{interface.ifindex}"
            if interface.ifindex
            else interface.address
        )
        try:
            resolved = await resolve(
                address,
                [spec],
                timeout=self._resolve_timeout,
                multicast=self._multicast,
            )
        except WsdError as err:
            _LOGGER.debug("Cannot resolve %s: %s", device.uuid, err)
            resolved = None
        if resolved is not None:
            device = replace(
                device, xaddrs=resolved.xaddrs, source_address=resolved.source_address
            )
        self._report(DiscoveryEvent(DiscoveryEventType.HELLO, device, rebooted))

    def _report(self, event: DiscoveryEvent) -> None:
        if self._endpoints:
            self._callback(event)
