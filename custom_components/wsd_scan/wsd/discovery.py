"""WS-Discovery client: multicast Probe and Resolve, Hello/Bye listener, directed probe.

Protocol reference: shared/protocol/discovery.md (§ numbers below). What this module does:

* `probe` sends a Probe for `wsdp:Device` (as Windows does) from one socket per interface
  address, repeated as SOAP-over-UDP prescribes, and yields devices as their ProbeMatches
  arrive during the listening window. Matches without XAddrs are resolved on the way.
* `resolve` asks, by multicast, where a known endpoint lives now.
* `DiscoveryListener` hears Hello and Bye on the WS-Discovery port. It shares the port with
  every other WS-Discovery user of the host (SO_REUSEADDR/SO_REUSEPORT, bound to the group
  address so unicast meant for others is not taken), and tracks AppSequence to report
  reboots and to drop stale messages.
* `directed_probe` POSTs a Probe to a host's well-known HTTP discovery endpoint (§5), for
  scanners added by host name or reached across routers.

Every message is read with the hardened parser of `xml`; garbage never escapes as anything
but a dropped datagram. Answers are de-duplicated by MessageID, and only answers whose
RelatesTo names one of our own requests are taken.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
import contextlib
from dataclasses import dataclass, replace
from enum import StrEnum
import functools
import ipaddress
import logging
import random
import socket
import struct
import sys
from typing import Final, Self
from urllib.parse import urlsplit

import aiohttp
import yarl

from . import soap
from .exceptions import ErrorKind, WsdError
from .models import AppSequence, DiscoveredDevice, normalize_uuid
from .xml import (
    DISCOVERY_URN,
    SCAN,
    SOAP,
    WSA,
    WSD,
    WSDP,
    Element,
    Envelope,
    build_envelope,
    element,
    find,
    findall,
    new_message_id,
    parse_envelope,
    qname_values,
    sub,
    text,
)

_LOGGER = logging.getLogger(__name__)

DISCOVERY_PORT: Final = 3702
MULTICAST_V4: Final = "239.255.255.250"
MULTICAST_V6: Final = "ff02::c"
DIRECTED_PROBE_PATH: Final = (
    "/StableWSDiscoveryEndpoint/schemas-xmlsoap-org_ws_2005_04_discovery"
)

#: Default listening window of a probe. DPWS lets devices wait up to 5 s before answering,
#: most answer within 1 s; sane-airscan listens 2.5 s (§2.1).
PROBE_TIMEOUT: Final = 4.0
#: ResolveMatches come without the random delay (§3.3).
RESOLVE_TIMEOUT: Final = 2.0

#: SOAP-over-UDP retransmission (§2.1): copies in total, first delay range, cap.
MULTICAST_UDP_REPEAT: Final = 4
UDP_MIN_DELAY: Final = 0.05
UDP_MAX_DELAY: Final = 0.25
UDP_UPPER_DELAY: Final = 0.5

#: One SOAP envelope per datagram, < 64 KiB (§2).
MAX_DATAGRAM: Final = 65_536

PRINT: Final = "http://schemas.microsoft.com/windows/2006/08/wdp/print"
DEVICE_TYPE: Final = (WSDP, "Device")
SCAN_DEVICE_TYPE: Final = (SCAN, "ScanDeviceType")
PRINT_DEVICE_TYPE: Final = (PRINT, "PrintDeviceType")

ACTION_PROBE: Final = f"{WSD}/Probe"
ACTION_RESOLVE: Final = f"{WSD}/Resolve"

# Discovery messages declare only what they use (like Windows): they travel in datagrams.
_UDP_NSMAP: Final = {"soap": SOAP, "wsa": WSA, "wsd": WSD, "wsdp": WSDP}

_RECENT_IDS: Final = 1024
_IP_MULTICAST_ALL: Final = 49  # Linux <netinet/in.h>; absent from the socket module


# --- public types ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Multicast:
    """Where WS-Discovery multicast goes; tests put it on another port."""

    port: int = DISCOVERY_PORT
    group_v4: str = MULTICAST_V4
    group_v6: str = MULTICAST_V6


DEFAULT_MULTICAST: Final = Multicast()


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


class MessageKind(StrEnum):
    """The WS-Discovery messages a client receives (and the Probe/Resolve of others)."""

    HELLO = "Hello"
    BYE = "Bye"
    PROBE_MATCHES = "ProbeMatches"
    RESOLVE_MATCHES = "ResolveMatches"
    PROBE = "Probe"
    RESOLVE = "Resolve"


@dataclass(frozen=True, slots=True)
class DiscoveryMessage:
    """A decoded WS-Discovery message.

    `addresses` holds each device's endpoint address as written by the device (`uuid:…`,
    `urn:uuid:…`), in the order of `devices`; a Resolve must repeat it verbatim.
    """

    kind: MessageKind
    message_id: str | None
    relates_to: str | None
    app_sequence: AppSequence | None
    devices: tuple[DiscoveredDevice, ...]
    addresses: tuple[str, ...]


def is_scanner(device: DiscoveredDevice) -> bool:
    """Whether the device advertises `{…/wdp/scan}ScanDeviceType` (compared as a QName)."""
    return SCAN_DEVICE_TYPE in device.types


def is_scanner_candidate(device: DiscoveredDevice) -> bool:
    """Whether the device may host a scan service although it does not advertise one.

    Some MFPs list only print types in discovery (or no types at all); their metadata
    (`metadata.get_device_info(...).scan_service_url`) settles it (§3.1).
    """
    return is_scanner(device) or not device.types or PRINT_DEVICE_TYPE in device.types


# --- decoding -------------------------------------------------------------------------------

_KINDS: Final = {f"{{{WSD}}}{kind.value}": kind for kind in MessageKind}
_ENTRY_TAG: Final = {
    MessageKind.PROBE_MATCHES: "wsd:ProbeMatch",
    MessageKind.RESOLVE_MATCHES: "wsd:ResolveMatch",
}


def decode_message(
    data: bytes, *, source: str | None = None, zone: str | None = None
) -> DiscoveryMessage:
    """Decode a WS-Discovery datagram or HTTP body; raise `WsdError(PROTOCOL)` otherwise.

    `source` is the address the message came from: XAddrs on it are put first. `zone` is the
    scope (interface index or name) of the receiving IPv6 interface, added to link-local
    XAddrs that lack one.
    """
    return decode_envelope(
        parse_envelope(data, max_size=MAX_DATAGRAM), source=source, zone=zone
    )


def decode_envelope(
    envelope: Envelope, *, source: str | None = None, zone: str | None = None
) -> DiscoveryMessage:
    """Decode a parsed envelope like `decode_message`."""
    payload = envelope.payload
    kind = _KINDS.get(str(payload.tag)) if payload is not None else None
    if payload is None or kind is None:
        raise WsdError(ErrorKind.PROTOCOL, "not a WS-Discovery message")
    if kind in _ENTRY_TAG:
        entries = findall(payload, _ENTRY_TAG[kind])
    elif kind in (MessageKind.HELLO, MessageKind.BYE):
        entries = [payload]
    else:
        entries = []
    merged: dict[str, tuple[str, DiscoveredDevice]] = {}
    sequence = _app_sequence(envelope)
    for entry in entries:
        decoded = _entry(entry, sequence, source, zone)
        if decoded is None:
            continue
        address, device = decoded
        if device.uuid in merged:  # Lexmark MX310dn: printer and scanner in one message
            address, device = (
                merged[device.uuid][0],
                _merge(merged[device.uuid][1], device),
            )
        merged[device.uuid] = (address, device)
    return DiscoveryMessage(
        kind=kind,
        message_id=envelope.message_id,
        relates_to=envelope.relates_to,
        app_sequence=sequence,
        devices=tuple(device for _, device in merged.values()),
        addresses=tuple(address for address, _ in merged.values()),
    )


def _entry(
    entry: Element,
    sequence: AppSequence | None,
    source: str | None,
    zone: str | None,
) -> tuple[str, DiscoveredDevice] | None:
    address = text(entry, "wsa:EndpointReference/wsa:Address")
    if address is None or not normalize_uuid(address):
        return None
    xaddrs = (text(entry, "wsd:XAddrs") or "").split()
    return address, DiscoveredDevice(
        uuid=normalize_uuid(address),
        types=frozenset(qname_values(entry, "wsd:Types")),
        xaddrs=order_addresses(xaddrs, source=source, zone=zone),
        metadata_version=_unsigned(text(entry, "wsd:MetadataVersion")),
        app_sequence=sequence,
        source_address=source,
    )


def _merge(first: DiscoveredDevice, second: DiscoveredDevice) -> DiscoveredDevice:
    versions = [
        v for v in (first.metadata_version, second.metadata_version) if v is not None
    ]
    return replace(
        first,
        types=first.types | second.types,
        xaddrs=order_addresses(
            (*first.xaddrs, *second.xaddrs), source=first.source_address
        ),
        metadata_version=max(versions) if versions else None,
    )


def _app_sequence(envelope: Envelope) -> AppSequence | None:
    node = (
        find(envelope.header, "wsd:AppSequence")
        if envelope.header is not None
        else None
    )
    if node is None:
        return None
    instance = _unsigned(node.get("InstanceId"))
    number = _unsigned(node.get("MessageNumber"))
    if instance is None or number is None:
        return None
    return AppSequence(instance, number, (node.get("SequenceId") or "").strip() or None)


def _unsigned(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    # Bounded: a 10 000-digit "number" must not cost int() a quadratic conversion.
    if not value.isascii() or not value.isdigit() or len(value) > 20:
        return None
    return int(value)


# --- addresses ------------------------------------------------------------------------------


def _host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None


def same_host(first: str | None, second: str | None) -> bool:
    """Whether two host strings name the same address (case, zone and notation aside)."""
    if first is None or second is None:
        return False
    first_ip, second_ip = _host_ip(first), _host_ip(second)
    if first_ip is not None and second_ip is not None:
        return first_ip == second_ip
    return first.strip("[]").lower() == second.strip("[]").lower()


def url_host(url: str) -> str | None:
    """Return the host of a URL (IPv6 without brackets or zone); None if unparseable."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.partition("%")[0] if host else None


def _unusable(url: str) -> bool:
    """Tell whether a (parseable) URL names a link-local IPv6 address without a zone."""
    host = urlsplit(url).hostname or ""
    address = _host_ip(host)
    return (
        isinstance(address, ipaddress.IPv6Address)
        and address.is_link_local
        and "%" not in host
    )


def _with_zone(url: str, zone: str | None) -> str:
    """Add the receiving interface's zone to a link-local IPv6 literal lacking one."""
    if zone is None or not _unusable(url):
        return url
    start = url.index("[")
    end = url.index("]", start)
    return f"{url[:end]}%25{zone}{url[end:]}"


def order_addresses(
    urls: Iterable[str], *, source: str | None = None, zone: str | None = None
) -> tuple[str, ...]:
    """Keep the http(s) URLs, add IPv6 zones, and order them for trying.

    The address that answered comes first (a device may list addresses of other
    interfaces or unreachable ones: HP, Samsung in peers.md §7), link-local addresses
    without a usable zone last; otherwise the device's order is kept.
    """
    usable: list[str] = []
    for raw in urls:
        try:
            scheme = urlsplit(raw).scheme.lower()
            host = urlsplit(raw).hostname
        except ValueError:
            continue
        if scheme in ("http", "https") and host:
            usable.append(_with_zone(raw, zone))
    unique = list(dict.fromkeys(usable))
    return tuple(
        sorted(
            unique,
            key=lambda url: (not same_host(url_host(url), source), _unusable(url)),
        )
    )


# --- messages -------------------------------------------------------------------------------


def probe_message(
    types: Iterable[tuple[str, str]] = (DEVICE_TYPE,), *, message_id: str | None = None
) -> bytes:
    """Build a Probe for devices implementing all `types` (`wsdp:Device`, like Windows)."""
    prefixes = {namespace: prefix for prefix, namespace in _UDP_NSMAP.items()}
    nsmap = dict(_UDP_NSMAP)
    names = []
    for namespace, local in types:
        if namespace not in prefixes:
            prefixes[namespace] = f"t{len(prefixes)}"
            nsmap[prefixes[namespace]] = namespace
        names.append(f"{prefixes[namespace]}:{local}")
    body = element("wsd:Probe")
    if names:
        sub(body, "wsd:Types", " ".join(names))
    return build_envelope(
        ACTION_PROBE,
        DISCOVERY_URN,
        body,
        message_id=message_id,
        reply_to=None,
        nsmap=nsmap,
    )


def resolve_message(address: str, *, message_id: str | None = None) -> bytes:
    """Build a Resolve for an endpoint address (written as the device writes it)."""
    body = element("wsd:Resolve")
    sub(sub(body, "wsa:EndpointReference"), "wsa:Address", _endpoint_address(address))
    return build_envelope(
        ACTION_RESOLVE,
        DISCOVERY_URN,
        body,
        message_id=message_id,
        reply_to=None,
        nsmap=_UDP_NSMAP,
    )


def _resolve_for(address: str, message_id: str) -> bytes:
    return resolve_message(address, message_id=message_id)


def _endpoint_address(address: str) -> str:
    """`urn:uuid:` for a bare UUID; any other address form is kept verbatim."""
    value = address.strip()
    return value if ":" in value else f"urn:uuid:{value}"


# --- interfaces and sockets -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Interface:
    """A local address to discover through."""

    address: str
    family: socket.AddressFamily
    ifindex: int  # IPv6 scope; 0 for IPv4
    zone: str | None  # how URLs name the scope (`%25<zone>`)


def _interfaces(specs: Iterable[str]) -> list[_Interface]:
    """Parse `192.168.1.5`, `fe80::1%eth0`, `fe80::1%2`; skip what is not an address."""
    parsed: list[_Interface] = []
    for spec in dict.fromkeys(specs):
        try:
            address = ipaddress.ip_address(spec.strip())
        except ValueError:
            _LOGGER.warning("Ignoring %r: not an interface address", spec)
            continue
        if isinstance(address, ipaddress.IPv4Address):
            parsed.append(_Interface(str(address), socket.AF_INET, 0, None))
            continue
        scope = address.scope_id
        try:
            ifindex = (
                (
                    int(scope)
                    if scope and scope.isdigit()
                    else socket.if_nametoindex(scope)
                )
                if scope
                else 0
            )
        except OSError:
            _LOGGER.warning("Ignoring %r: unknown interface %r", spec, scope)
            continue
        bare = str(ipaddress.IPv6Address(str(address).partition("%")[0]))
        parsed.append(
            _Interface(
                bare, socket.AF_INET6, ifindex, str(ifindex) if ifindex else None
            )
        )
    return parsed


def _sender_socket(interface: _Interface) -> socket.socket:
    """Open an ephemeral-port socket that multicasts through one interface."""
    sock = socket.socket(interface.family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        # Bound first: an address the host does not have fails before any option is set.
        if interface.family == socket.AF_INET:
            sock.bind((interface.address, 0))
            sock.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_MULTICAST_IF,
                socket.inet_aton(interface.address),
            )
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((interface.address, 0, 0, interface.ifindex))
            sock.setsockopt(
                socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, interface.ifindex
            )
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1)
    except OSError:
        sock.close()
        raise
    return sock


def _listener_socket(interface: _Interface, multicast: Multicast) -> socket.socket:
    """Open a socket on the shared discovery port that hears one interface's group.

    Never exclusive: SO_REUSEADDR and SO_REUSEPORT let Samba's wsdd, ONVIF discovery and
    others keep the port. On Linux the socket is bound to the group address, so unicast
    datagrams for those others are never taken from them, and IP_MULTICAST_ALL is off, so
    it hears only its own interface's membership.
    """
    v4 = interface.family == socket.AF_INET
    group = multicast.group_v4 if v4 else multicast.group_v6
    sock = socket.socket(interface.family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        linux = sys.platform == "linux"
        if v4:
            if linux:
                sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
            sock.bind((group if linux else "", multicast.port))
            membership = socket.inet_aton(group) + socket.inet_aton(interface.address)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((group if linux else "::", multicast.port, 0, interface.ifindex))
            membership = socket.inet_pton(socket.AF_INET6, group) + struct.pack(
                "@I", interface.ifindex
            )
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, membership)
    except OSError:
        sock.close()
        raise
    return sock


class _Endpoint(asyncio.DatagramProtocol):
    """Hands every datagram, with the interface it came through, to a callback."""

    def __init__(
        self,
        interface: _Interface,
        deliver: Callable[[bytes, str, _Interface], None],
    ) -> None:
        self.interface = interface
        self._deliver = deliver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._deliver(data, str(addr[0]), self.interface)

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("Discovery socket on %s: %s", self.interface.address, exc)


async def _open(
    interfaces: Iterable[_Interface],
    make_socket: Callable[[_Interface], socket.socket],
    deliver: Callable[[bytes, str, _Interface], None],
) -> list[_Endpoint]:
    """Open one endpoint per interface; log the ones that fail."""
    loop = asyncio.get_running_loop()
    endpoints: list[_Endpoint] = []
    for interface in interfaces:
        try:
            sock = make_socket(interface)
        except OSError as err:
            _LOGGER.warning("No WS-Discovery on %s: %s", interface.address, err)
            continue
        _transport, endpoint = await loop.create_datagram_endpoint(
            functools.partial(_Endpoint, interface, deliver), sock=sock
        )
        endpoints.append(endpoint)
    return endpoints


def _close(endpoints: Iterable[_Endpoint]) -> None:
    for endpoint in endpoints:
        if endpoint.transport is not None:
            endpoint.transport.close()


class _RecentIds:
    """The last MessageIDs seen: retransmitted copies share theirs ([UDP] Appendix II)."""

    def __init__(self, size: int = _RECENT_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def seen(self, message_id: str | None) -> bool:
        """Remember `message_id`; return whether it was already known."""
        if message_id is None:
            return False
        if message_id in self._ids:
            return True
        self._ids[message_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return False


class AppSequenceTracker:
    """Per-endpoint AppSequence bookkeeping (§6; WSDAPI's validation rules).

    `check` returns None for a stale or repeated message (drop it), else whether the
    device restarted since the last accepted message (higher InstanceId). The devices
    heard least recently are forgotten beyond `size`, so a flood of invented endpoints
    cannot grow it without bound.
    """

    def __init__(self, size: int = _RECENT_IDS) -> None:
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


# --- one-shot exchanges: probe, resolve -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Arrival:
    message: DiscoveryMessage
    interface: _Interface
    time: float


class _Exchange:
    """Per-interface sockets that multicast requests and collect the answers to them."""

    def __init__(self, interfaces: Iterable[str], multicast: Multicast) -> None:
        self._interfaces = _interfaces(interfaces)
        self._multicast = multicast
        self._endpoints: list[_Endpoint] = []
        self._requests: set[str] = set()
        self._recent = _RecentIds()
        self._queue: asyncio.Queue[_Arrival] = asyncio.Queue()
        self._senders: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        if not self._interfaces:
            raise WsdError(
                ErrorKind.INVALID_ARGUMENT, "no interface address to probe on"
            )
        self._endpoints = await _open(self._interfaces, _sender_socket, self._received)
        if not self._endpoints:
            raise WsdError(
                ErrorKind.UNREACHABLE,
                "cannot open a WS-Discovery socket on any interface",
            )

    def close(self) -> None:
        for task in self._senders:
            task.cancel()
        _close(self._endpoints)

    def _received(self, data: bytes, source: str, interface: _Interface) -> None:
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
        self, build: Callable[[str], bytes], interface: _Interface | None = None
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

    async def _repeat(self, payload: bytes, endpoints: list[_Endpoint]) -> None:
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
                    device = _merge(resolving[device.uuid], device)
                if not wanted(device):
                    continue
                if not device.xaddrs:
                    if device.uuid not in resolving:
                        resolving[device.uuid] = device
                        exchange.send(
                            functools.partial(_resolve_for, address), arrival.interface
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
        exchange.send(functools.partial(_resolve_for, address))
        deadline = asyncio.get_running_loop().time() + timeout
        while (arrival := await exchange.receive(deadline)) is not None:
            for device in arrival.message.devices:
                if device.uuid == wanted and device.xaddrs:
                    return device
        return None
    finally:
        exchange.close()


# --- passive listening: Hello and Bye -------------------------------------------------------


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
        self._interfaces = _interfaces(interfaces)
        self._callback = callback
        self._wanted = is_scanner_candidate if include_candidates else is_scanner
        self._multicast = multicast
        self._resolve_timeout = resolve_timeout
        self._endpoints: list[_Endpoint] = []
        self._recent = _RecentIds()
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
        self._endpoints = await _open(
            self._interfaces,
            functools.partial(_listener_socket, multicast=self._multicast),
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
        _close(self._endpoints)
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

    def _received(self, data: bytes, source: str, interface: _Interface) -> None:
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
        interface: _Interface,
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


# --- directed probe over HTTP (§5) ----------------------------------------------------------


def directed_probe_url(target: str) -> str:
    """Return the discovery URL of `host`, `host:port`, `[v6]:port`; keep full URLs."""
    target = target.strip()
    full = "://" in target
    try:
        if not full:
            with contextlib.suppress(ValueError):  # a bare IPv6 address
                target = f"[{ipaddress.IPv6Address(target)}]"
        url = yarl.URL(target if full else f"http://{target}{DIRECTED_PROBE_PATH}")
        valid = (
            url.scheme in ("http", "https") and bool(url.host) and url.port is not None
        )
    except ValueError as err:
        raise WsdError(ErrorKind.INVALID_ARGUMENT, f"not a host: {target!r}") from err
    if not valid:
        raise WsdError(
            ErrorKind.INVALID_ARGUMENT, f"not an http(s) address: {target!r}"
        )
    return target if full else str(url)


async def directed_probe(
    session: aiohttp.ClientSession,
    target: str,
    *,
    timeout: float = soap.REQUEST_TIMEOUT,
) -> list[DiscoveredDevice]:
    """POST a Probe to a host's HTTP discovery endpoint; return the devices that answered.

    An empty list means the endpoint exists but the device does not match (HTTP 202 with
    an empty body, DPWS R1022). The answering host is put first among the XAddrs.
    """
    url = directed_probe_url(target)
    envelope = await soap.post(session, url, probe_message(), timeout=timeout)
    if envelope is None:
        return []
    message = decode_envelope(envelope, source=url_host(url))
    if message.kind is not MessageKind.PROBE_MATCHES:
        raise WsdError(
            ErrorKind.PROTOCOL, f"{url} answered a Probe with {message.kind}"
        )
    return list(message.devices)
