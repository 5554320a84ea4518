"""A safety net: tests may only send to loopback, and multicast only through loopback.

WS-Discovery code joins multicast groups and sends to them; a mistake (joining on
INADDR_ANY, no IP_MULTICAST_IF) would put test traffic on a real network. Every test runs
with these socket methods wrapped so such a mistake fails the test instead.
"""

from __future__ import annotations

from collections.abc import Callable
import ipaddress
import socket
from typing import Any
import weakref

import pytest

_LOOPBACK_V4 = socket.inet_aton("127.0.0.1")


class NetworkSafetyError(AssertionError):
    """A test tried to send traffic off this machine."""


def _loopback_index() -> int:
    try:
        return socket.if_nametoindex("lo")
    except OSError:
        return 1


def _is_loopback_v4_interface(value: bytes) -> bool:
    """IP_MULTICAST_IF / IP_ADD_MEMBERSHIP interface part: in_addr or ip_mreqn."""
    return value[:4] == _LOOPBACK_V4 or (
        len(value) >= 8 and int.from_bytes(value[4:8], "little") == _loopback_index()
    )


def _check_sockopt(level: int, option: int, value: Any) -> None:
    if level == socket.IPPROTO_IP and option == socket.IP_MULTICAST_IF:
        if not isinstance(value, bytes) or not _is_loopback_v4_interface(value):
            raise NetworkSafetyError(
                f"IP_MULTICAST_IF must be 127.0.0.1, got {value!r}"
            )
    elif level == socket.IPPROTO_IP and option == socket.IP_ADD_MEMBERSHIP:
        if not isinstance(value, bytes) or not _is_loopback_v4_interface(value[4:]):
            raise NetworkSafetyError("multicast joins must name interface 127.0.0.1")
    elif level == socket.IPPROTO_IPV6 and option in (
        socket.IPV6_JOIN_GROUP,
        socket.IPV6_MULTICAST_IF,
    ):
        index = (
            int.from_bytes(value[16:20], "little")
            if option == socket.IPV6_JOIN_GROUP
            else int.from_bytes(value, "little")
            if isinstance(value, bytes)
            else value
        )
        if index != _loopback_index():
            raise NetworkSafetyError("IPv6 multicast must use the loopback interface")


def _check_destination(
    sock: socket.socket, address: Any, looped: weakref.WeakSet[Any]
) -> None:
    if not isinstance(address, tuple):
        return
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
    except ValueError as err:
        raise NetworkSafetyError(
            f"tests send only to IP literals, not {address[0]!r}"
        ) from err
    if ip.is_loopback:
        return
    if ip.is_multicast and sock in looped:
        return
    raise NetworkSafetyError(f"test traffic to {address[0]} would leave this machine")


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrap socket methods so traffic can only go to loopback."""
    looped: weakref.WeakSet[Any] = weakref.WeakSet()
    # pytest-socket swaps socket.socket for a subclass while sockets are disabled; patch the
    # real class, which every socket (also those made after `socket_enabled`) inherits from.
    real_socket = next(
        cls
        for cls in socket.socket.__mro__
        if (cls.__module__, cls.__name__) == ("socket", "socket")
    )
    original_setsockopt: Callable[..., Any] = real_socket.setsockopt
    original_sendto: Callable[..., Any] = real_socket.sendto

    def setsockopt(self: socket.socket, level: int, option: int, *value: Any) -> Any:
        _check_sockopt(level, option, value[0] if value else None)
        if (level, option) in (
            (socket.IPPROTO_IP, socket.IP_MULTICAST_IF),
            (socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF),
        ):
            looped.add(self)
        return original_setsockopt(self, level, option, *value)

    def sendto(self: socket.socket, data: bytes, *args: Any) -> Any:
        _check_destination(self, args[-1], looped)
        return original_sendto(self, data, *args)

    monkeypatch.setattr(real_socket, "setsockopt", setsockopt)
    monkeypatch.setattr(real_socket, "sendto", sendto)
