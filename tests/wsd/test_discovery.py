"""WS-Discovery (wsd/discovery/): the simulator and scripted devices over loopback.

Every test has its own UDP port (`udp_port`), so tests never hear each other and never
touch the real port 3702; multicast is joined and sent on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
import dataclasses
import socket
import time
import uuid

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree
import pytest

from custom_components.wsd_scan.wsd import discovery
from custom_components.wsd_scan.wsd.discovery import (
    DiscoveryEvent,
    DiscoveryEventType,
    DiscoveryListener,
    MessageKind,
    Multicast,
)
from custom_components.wsd_scan.wsd.exceptions import ErrorKind, WsdError
from custom_components.wsd_scan.wsd.models import (
    AppSequence,
    DeviceInfo,
    DiscoveredDevice,
)
from custom_components.wsd_scan.wsd.recent import RecentIds
from custom_components.wsd_scan.wsd.xml import (
    ANONYMOUS,
    DISCOVERY_URN,
    SCAN,
    WSD,
    WSDP,
    find,
    parse_envelope,
    qname_values,
    text,
)
from simulator import PROFILES, Quirk, Settings, SimulatedScanner
from tests.loopback import DeviceFactory

from .conftest import CAPTURES

GROUP = discovery.MULTICAST_V4
LOOPBACK = ["127.0.0.1"]
PRINT = discovery.PRINT
SCANNER_TYPES = "wsdp:Device wscn:ScanDeviceType"


def simulator(
    multicast: Multicast, profile: str = "office_mfp", **kwargs: object
) -> SimulatedScanner:
    """Build a simulated scanner on the test's discovery port, answering at once."""
    kwargs.setdefault("settings", Settings(probe_reply_delay=0.0))
    return SimulatedScanner(profile, udp_port=multicast.port, **kwargs)  # type: ignore[arg-type]


async def collect(
    multicast: Multicast, timeout: float = 1.0, **kwargs: bool
) -> list[DiscoveredDevice]:
    """Every device a probe on loopback yields."""
    return [
        device
        async for device in discovery.probe(
            LOOPBACK, timeout=timeout, multicast=multicast, **kwargs
        )
    ]


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until `condition()` holds (UDP delivery on loopback is quick but async)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


# --- scripted devices and raw sockets --------------------------------------------------------


def message(
    action: str,
    body: str,
    *,
    relates_to: str | None = None,
    message_id: str | None = None,
    instance: int | None = 1,
    number: int = 1,
) -> bytes:
    """Write a discovery message as a device does (Windows prefixes)."""
    sequence = (
        f'<wsd:AppSequence InstanceId="{instance}" MessageNumber="{number}"/>'
        if instance is not None
        else ""
    )
    relates = f"<wsa:RelatesTo>{relates_to}</wsa:RelatesTo>" if relates_to else ""
    return (
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
        ' xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"'
        ' xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof"'
        ' xmlns:wscn="http://schemas.microsoft.com/windows/2006/08/wdp/scan"'
        ' xmlns:wprt="http://schemas.microsoft.com/windows/2006/08/wdp/print">'
        f"<soap:Header><wsa:To>{ANONYMOUS if relates_to else DISCOVERY_URN}</wsa:To>"
        f"<wsa:Action>{WSD}/{action}</wsa:Action>"
        f"<wsa:MessageID>{message_id or f'urn:uuid:{uuid.uuid4()}'}</wsa:MessageID>"
        f"{relates}{sequence}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def match(
    element: str,
    address: str,
    *,
    types: str | None = SCANNER_TYPES,
    xaddrs: str | None = "http://127.0.0.1:1/device",
    version: str = "1",
) -> str:
    """Write a ProbeMatch / ResolveMatch / Hello / Bye body element."""
    parts = [
        f"<wsa:EndpointReference><wsa:Address>{address}</wsa:Address></wsa:EndpointReference>"
    ]
    if types is not None:
        parts.append(f"<wsd:Types>{types}</wsd:Types>")
    if xaddrs is not None:
        parts.append(f"<wsd:XAddrs>{xaddrs}</wsd:XAddrs>")
    parts.append(f"<wsd:MetadataVersion>{version}</wsd:MetadataVersion>")
    return f"<wsd:{element}>{''.join(parts)}</wsd:{element}>"


def group_socket(port: int) -> socket.socket:
    """Open a socket hearing the loopback group on `port` (a device, another stack)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((GROUP, port))
    sock.setsockopt(
        socket.IPPROTO_IP,
        socket.IP_ADD_MEMBERSHIP,
        socket.inet_aton(GROUP) + socket.inet_aton("127.0.0.1"),
    )
    sock.setblocking(False)
    return sock


def send_to_group(port: int, *datagrams: bytes) -> None:
    """Multicast datagrams on loopback, like a device announcing itself."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(
            socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1")
        )
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        for datagram in datagrams:
            sock.sendto(datagram, (GROUP, port))


type Script = Callable[[str, str | None], list[bytes]]


class ScriptedDevice(asyncio.DatagramProtocol):
    """A device that answers each Probe/Resolve with what `script` returns."""

    def __init__(self, script: Script) -> None:
        """Answer with `script(kind, message_id)`."""
        self.script = script
        self.requests: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to answer through."""
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        """Record the request and send the scripted answers to its sender."""
        self.requests.append(data)
        envelope = parse_envelope(data)
        kind = (envelope.action or "").rsplit("/", 1)[-1]
        assert self.transport is not None
        for reply in self.script(kind, envelope.message_id):
            self.transport.sendto(reply, addr)  # type: ignore[arg-type]


type ScriptedFactory = Callable[[Script], Awaitable[ScriptedDevice]]


@pytest.fixture
async def scripted(multicast: Multicast) -> AsyncIterator[ScriptedFactory]:
    """Start scripted devices on the test's discovery port."""
    transports: list[asyncio.BaseTransport] = []

    async def start(script: Script) -> ScriptedDevice:
        device = ScriptedDevice(script)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: device, sock=group_socket(multicast.port)
        )
        transports.append(transport)
        return device

    yield start
    for transport in transports:
        transport.close()


class Capture(asyncio.DatagramProtocol):
    """Records what reaches the group: what a device would receive."""

    def __init__(self) -> None:
        """Start with nothing heard."""
        self.datagrams: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        """Keep the datagram."""
        self.datagrams.append(data)


@contextlib.asynccontextmanager
async def capture(port: int) -> AsyncIterator[Capture]:
    """Hear the loopback group on `port` for the duration of the block."""
    protocol = Capture()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: protocol, sock=group_socket(port)
    )
    try:
        yield protocol
    finally:
        transport.close()


# --- probing the simulator -------------------------------------------------------------------


async def test_probe_finds_the_simulator_as_it_answers(
    socket_enabled: None, multicast: Multicast
) -> None:
    """A scanner is yielded as soon as it answers, long before the window closes."""
    async with simulator(multicast) as sim:
        start = time.monotonic()
        found = [
            (time.monotonic() - start, device)
            async for device in discovery.probe(
                LOOPBACK, timeout=3.0, multicast=multicast
            )
        ]
        total = time.monotonic() - start
    assert len(found) == 1
    elapsed, device = found[0]
    assert elapsed < 1.0
    assert 2.9 < total < 4.0  # the window is listened to the end (other devices)
    assert device.uuid == sim.uuid
    assert device.xaddrs == (sim.device_url,)
    assert device.source_address == "127.0.0.1"
    assert discovery.is_scanner(device)
    assert (SCAN, "ScanDeviceType") in device.types
    assert device.metadata_version == sim.profile.metadata_version
    assert device.app_sequence is not None
    assert device.app_sequence.instance_id == sim.sequence.instance_id


async def test_probe_is_windows_shaped_and_repeated(
    socket_enabled: None, multicast: Multicast
) -> None:
    """`wsdp:Device` Types, discovery URN, no ReplyTo, 4 copies sharing one MessageID."""
    async with capture(multicast.port) as heard:
        await collect(multicast, timeout=1.5)
    probes = [parse_envelope(datagram) for datagram in heard.datagrams]
    assert len(probes) == discovery.MULTICAST_UDP_REPEAT
    assert len({probe.message_id for probe in probes}) == 1
    probe = probes[0]
    assert probe.action == f"{WSD}/Probe"
    assert text(probe.header, "wsa:To") == DISCOVERY_URN
    assert find(probe.header, "wsa:ReplyTo") is None
    assert (probe.message_id or "").startswith("urn:uuid:")
    assert probe.payload is not None
    assert qname_values(probe.payload, "wsd:Types") == {(WSDP, "Device")}
    assert set(probe.root.nsmap) == {"soap", "wsa", "wsd", "wsdp"}


async def test_two_devices_each_yielded_once(
    socket_enabled: None, multicast: Multicast
) -> None:
    """Every Probe copy is answered by both devices; each device is yielded once."""
    async with (
        simulator(multicast) as first,
        simulator(multicast, "kyocera_m2040dn") as second,
    ):
        devices = await collect(multicast, timeout=1.5)
    assert sorted(device.uuid for device in devices) == sorted(
        [first.uuid, second.uuid]
    )
    by_uuid = {device.uuid: device for device in devices}
    assert by_uuid[second.uuid].xaddrs == (second.device_url,)


async def test_uuid_without_urn_and_printer_in_the_same_message(
    socket_enabled: None, multicast: Multicast
) -> None:
    """Kyocera's `uuid:` EPR is normalised; Lexmark's printer half is not a scanner."""
    async with simulator(
        multicast, quirks=[Quirk.UUID_WITHOUT_URN, Quirk.TWO_PROBE_MATCHES]
    ) as sim:
        devices = await collect(multicast)
        candidates = await collect(multicast, include_candidates=True)
    assert sim.endpoint_address.startswith("uuid:")
    assert [device.uuid for device in devices] == [sim.uuid]
    # The printer half only says wsdp:Device: not a scanner, not a print-type candidate.
    assert [device.uuid for device in candidates] == [sim.uuid]


async def test_print_only_devices_are_candidates(
    socket_enabled: None, multicast: Multicast
) -> None:
    """An MFP advertising print types only is left out unless candidates are asked for."""
    profile = dataclasses.replace(
        PROFILES["office_mfp"],
        device_types=((WSDP, "Device"), (PRINT, "PrintDeviceType")),
    )
    async with SimulatedScanner(
        profile, udp_port=multicast.port, settings=Settings(probe_reply_delay=0.0)
    ) as sim:
        assert await collect(multicast) == []
        candidates = await collect(multicast, include_candidates=True)
    assert [device.uuid for device in candidates] == [sim.uuid]
    assert not discovery.is_scanner(candidates[0])
    assert discovery.is_scanner_candidate(candidates[0])


async def test_answers_after_the_window_are_ignored(
    socket_enabled: None, multicast: Multicast
) -> None:
    """A slow device (Pantum) is missed by a short window and found by a longer one."""
    async with simulator(
        multicast,
        quirks=[Quirk.LATE_PROBE_ANSWER],
        settings=Settings(late_probe_delay=0.8),
    ) as sim:
        assert await collect(multicast, timeout=0.4) == []
        devices = await collect(multicast, timeout=1.6)
    assert [device.uuid for device in devices] == [sim.uuid]


async def test_probe_leaves_no_socket_or_task_behind(
    socket_enabled: None, multicast: Multicast
) -> None:
    """Breaking out early closes the sockets (contextlib.aclosing)."""
    async with simulator(multicast) as sim:
        probing = discovery.probe(LOOPBACK, timeout=5, multicast=multicast)
        start = time.monotonic()
        async with contextlib.aclosing(probing):
            async for device in probing:
                assert device.uuid == sim.uuid
                break
        assert time.monotonic() - start < 2


async def test_probe_needs_an_interface(socket_enabled: None) -> None:
    """No usable interface address is the caller's mistake."""
    with pytest.raises(WsdError) as caught:
        await anext(discovery.probe(["not-an-address", "fe80::1%nosuchif0"]))
    assert caught.value.kind is ErrorKind.INVALID_ARGUMENT


async def test_probe_on_unusable_interfaces_fails_clearly(socket_enabled: None) -> None:
    """An address this host does not have cannot be bound: UNREACHABLE."""
    with pytest.raises(WsdError) as caught:
        await anext(discovery.probe(["192.0.2.123"], timeout=0.1))
    assert caught.value.kind is ErrorKind.UNREACHABLE


async def test_ipv6_interfaces_open_without_harm(
    socket_enabled: None, multicast: Multicast
) -> None:
    """IPv6 probing opens a scoped socket; loopback has no IPv6 multicast, so no answers."""
    index = socket.if_nametoindex("lo")
    assert [
        device
        async for device in discovery.probe(
            [f"::1%{index}"], timeout=0.3, multicast=multicast
        )
    ] == []
    assert [
        device
        async for device in discovery.probe(
            ["::1%lo"], timeout=0.1, multicast=multicast
        )
    ] == []


# --- scripted answers: RelatesTo, dedup, garbage, Resolve -----------------------------------


async def test_answers_to_other_probes_and_garbage_are_ignored(
    socket_enabled: None, multicast: Multicast, scripted: ScriptedFactory
) -> None:
    """Only ProbeMatches relating to our Probe count; garbage never stops the probe."""
    good = f"urn:uuid:{uuid.uuid4()}"

    def script(kind: str, message_id: str | None) -> list[bytes]:
        if kind != "Probe":
            return []
        return [
            b"\x00\xffgarbage",
            b"<not-soap/>",
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
            message(
                "ProbeMatches",
                f"<wsd:ProbeMatches>{match('ProbeMatch', f'urn:uuid:{uuid.uuid4()}')}</wsd:ProbeMatches>",
                relates_to="urn:uuid:someone-elses-probe",
            ),
            message(
                "ProbeMatches",
                f"<wsd:ProbeMatches>{match('ProbeMatch', f'urn:uuid:{uuid.uuid4()}')}</wsd:ProbeMatches>",
            ),
            message("Hello", match("Hello", f"urn:uuid:{uuid.uuid4()}")),
            message(
                "ProbeMatches",
                f"<wsd:ProbeMatches>{match('ProbeMatch', good)}</wsd:ProbeMatches>",
                relates_to=message_id,
            ),
        ]

    device = await scripted(script)
    devices = await collect(multicast, timeout=0.8)
    assert [d.uuid for d in devices] == [good.removeprefix("urn:uuid:")]
    assert device.requests  # it was asked, and its junk was heard


async def test_same_match_message_is_taken_once(
    socket_enabled: None, multicast: Multicast, scripted: ScriptedFactory
) -> None:
    """Unicast repeats share a MessageID; several EPRs in one message are all seen."""
    reply_id = f"urn:uuid:{uuid.uuid4()}"
    second = f"urn:uuid:{uuid.uuid4()}"

    def script(kind: str, message_id: str | None) -> list[bytes]:
        body = (
            "<wsd:ProbeMatches>"
            + match("ProbeMatch", "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001")
            + match(
                "ProbeMatch", second, xaddrs="http://127.0.0.1:2/a http://127.0.0.1:2/b"
            )
            + "</wsd:ProbeMatches>"
        )
        datagram = message(
            "ProbeMatches", body, relates_to=message_id, message_id=reply_id
        )
        return [datagram, datagram]

    await scripted(script)
    devices = await collect(multicast, timeout=0.8)
    assert [d.uuid for d in devices] == [
        "aaaaaaaa-0000-4000-8000-000000000001",
        second.removeprefix("urn:uuid:"),
    ]
    assert devices[1].xaddrs == ("http://127.0.0.1:2/a", "http://127.0.0.1:2/b")


async def test_match_without_xaddrs_is_resolved(
    socket_enabled: None, multicast: Multicast, scripted: ScriptedFactory
) -> None:
    """A ProbeMatch without XAddrs triggers a Resolve for the EPR as the device wrote it."""
    address = f"uuid:{uuid.uuid4()}"
    resolves: list[str | None] = []

    def script(kind: str, message_id: str | None) -> list[bytes]:
        if kind == "Probe":
            body = f"<wsd:ProbeMatches>{match('ProbeMatch', address, xaddrs=None)}</wsd:ProbeMatches>"
            return [message("ProbeMatches", body, relates_to=message_id)]
        resolves.append(message_id)
        body = (
            "<wsd:ResolveMatches>"
            + match(
                "ResolveMatch", address, types=None, xaddrs="http://127.0.0.1:3/dev"
            )
            + "</wsd:ResolveMatches>"
        )
        return [message("ResolveMatches", body, relates_to=message_id)]

    device = await scripted(script)
    devices = await collect(multicast, timeout=1.0)
    assert len(devices) == 1
    found = devices[0]
    assert found.uuid == address.removeprefix("uuid:")
    assert found.xaddrs == ("http://127.0.0.1:3/dev",)
    assert discovery.is_scanner(found)  # types kept from the ProbeMatch
    resolve = next(
        parse_envelope(request)
        for request in device.requests
        if b"/Resolve<" in request
    )
    assert text(resolve.payload, "wsa:EndpointReference/wsa:Address") == address


async def test_resolve(socket_enabled: None, multicast: Multicast) -> None:
    """Resolve finds the simulator by bare UUID, and times out for unknown endpoints."""
    async with simulator(multicast) as sim:
        found = await discovery.resolve(sim.uuid, LOOPBACK, multicast=multicast)
        missing = await discovery.resolve(
            str(uuid.uuid4()), LOOPBACK, timeout=0.3, multicast=multicast
        )
    assert found is not None
    assert found.uuid == sim.uuid
    assert found.xaddrs == (sim.device_url,)
    assert missing is None


# --- the Hello/Bye listener ------------------------------------------------------------------


async def test_listener_reports_hello_reboot_and_bye(
    socket_enabled: None, multicast: Multicast
) -> None:
    """Hello on start, Hello with `rebooted` after a power cycle, Bye on stop."""
    events: list[DiscoveryEvent] = []
    async with DiscoveryListener(
        LOOPBACK, events.append, multicast=multicast
    ) as listener:
        assert listener.listening
        sim = simulator(multicast)
        await sim.start()
        await until(lambda: len(events) == 1)
        first_instance = sim.sequence.instance_id
        await sim.reboot()
        await until(lambda: len(events) == 2)
        await sim.stop()
        await until(lambda: len(events) == 3)
        await asyncio.sleep(0.3)  # repeats of the same messages change nothing
    assert not listener.listening
    assert [event.type for event in events] == [
        DiscoveryEventType.HELLO,
        DiscoveryEventType.HELLO,
        DiscoveryEventType.BYE,
    ]
    assert [event.rebooted for event in events] == [False, True, False]
    assert all(event.device.uuid == sim.uuid for event in events)
    assert events[0].device.xaddrs == (sim.device_url,)
    assert events[0].device.app_sequence is not None
    assert events[1].device.app_sequence is not None
    assert events[1].device.app_sequence.instance_id > first_instance


async def test_listener_drops_repeats_and_stale_messages(
    socket_enabled: None, multicast: Multicast
) -> None:
    """The same datagram twice counts once; a pre-reboot message replayed is stale."""
    events: list[DiscoveryEvent] = []
    address = f"urn:uuid:{uuid.uuid4()}"
    old_hello = message("Hello", match("Hello", address), instance=100, number=5)
    new_hello = message("Hello", match("Hello", address), instance=101, number=1)
    async with DiscoveryListener(LOOPBACK, events.append, multicast=multicast):
        send_to_group(multicast.port, old_hello, old_hello)
        await until(lambda: len(events) == 1)
        send_to_group(multicast.port, new_hello)
        await until(lambda: len(events) == 2)
        # Replayed / older: the pre-reboot Hello under a new MessageID, and a Bye of it.
        send_to_group(
            multicast.port,
            message("Hello", match("Hello", address), instance=100, number=6),
            message(
                "Bye",
                match("Bye", address, types=None, xaddrs=None),
                instance=100,
                number=7,
            ),
            message("Hello", match("Hello", address), instance=101, number=1),
        )
        await asyncio.sleep(0.3)
    assert [(event.type, event.rebooted) for event in events] == [
        (DiscoveryEventType.HELLO, False),
        (DiscoveryEventType.HELLO, True),
    ]


async def test_listener_survives_garbage(
    socket_enabled: None, multicast: Multicast
) -> None:
    """Garbage datagrams of every kind are dropped; the listener keeps working."""
    events: list[DiscoveryEvent] = []
    garbage = [
        b"",
        b"\x00" * 10,
        bytes(range(256)),
        b"<?xml version='1.0'?>",
        b"<soap:Envelope>unclosed",
        b"x" * 60_000,
        b'<!DOCTYPE x [<!ENTITY a "aa"><!ENTITY b "&a;&a;">]><x>&b;</x>',
        message("Hello", "<wsd:Hello><wsd:Types>wsdp:Device</wsd:Types></wsd:Hello>"),
        message("Hello", match("Hello", "   ")),
        message(
            "Hello", match("Hello", f"urn:uuid:{uuid.uuid4()}", version="-1")
        ).replace(b'InstanceId="1"', b'InstanceId="not-a-number"'),
        message("Probe", "<wsd:Probe/>"),
        message("ProbeMatches", "<wsd:ProbeMatches/>", relates_to="urn:uuid:x"),
        (CAPTURES / "KYOCERA-ECOSYS_M2040dn-MetadataGetResponse.xml").read_bytes(),
    ]
    real = message("Hello", match("Hello", f"urn:uuid:{uuid.uuid4()}"))
    async with DiscoveryListener(LOOPBACK, events.append, multicast=multicast):
        send_to_group(multicast.port, *garbage, real)
        await until(lambda: len(events) >= 1)
        await asyncio.sleep(0.2)
    # The Hello with a broken AppSequence is still a Hello (of a scanner): it is reported.
    assert len(events) == 2
    assert events[-1].device.uuid in real.decode()


async def test_listener_filters_non_scanners_and_reports_every_bye(
    socket_enabled: None, multicast: Multicast
) -> None:
    """Hello of a PC is ignored, of a print-only MFP only with candidates; Bye always."""
    pc, mfp = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    hellos = [
        message("Hello", match("Hello", pc, types="wsdp:Device")),
        message("Hello", match("Hello", mfp, types="wsdp:Device wprt:PrintDeviceType")),
        message("Bye", match("Bye", pc, types=None, xaddrs=None), number=2),
    ]
    plain: list[DiscoveryEvent] = []
    candidates: list[DiscoveryEvent] = []
    async with (
        DiscoveryListener(LOOPBACK, plain.append, multicast=multicast),
        DiscoveryListener(
            LOOPBACK, candidates.append, multicast=multicast, include_candidates=True
        ),
    ):
        send_to_group(multicast.port, *hellos)
        await until(lambda: len(plain) == 1 and len(candidates) == 2)
        await asyncio.sleep(0.2)
    assert [(e.type, e.device.uuid) for e in plain] == [
        (DiscoveryEventType.BYE, pc.removeprefix("urn:uuid:"))
    ]
    assert [e.type for e in candidates] == [
        DiscoveryEventType.HELLO,
        DiscoveryEventType.BYE,
    ]


async def test_listener_resolves_hello_without_xaddrs(
    socket_enabled: None, multicast: Multicast
) -> None:
    """WSDAPI-based devices announce without XAddrs; the event carries the resolved ones."""
    events: list[DiscoveryEvent] = []
    async with (
        DiscoveryListener(LOOPBACK, events.append, multicast=multicast),
        simulator(multicast, quirks=[Quirk.NO_XADDRS_IN_HELLO]) as sim,
    ):
        await until(lambda: len(events) == 1)
    assert events[0].type is DiscoveryEventType.HELLO
    assert events[0].device.xaddrs == (sim.device_url,)


async def test_listener_reports_unresolvable_hello_without_xaddrs(
    socket_enabled: None, multicast: Multicast
) -> None:
    """No ResolveMatches: the Hello is still reported, without addresses."""
    events: list[DiscoveryEvent] = []
    address = f"urn:uuid:{uuid.uuid4()}"
    async with DiscoveryListener(
        LOOPBACK, events.append, multicast=multicast, resolve_timeout=0.2
    ):
        send_to_group(
            multicast.port, message("Hello", match("Hello", address, xaddrs=None))
        )
        await until(lambda: len(events) == 1)
    assert events[0].device.xaddrs == ()


async def test_listener_stop_cancels_pending_resolutions(
    socket_enabled: None, multicast: Multicast
) -> None:
    """Stopping while a Resolve is pending reports nothing afterwards."""
    events: list[DiscoveryEvent] = []
    listener = DiscoveryListener(LOOPBACK, events.append, multicast=multicast)
    await listener.start()
    await listener.start()  # idempotent
    send_to_group(
        multicast.port,
        message("Hello", match("Hello", f"urn:uuid:{uuid.uuid4()}", xaddrs=None)),
    )
    await asyncio.sleep(0.1)
    await listener.stop()
    await asyncio.sleep(0.1)
    assert events == []


async def test_listener_shares_the_port(
    socket_enabled: None, multicast: Multicast
) -> None:
    """Another WS-Discovery stack on the port keeps working next to the listener."""
    other = group_socket(multicast.port)  # e.g. Samba's wsdd, bound first
    try:
        events: list[DiscoveryEvent] = []
        async with DiscoveryListener(LOOPBACK, events.append, multicast=multicast):
            send_to_group(
                multicast.port,
                message("Hello", match("Hello", f"urn:uuid:{uuid.uuid4()}")),
            )
            await until(lambda: len(events) == 1)
            await asyncio.sleep(0.05)
            assert other.recv(65536).startswith(b"<soap:Envelope")
    finally:
        other.close()


def ipv6_loopback() -> int | None:
    """Return the loopback interface index when this host has IPv6 on it."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return None
    return socket.if_nametoindex("lo")


async def test_listener_on_ipv6(socket_enabled: None, multicast: Multicast) -> None:
    """The IPv6 listener joins ff02::c on its interface (by index or by name)."""
    index = ipv6_loopback()
    if index is None:
        pytest.skip("no IPv6 on loopback")
    listener = DiscoveryListener(
        [f"::1%{index}", "::1%lo"], lambda event: None, multicast=multicast
    )
    async with listener:
        assert listener.listening


async def test_listener_fails_clearly_when_the_port_is_held_exclusively(
    socket_enabled: None, multicast: Multicast
) -> None:
    """A program that took the port without sharing it: WsdError, nothing left open."""
    hog = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hog.bind((GROUP, multicast.port))  # no SO_REUSEADDR / SO_REUSEPORT
    try:
        listener = DiscoveryListener(LOOPBACK, lambda event: None, multicast=multicast)
        with pytest.raises(WsdError, match=f"UDP port {multicast.port}"):
            await listener.start()
        assert not listener.listening
    finally:
        hog.close()


# --- directed probe over HTTP ----------------------------------------------------------------


async def test_directed_probe_against_the_simulator(
    socket_enabled: None, multicast: Multicast, session: aiohttp.ClientSession
) -> None:
    """POST to /StableWSDiscoveryEndpoint/…: by full URL and by host:port."""
    async with simulator(multicast, discovery=False) as sim:
        by_url = await discovery.directed_probe(session, sim.probe_url)
        by_host = await discovery.directed_probe(session, f"127.0.0.1:{sim.http_port}")
    for devices in (by_url, by_host):
        assert [device.uuid for device in devices] == [sim.uuid]
        assert devices[0].xaddrs == (sim.device_url,)
        assert devices[0].source_address == "127.0.0.1"
        assert discovery.is_scanner(devices[0])
    assert sim.requests[0][0] == f"{WSD}/Probe"


async def test_directed_probe_without_match(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """202 with an empty body: the host speaks WSD but is no match."""
    paths: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        paths.append(request.path)
        return web.Response(status=202)

    url = await http_device(handler)
    assert await discovery.directed_probe(session, url.removeprefix("http://")) == []
    assert paths == [discovery.DIRECTED_PROBE_PATH]


async def test_directed_probe_answered_with_something_else(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """A Hello instead of ProbeMatches is a protocol error."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = message("Hello", match("Hello", f"urn:uuid:{uuid.uuid4()}"))
        return web.Response(body=body, content_type="application/soap+xml")

    url = await http_device(handler)
    with pytest.raises(WsdError, match="answered a Probe with Hello") as caught:
        await discovery.directed_probe(session, url + "/custom/path")
    assert caught.value.kind is ErrorKind.PROTOCOL


def test_is_listed() -> None:
    """Metadata decides; without it, only a device advertising a scanner is listed."""
    scanner = DiscoveredDevice("u", frozenset({discovery.SCAN_DEVICE_TYPE}), ("h",))
    printer_only = DiscoveredDevice("u", frozenset({discovery.PRINT_DEVICE_TYPE}), ())
    with_scan = DeviceInfo("u", scan_service_url="http://h/scan")
    without_scan = DeviceInfo("u")
    assert discovery.is_listed(scanner, None)
    assert not discovery.is_listed(printer_only, None)
    assert discovery.is_listed(printer_only, with_scan)
    assert not discovery.is_listed(scanner, without_scan)


# --- locate: the device behind a host or URL ---------------------------------------------


async def test_locate_by_host_port_and_by_url(
    multicast: Multicast, session: aiohttp.ClientSession
) -> None:
    """A directed probe names the device, its metadata describes it; a URL comes first."""
    async with simulator(multicast, discovery=False) as sim:
        by_host = await discovery.locate(session, f" 127.0.0.1:{sim.http_port} ")
        by_url = await discovery.locate(session, sim.device_url)
    assert by_host.address == f"127.0.0.1:{sim.http_port}"
    assert by_host.xaddrs == (sim.device_url,)
    assert by_host.info.uuid == sim.uuid
    assert by_host.info.scan_service_url is not None
    assert by_url.address == sim.device_url
    assert by_url.xaddrs == (sim.device_url,)
    assert by_url.info == by_host.info
    assert [action.rsplit("/", 1)[-1] for action, _ in sim.requests] == [
        "Probe",
        "Get",
        "Probe",
        "Get",
    ]


async def test_locate_device_url_without_discovery_endpoint(
    http_device: DeviceFactory, session: aiohttp.ClientSession
) -> None:
    """A device URL that answers only Get is taken; its metadata names the device."""
    async with SimulatedScanner("office_mfp", discovery=False) as sim:

        async def get_only(request: web.Request) -> web.StreamResponse:
            if request.path == discovery.DIRECTED_PROBE_PATH:
                return web.Response(status=404)
            async with session.post(
                sim.device_url, data=await request.read(), headers=request.headers
            ) as answer:
                return web.Response(
                    body=await answer.read(), content_type="application/soap+xml"
                )

        url = await http_device(get_only) + "/device"
        located = await discovery.locate(session, url)
    assert located.xaddrs == (url,)
    assert located.info.uuid == sim.uuid


async def test_locate_tries_the_ports_in_turn(
    multicast: Multicast, session: aiohttp.ClientSession, closed_port: int
) -> None:
    """A bare host is asked on each port until a device answers."""
    async with simulator(multicast, discovery=False) as sim:
        located = await discovery.locate(
            session, "127.0.0.1", ports=(closed_port, sim.http_port, closed_port)
        )
    assert located.address == f"127.0.0.1:{sim.http_port}"
    assert located.info.uuid == sim.uuid


async def test_locate_reports_the_most_telling_error(
    http_device: DeviceFactory, session: aiohttp.ClientSession, closed_port: int
) -> None:
    """Nothing at one port, no match at another: the answer that came is reported."""

    async def no_match(request: web.Request) -> web.Response:
        return web.Response(status=202)

    port = int((await http_device(no_match)).rsplit(":", 1)[1])
    with pytest.raises(WsdError) as caught:
        await discovery.locate(session, "127.0.0.1", ports=(closed_port, port))
    assert caught.value.kind is ErrorKind.UNSUPPORTED
    with pytest.raises(WsdError) as unreachable:
        await discovery.locate(session, f"127.0.0.1:{closed_port}")
    assert unreachable.value.kind is ErrorKind.UNREACHABLE


@pytest.mark.parametrize(
    ("target", "ports"), [("http://", ()), ("ftp://printer/", ()), ("a b", (80,))]
)
async def test_locate_refuses_what_is_no_address(
    session: aiohttp.ClientSession, target: str, ports: tuple[int, ...]
) -> None:
    """No host or http(s) URL: an invalid argument, before anything is sent."""
    with pytest.raises(WsdError) as caught:
        await discovery.locate(session, target, ports=ports)
    assert caught.value.kind is ErrorKind.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("target", "url"),
    [
        ("192.0.2.40", f"http://192.0.2.40{discovery.DIRECTED_PROBE_PATH}"),
        (
            " printer.local:8080 ",
            f"http://printer.local:8080{discovery.DIRECTED_PROBE_PATH}",
        ),
        ("[fe80::1]:5357", f"http://[fe80::1]:5357{discovery.DIRECTED_PROBE_PATH}"),
        ("2001:db8::7", f"http://[2001:db8::7]{discovery.DIRECTED_PROBE_PATH}"),
        ("https://192.0.2.40:443/wsd", "https://192.0.2.40:443/wsd"),
    ],
)
def test_directed_probe_url(target: str, url: str) -> None:
    """Host, host:port, IPv6 with or without brackets; full URLs kept."""
    assert discovery.directed_probe_url(target) == url


@pytest.mark.parametrize(
    "target",
    ["", "ftp://192.0.2.40/", "host:notaport", "host:99999", "http://", "[::1"],
)
def test_directed_probe_url_rejects_nonsense(target: str) -> None:
    """Anything else is INVALID_ARGUMENT."""
    with pytest.raises(WsdError) as caught:
        discovery.directed_probe_url(target)
    assert caught.value.kind is ErrorKind.INVALID_ARGUMENT


# --- decoding ---------------------------------------------------------------------------------


def test_decode_kyocera_probe_matches_capture() -> None:
    """The real Kyocera answer: `uuid:` EPR, odd prefixes, link-local XAddr gets a zone."""
    decoded = discovery.decode_message(
        (CAPTURES / "KYOCERA-ECOSYS_M2040dn-ProbeMatches.xml").read_bytes(),
        source="192.168.1.102",
        zone="3",
    )
    assert decoded.kind is MessageKind.PROBE_MATCHES
    assert decoded.relates_to == "urn:uuid:f9f56956-7662-4b32-9459-d0f2823424fe"
    assert decoded.addresses == ("uuid:4509a320-00a0-008f-00b6-002507510eca",)
    assert decoded.app_sequence == AppSequence(1727722437, 525, None)
    (device,) = decoded.devices
    assert device == DiscoveredDevice(
        uuid="4509a320-00a0-008f-00b6-002507510eca",
        types=frozenset(
            {(WSDP, "Device"), (SCAN, "ScanDeviceType"), (PRINT, "PrintDeviceType")}
        ),
        xaddrs=(
            "http://192.168.1.102:5358/DeviceService/",
            "http://[fe80::217:c8ff:fe7b:6a91%253]:5358/DeviceService/",
        ),
        metadata_version=1,
        app_sequence=AppSequence(1727722437, 525, None),
        source_address="192.168.1.102",
    )


def test_decode_epson_probe_matches_capture() -> None:
    """The Epson answer with Windows prefixes."""
    decoded = discovery.decode_message(
        (CAPTURES / "EPSON-unknown_model-ProbeMatches.xml").read_bytes()
    )
    (device,) = decoded.devices
    assert device.uuid == "cfe92100-67c4-11d4-a45f-ac1826841a46"
    assert device.xaddrs == ("http://192.168.1.245:80/WSD/DEVICE",)
    assert device.metadata_version == 207
    assert decoded.app_sequence == AppSequence(271, 10, None)
    assert discovery.is_scanner(device)


def test_decode_merges_entries_of_one_endpoint() -> None:
    """Lexmark MX310dn: printer and scanner of one EPR in one message are united."""
    address = f"urn:uuid:{uuid.uuid4()}"
    body = (
        "<wsd:ProbeMatches>"
        + match(
            "ProbeMatch", address, types="wsdp:Device wprt:PrintDeviceType", version="3"
        )
        + match(
            "ProbeMatch",
            address.upper(),
            types="wscn:ScanDeviceType",
            xaddrs="http://10.0.0.2/scan http://10.0.0.1/",
            version="4",
        )
        + "</wsd:ProbeMatches>"
    )
    decoded = discovery.decode_message(
        message("ProbeMatches", body, relates_to="urn:uuid:p"), source="10.0.0.1"
    )
    (device,) = decoded.devices
    assert device.types == {
        (WSDP, "Device"),
        (PRINT, "PrintDeviceType"),
        (SCAN, "ScanDeviceType"),
    }
    assert device.xaddrs == (
        "http://10.0.0.1/",
        "http://127.0.0.1:1/device",
        "http://10.0.0.2/scan",
    )
    assert device.metadata_version == 4
    assert decoded.addresses == (address,)


def test_decode_tolerates_odd_values() -> None:
    """Bad MetadataVersion/AppSequence become None; entries without an address vanish."""
    body = (
        "<wsd:ProbeMatches>"
        + match("ProbeMatch", "urn:uuid:1", version="many")
        + match("ProbeMatch", "urn:uuid:2", version="9" * 30)
        + match("ProbeMatch", "urn:uuid:")
        + "<wsd:ProbeMatch><wsd:Types>wsdp:Device</wsd:Types></wsd:ProbeMatch>"
        + "</wsd:ProbeMatches>"
    )
    data = message("ProbeMatches", body, relates_to="urn:uuid:p").replace(
        b'MessageNumber="1"', b'MessageNumber="-3"'
    )
    decoded = discovery.decode_message(data)
    assert decoded.app_sequence is None
    no_instance = message("Bye", match("Bye", "urn:uuid:1")).replace(
        b'InstanceId="1"', b""
    )
    assert discovery.decode_message(no_instance).app_sequence is None
    assert [(d.uuid, d.metadata_version) for d in decoded.devices] == [
        ("1", None),
        ("2", None),
    ]


def test_decode_rejects_what_is_not_discovery() -> None:
    """Other SOAP messages and empty bodies are PROTOCOL errors."""
    for data in (
        message("Other", "<wsd:Other/>"),
        message("Hello", ""),
        message("Hello", "<x:Hello xmlns:x='urn:other'/>"),
    ):
        with pytest.raises(WsdError) as caught:
            discovery.decode_message(data)
        assert caught.value.kind is ErrorKind.PROTOCOL


def test_decode_probe_and_resolve_of_others() -> None:
    """Probes and Resolves (of other clients) decode without devices."""
    assert discovery.decode_message(discovery.probe_message()).kind is MessageKind.PROBE
    resolve = discovery.decode_message(discovery.resolve_message("uuid:abc"))
    assert resolve.kind is MessageKind.RESOLVE
    assert resolve.devices == ()


def test_probe_message_for_other_types() -> None:
    """Types from namespaces without a prefix of their own get one declared."""
    data = discovery.probe_message([(SCAN, "ScanDeviceType"), ("urn:vendor", "Thing")])
    envelope = parse_envelope(data)
    assert qname_values(envelope.payload, "wsd:Types") == {  # type: ignore[arg-type]
        (SCAN, "ScanDeviceType"),
        ("urn:vendor", "Thing"),
    }
    assert find(envelope.payload, "wsd:Types") is not None  # type: ignore[arg-type]
    empty = parse_envelope(discovery.probe_message([]))
    assert find(empty.payload, "wsd:Types") is None  # type: ignore[arg-type]


def test_resolve_message_keeps_the_device_spelling() -> None:
    """`uuid:` and `urn:uuid:` stay verbatim; a bare UUID becomes `urn:uuid:`."""
    for given_address, sent in (
        ("uuid:ABC", "uuid:ABC"),
        ("urn:uuid:abc", "urn:uuid:abc"),
        (" 1234 ", "urn:uuid:1234"),
    ):
        envelope = parse_envelope(
            discovery.resolve_message(given_address, message_id="urn:uuid:m")
        )
        assert text(envelope.payload, "wsa:EndpointReference/wsa:Address") == sent
        assert envelope.message_id == "urn:uuid:m"
        assert etree.QName(envelope.root).localname == "Envelope"


def test_order_addresses() -> None:
    """http(s) only, duplicates dropped, responder first, unusable link-local last."""
    urls = [
        "http://[fe80::1]:80/d",
        "ftp://10.0.0.1/",
        "http://10.0.0.9/d",
        "http://10.0.0.1/d",
        "http://10.0.0.9/d",
        "https://[2001:db8::1]/d",
        "not a url",
        "http://[::1",
    ]
    assert discovery.order_addresses(urls, source="10.0.0.1") == (
        "http://10.0.0.1/d",
        "http://10.0.0.9/d",
        "https://[2001:db8::1]/d",
        "http://[fe80::1]:80/d",
    )
    assert discovery.order_addresses(urls, source="fe80::1", zone="eth0")[0] == (
        "http://[fe80::1%25eth0]:80/d"
    )
    assert discovery.order_addresses(["http://[fe80::1%25lo]/x"], zone="9") == (
        "http://[fe80::1%25lo]/x",
    )


@pytest.mark.parametrize(
    ("host", "normalized"),
    [
        ("::ffff:192.0.2.1", "192.0.2.1"),  # an IPv4 peer of a dual-stack socket
        ("[::FFFF:c000:201]", "192.0.2.1"),
        ("[FE80::0:1%eth0]", "fe80::1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("Printer.LOCAL", "printer.local"),
    ],
)
def test_normalize_host(host: str, normalized: str) -> None:
    """One form per address: no brackets, zone or case; IPv4-mapped IPv6 is IPv4."""
    assert discovery.normalize_host(host) == normalized


def test_same_host() -> None:
    """Addresses compare by value; names by case-insensitive text."""
    assert discovery.same_host("::ffff:192.0.2.1", "192.0.2.1")
    assert discovery.same_host("fe80::0:1", "FE80::1")
    assert discovery.same_host("Printer.local", "printer.local")
    assert not discovery.same_host("10.0.0.1", "10.0.0.2")
    assert not discovery.same_host(None, "10.0.0.1")
    assert discovery.url_host("http://[fe80::1%25eth0]:80/") == "fe80::1"
    assert discovery.url_host("http://[::1") is None


def test_app_sequence_tracker() -> None:
    """Newer accepted, repeats and older dropped, higher InstanceId is a reboot."""
    tracker = discovery.AppSequenceTracker()
    assert tracker.check("a", None) is False
    assert tracker.check("a", AppSequence(5, 1)) is False
    assert tracker.check("a", AppSequence(5, 1)) is None  # repeat
    assert tracker.check("a", AppSequence(5, 0)) is None  # older
    assert tracker.check("a", AppSequence(5, 2)) is False
    assert tracker.check("a", AppSequence(5, 1, "urn:seq")) is False  # another sequence
    assert tracker.check("a", AppSequence(4, 99)) is None  # previous boot
    assert tracker.check("a", AppSequence(6, 1)) is True  # rebooted
    assert tracker.check("b", AppSequence(1, 1)) is False  # devices are independent
    small = discovery.AppSequenceTracker(size=1)
    assert small.check("a", AppSequence(5, 1)) is False
    assert small.check("b", AppSequence(5, 1)) is False
    assert small.check("a", AppSequence(4, 1)) is False  # "a" was forgotten


def test_recent_ids_forget_the_oldest() -> None:
    """The MessageID memory is bounded."""
    recent = RecentIds(size=2)
    assert not recent.seen("1")
    assert not recent.seen("2")
    assert recent.seen("1") and recent.seen("2")
    assert not recent.seen("3")
    assert not recent.seen("1")  # forgotten
    assert not recent.seen(None)


def test_scanner_predicates() -> None:
    """Scanner by QName; candidates are print devices and devices without types."""

    def device(*types: tuple[str, str]) -> DiscoveredDevice:
        return DiscoveredDevice(uuid="u", types=frozenset(types), xaddrs=())

    assert discovery.is_scanner(device((SCAN, "ScanDeviceType")))
    assert not discovery.is_scanner(device(("urn:fake", "ScanDeviceType")))
    assert discovery.is_scanner_candidate(device((PRINT, "PrintDeviceType")))
    assert discovery.is_scanner_candidate(device())
    assert not discovery.is_scanner_candidate(device((WSDP, "Device")))


# --- fuzzing ---------------------------------------------------------------------------------

SEEDS = [
    (CAPTURES / "KYOCERA-ECOSYS_M2040dn-ProbeMatches.xml").read_bytes(),
    (CAPTURES / "EPSON-unknown_model-ProbeMatches.xml").read_bytes(),
    message(
        "Hello",
        match("Hello", "urn:uuid:1", xaddrs="http://[fe80::1]/ http://10.0.0.1/"),
    ),
    message("Bye", match("Bye", "uuid:2", types=None, xaddrs=None)),
]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.sampled_from(SEEDS),
    cuts=st.lists(st.tuples(st.integers(0, 2000), st.binary(max_size=12)), max_size=6),
)
def test_decoding_damaged_messages_raises_only_wsd_error(
    seed: bytes, cuts: list[tuple[int, bytes]]
) -> None:
    """Mutated discovery messages decode or raise WsdError; nothing else escapes."""
    data = bytearray(seed)
    for position, insert in cuts:
        data[position : position + len(insert)] = insert
    try:
        decoded = discovery.decode_message(bytes(data), source="10.0.0.1", zone="2")
    except WsdError as err:
        kind = err.kind
    else:
        kind = None
        for device in decoded.devices:
            discovery.is_scanner_candidate(device)
            discovery.order_addresses(device.xaddrs, source=device.source_address)
    assert kind in (None, ErrorKind.PROTOCOL)
