"""Interfaces and UDP sockets for WS-Discovery: per-interface senders and listeners.

Transport from WS-Discovery (April 2005) section 2.4 and SOAP-over-UDP (September 2004):
port 3702, groups 239.255.255.250 and FF02::C, multicast hop limit 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
import functools
import ipaddress
import logging
import socket
import struct
import sys
from typing import Final

_LOGGER = logging.getLogger(__name__)

DISCOVERY_PORT: Final = 3702
MULTICAST_V4: Final = "239.255.255.250"
MULTICAST_V6: Final = "ff02::c"
_IP_MULTICAST_ALL: Final = 49  # Linux <netinet/in.h>; absent from the socket module


@dataclass(frozen=True, slots=True)
class Multicast:
    """Where WS-Discovery multicast goes; tests put it on another port."""

    port: int = DISCOVERY_PORT
    group_v4: str = MULTICAST_V4
    group_v6: str = MULTICAST_V6


DEFAULT_MULTICAST: Final = Multicast()


@dataclass(frozen=True, slots=True)
class Interface:
    """A local address to discover through."""

    address: str
    family: socket.AddressFamily
    ifindex: int  # IPv6 scope; 0 for IPv4
    zone: str | None  # how URLs name the scope (`%25<zone>`)


def parse_interfaces(specs: Iterable[str]) -> list[Interface]:
    """Parse `192.168.1.5`, `fe80::1%eth0`, `fe80::1%2`; skip what is not an address."""
    parsed: list[Interface] = []
    for spec in dict.fromkeys(specs):
        try:
            address = ipaddress.ip_address(spec.strip())
        except ValueError:
            _LOGGER.warning("Ignoring %r: not an interface address", spec)
            continue
        if isinstance(address, ipaddress.IPv4Address):
            parsed.append(Interface(str(address), socket.AF_INET, 0, None))
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
            Interface(bare, socket.AF_INET6, ifindex, str(ifindex) if ifindex else None)
        )
    return parsed


def sender_socket(interface: Interface) -> socket.socket:
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


def listener_socket(interface: Interface, multicast: Multicast) -> socket.socket:
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


class Endpoint(asyncio.DatagramProtocol):
    """Hands every datagram, with the interface it came through, to a callback."""

    def __init__(
        self,
        interface: Interface,
        deliver: Callable[[bytes, str, Interface], None],
    ) -> None:
        """Deliver what arrives through `interface` to `deliver`."""
        self.interface = interface
        self._deliver = deliver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to send through and to close."""
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        """Hand the datagram on with its sender and interface."""
        self._deliver(data, str(addr[0]), self.interface)

    def error_received(self, exc: Exception) -> None:
        """Log an ICMP error (a closed port, an unreachable host); keep listening."""
        _LOGGER.debug("Discovery socket on %s: %s", self.interface.address, exc)


async def open_endpoints(
    interfaces: Iterable[Interface],
    make_socket: Callable[[Interface], socket.socket],
    deliver: Callable[[bytes, str, Interface], None],
) -> list[Endpoint]:
    """Open one endpoint per interface; log the ones that fail."""
    loop = asyncio.get_running_loop()
    endpoints: list[Endpoint] = []
    for interface in interfaces:
        try:
            sock = make_socket(interface)
        except OSError as err:
            _LOGGER.warning("No WS-Discovery on %s: %s", interface.address, err)
            continue
        _transport, endpoint = await loop.create_datagram_endpoint(
            functools.partial(Endpoint, interface, deliver), sock=sock
        )
        endpoints.append(endpoint)
    return endpoints


def close_endpoints(endpoints: Iterable[Endpoint]) -> None:
    """Close the endpoints' sockets."""
    for endpoint in endpoints:
        if endpoint.transport is not None:
            endpoint.transport.close()
