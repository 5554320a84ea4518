"""WS-Discovery 2005/04 responder over SOAP-over-UDP, pinned to one interface.

Network safety: the multicast membership is taken on the given interface only, outgoing
multicast leaves through that interface, and unicast replies go only to loopback senders
when the interface is a loopback address.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import ipaddress
import logging
import random
import socket
import sys

from lxml import etree

from .soap import (
    ANONYMOUS,
    DISCOVERY_URN,
    WSA,
    WSD,
    SoapFault,
    SoapRequest,
    Writer,
    child,
    normalize_uuid,
    parse_request,
    serialize,
    sub,
    text,
)

_LOGGER = logging.getLogger(__name__)

MULTICAST_GROUP = "239.255.255.250"
DISCOVERY_PORT = 3702
# Linux <netinet/in.h>; the socket module does not export it.
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


@dataclass(frozen=True)
class UdpTiming:
    """SOAP-over-UDP retransmission constants (SOAP-over-UDP 1.1, Appendix I)."""

    multicast_repeat: int = 2
    unicast_repeat: int = 2
    min_delay: float = 0.05
    max_delay: float = 0.25
    upper_delay: float = 0.45


@dataclass(frozen=True)
class Endpoint:
    """What discovery messages say about the device."""

    address: str
    types: list[tuple[str, str]]
    xaddrs: list[str]
    metadata_version: int


class AppSequence:
    """AppSequence InstanceId / MessageNumber of one device instance."""

    def __init__(self, instance_id: int) -> None:
        """Start a sequence for `instance_id`."""
        self.instance_id = instance_id
        self.message_number = 0

    def next(self) -> tuple[int, int]:
        """Return (InstanceId, MessageNumber) for the next message."""
        self.message_number += 1
        return self.instance_id, self.message_number


def _write_match(
    parent: etree._Element,
    element: str,
    writer: Writer,
    endpoint: Endpoint,
    *,
    xaddrs: bool = True,
) -> None:
    node = sub(parent, WSD, element)
    sub(sub(node, WSA, "EndpointReference"), WSA, "Address", endpoint.address)
    if endpoint.types:
        sub(
            node,
            WSD,
            "Types",
            " ".join(writer.qname_text(ns, local) for ns, local in endpoint.types),
        )
    if xaddrs and endpoint.xaddrs:
        sub(node, WSD, "XAddrs", " ".join(endpoint.xaddrs))
    sub(node, WSD, "MetadataVersion", endpoint.metadata_version)


def discovery_message(
    writer: Writer,
    sequence: AppSequence,
    action: str,
    body_element: str,
    matches: list[tuple[str, Endpoint]],
    *,
    relates_to: str | None = None,
    xaddrs: bool = True,
) -> bytes:
    """Build Hello/Bye/ProbeMatches/ResolveMatches with an AppSequence header."""
    appseq = etree.Element(f"{{{WSD}}}AppSequence")
    instance_id, number = sequence.next()
    appseq.set("InstanceId", str(instance_id))
    appseq.set("MessageNumber", str(number))
    to = DISCOVERY_URN if relates_to is None else ANONYMOUS
    root, _header, body = writer.envelope(
        f"{WSD}/{action}", to=to, relates_to=relates_to, extra_headers=[appseq]
    )
    if body_element in ("ProbeMatches", "ResolveMatches"):
        container = sub(body, WSD, body_element)
        for element, endpoint in matches:
            _write_match(container, element, writer, endpoint)
    else:
        for element, endpoint in matches:
            _write_match(body, element, writer, endpoint, xaddrs=xaddrs)
    return serialize(root)


def probe_matches(probe: etree._Element, endpoint: Endpoint) -> bool:
    """Whether a Probe body selects the endpoint (all Types, by QName; Scopes unsupported)."""
    if child(probe, "Scopes") is not None and text(probe, "Scopes"):
        return False
    types = child(probe, "Types")
    if types is None or not (types.text or "").strip():
        return True
    offered = set(endpoint.types)
    for item in (types.text or "").split():
        prefix, _, local = item.rpartition(":")
        namespace = types.nsmap.get(prefix or None)
        if (namespace, local) not in offered:
            return False
    return True


def resolve_matches(resolve: etree._Element, endpoint: Endpoint) -> bool:
    """Whether a Resolve body names the endpoint (urn:uuid / uuid: forms alike)."""
    wanted = text(resolve, "EndpointReference", "Address") or ""
    return normalize_uuid(wanted) == normalize_uuid(endpoint.address)


class DiscoveryResponder(asyncio.DatagramProtocol):
    """Answers Probe and Resolve; sends Hello and Bye."""

    def __init__(
        self,
        interface: str,
        port: int,
        respond: Callable[[SoapRequest, str], list[bytes]],
        timing: UdpTiming,
        reply_delay: Callable[[], float],
    ) -> None:
        """Listen on `interface`; `respond(request, kind)` builds the reply datagrams."""
        self.interface = interface
        self.port = port
        self.respond = respond
        self.timing = timing
        self.reply_delay = reply_delay
        self._listener: asyncio.DatagramTransport | None = None
        self._sender: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.received: list[bytes] = []

    def _remote_allowed(self, host: str) -> bool:
        if not ipaddress.ip_address(self.interface).is_loopback:
            return True
        return ipaddress.ip_address(host).is_loopback

    async def start(self) -> None:
        """Join the group on the interface and open the sending socket."""
        loop = asyncio.get_running_loop()
        listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if sys.platform == "linux":
            # Only deliver the groups this socket joined, not those of other processes.
            listen.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        listen.bind((MULTICAST_GROUP, self.port))
        membership = socket.inet_aton(MULTICAST_GROUP) + socket.inet_aton(
            self.interface
        )
        listen.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        listen.setblocking(False)
        send = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        send.setsockopt(
            socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.interface)
        )
        send.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        send.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        send.bind((self.interface, 0))
        send.setblocking(False)
        self._listener, _ = await loop.create_datagram_endpoint(
            lambda: self, sock=listen
        )
        self._sender, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, sock=send
        )

    async def stop(self) -> None:
        """Finish pending sends and close the sockets."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for transport in (self._listener, self._sender):
            if transport is not None:
                transport.close()
        self._listener = self._sender = None

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        """Answer Probe / Resolve datagrams."""
        host, port = str(addr[0]), int(str(addr[1]))
        if not self._remote_allowed(host):
            return
        self.received.append(data)
        try:
            request = parse_request(data)
        except SoapFault:
            return
        kind = request.action.rsplit("/", 1)[-1]
        if kind not in ("Probe", "Resolve"):
            return
        replies = self.respond(request, kind)
        if replies:
            delay = self.reply_delay() if kind == "Probe" else 0.0
            self._spawn(self._send_replies(replies, (host, port), delay))

    async def _send_replies(
        self, replies: list[bytes], addr: tuple[str, int], delay: float
    ) -> None:
        await asyncio.sleep(delay)
        for reply in replies:
            await self.send(reply, addr, self.timing.unicast_repeat)

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def multicast(self, data: bytes) -> None:
        """Send a multicast message with SOAP-over-UDP repetition."""
        await self.send(
            data, (MULTICAST_GROUP, self.port), self.timing.multicast_repeat
        )

    async def send(self, data: bytes, addr: tuple[str, int], repeat: int) -> None:
        """Send `data` `repeat` times with the SOAP-over-UDP back-off; same MessageID."""
        delay = random.uniform(self.timing.min_delay, self.timing.max_delay)
        for copy_index in range(repeat):
            if self._sender is None:
                return
            if copy_index:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.timing.upper_delay)
            self._sender.sendto(data, addr)
