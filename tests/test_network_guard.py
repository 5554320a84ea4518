"""The network guard stops traffic that would leave the machine."""

from __future__ import annotations

import socket

import pytest

from tests.network_guard import NetworkSafetyError

pytestmark = pytest.mark.usefixtures("socket_enabled")

GROUP = "239.255.255.250"


def test_multicast_without_loopback_interface_is_refused() -> None:
    """A multicast send with the default (real) interface fails the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        with pytest.raises(NetworkSafetyError):
            sock.sendto(b"probe", (GROUP, 3702))


def test_multicast_through_loopback_is_allowed() -> None:
    """IP_MULTICAST_IF 127.0.0.1 keeps multicast on this machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(
            socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1")
        )
        sock.bind(("127.0.0.1", 0))
        assert sock.sendto(b"probe", (GROUP, 3702)) == 5


def test_joins_and_interfaces_other_than_loopback_are_refused() -> None:
    """Joining on INADDR_ANY or choosing a real interface fails the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(NetworkSafetyError):
            sock.setsockopt(
                socket.IPPROTO_IP,
                socket.IP_ADD_MEMBERSHIP,
                socket.inet_aton(GROUP) + socket.inet_aton("0.0.0.0"),
            )
        with pytest.raises(NetworkSafetyError):
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("10.0.0.1")
            )
        with pytest.raises(NetworkSafetyError):
            sock.sendto(b"x", ("192.0.2.1", 9))
        with pytest.raises(NetworkSafetyError):
            sock.sendto(b"x", ("printer.local", 9))
