"""WS-Discovery over loopback multicast, the directed HTTP probe and metadata Get."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import socket
import uuid

import aiohttp
from lxml import etree
import pytest

from simulator import Quirk, SimulatedScanner, UdpTiming
from simulator.discovery import IP_MULTICAST_ALL

from .conftest import WSA, envelope, fault_subcode

pytestmark = pytest.mark.usefixtures("socket_enabled")

GROUP = "239.255.255.250"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSDP = "http://schemas.xmlsoap.org/ws/2006/02/devprof"
NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": WSA,
    "d": WSD,
    "p": WSDP,
    "x": "http://schemas.xmlsoap.org/ws/2004/09/mex",
}
FAST = UdpTiming(min_delay=0.005, max_delay=0.01, upper_delay=0.01)


def free_udp_port() -> int:
    """Return a UDP port nobody uses right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Datagrams(asyncio.DatagramProtocol):
    """Collects datagrams."""

    def __init__(self) -> None:
        """Start empty."""
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        """Queue a datagram."""
        self.queue.put_nowait(data)

    async def messages(self, seconds: float) -> list[etree._Element]:
        """Return every message received within `seconds`."""
        found = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    found.append(etree.fromstring(await self.queue.get()))
        return found


@contextlib.asynccontextmanager
async def client_socket() -> AsyncIterator[tuple[asyncio.DatagramTransport, Datagrams]]:
    """Yield a unicast socket that multicasts through loopback only."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(
        socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1")
    )
    sock.bind(("127.0.0.1", 0))
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        Datagrams, sock=sock
    )
    try:
        yield transport, protocol
    finally:
        transport.close()


@contextlib.asynccontextmanager
async def group_listener(port: int) -> AsyncIterator[Datagrams]:
    """Yield a socket joined to the discovery group on loopback (hears Hello/Bye)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
    sock.bind((GROUP, port))
    sock.setsockopt(
        socket.IPPROTO_IP,
        socket.IP_ADD_MEMBERSHIP,
        socket.inet_aton(GROUP) + socket.inet_aton("127.0.0.1"),
    )
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        Datagrams, sock=sock
    )
    try:
        yield protocol
    finally:
        transport.close()


def probe(types: str = "wsdp:Device", message_id: str | None = None) -> bytes:
    """Return a Probe envelope."""
    return (
        f'<soap:Envelope xmlns:soap="{NS["s"]}" xmlns:wsa="{WSA}" xmlns:wsd="{WSD}" xmlns:wsdp="{WSDP}" '
        'xmlns:wscn="http://schemas.microsoft.com/windows/2006/08/wdp/scan">'
        "<soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>"
        f"<wsa:Action>{WSD}/Probe</wsa:Action><wsa:MessageID>{message_id or f'urn:uuid:{uuid.uuid4()}'}"
        f"</wsa:MessageID></soap:Header><soap:Body><wsd:Probe><wsd:Types>{types}</wsd:Types>"
        "</wsd:Probe></soap:Body></soap:Envelope>"
    ).encode()


def resolve(address: str) -> bytes:
    """Return a Resolve envelope."""
    return (
        f'<soap:Envelope xmlns:soap="{NS["s"]}" xmlns:wsa="{WSA}" xmlns:wsd="{WSD}">'
        "<soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>"
        f"<wsa:Action>{WSD}/Resolve</wsa:Action><wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>"
        "</soap:Header><soap:Body><wsd:Resolve><wsa:EndpointReference>"
        f"<wsa:Address>{address}</wsa:Address></wsa:EndpointReference></wsd:Resolve></soap:Body></soap:Envelope>"
    ).encode()


async def test_hello_probe_resolve_bye() -> None:
    """Hello on start, ProbeMatches (repeated, same MessageID) to the prober, Resolve, Bye."""
    port = free_udp_port()
    async with group_listener(port) as group, client_socket() as (transport, replies):
        sim = SimulatedScanner("office_mfp", udp_port=port, udp_timing=FAST)
        await sim.start()
        try:
            hello = await group.messages(0.3)
            assert hello and hello[0].find(".//d:Hello", NS) is not None
            appseq = hello[0].find(".//d:AppSequence", NS)
            assert appseq is not None and appseq.get("InstanceId") == str(
                sim.sequence.instance_id
            )
            assert hello[0].findtext(".//d:XAddrs", namespaces=NS) == sim.device_url

            message_id = f"urn:uuid:{uuid.uuid4()}"
            transport.sendto(probe(message_id=message_id), (GROUP, port))
            matches = await replies.messages(0.3)
            assert len(matches) == 2  # UNICAST_UDP_REPEAT copies
            assert matches[0].findtext(".//a:MessageID", namespaces=NS) == matches[
                1
            ].findtext(".//a:MessageID", namespaces=NS)
            match = matches[0]
            assert match.findtext(".//a:RelatesTo", namespaces=NS) == message_id
            assert (
                match.findtext(
                    ".//d:ProbeMatch/a:EndpointReference/a:Address", namespaces=NS
                )
                == f"urn:uuid:{sim.uuid}"
            )
            assert "ScanDeviceType" in (
                match.findtext(".//d:Types", namespaces=NS) or ""
            )

            transport.sendto(probe(types="wscn:NoSuchType"), (GROUP, port))
            assert await replies.messages(0.2) == []

            transport.sendto(resolve(f"uuid:{sim.uuid}"), (GROUP, port))
            resolved = await replies.messages(0.2)
            assert (
                resolved[0].findtext(".//d:ResolveMatch/d:XAddrs", namespaces=NS)
                == sim.device_url
            )
            transport.sendto(resolve(f"urn:uuid:{uuid.uuid4()}"), (GROUP, port))
            assert await replies.messages(0.1) == []
        finally:
            await sim.stop()
        bye = await group.messages(0.3)
        assert any(m.find(".//d:Bye", NS) is not None for m in bye)


async def test_reboot_sends_hello_with_higher_instance_id() -> None:
    """A reboot announces a new AppSequence InstanceId."""
    port = free_udp_port()
    async with (
        group_listener(port) as group,
        SimulatedScanner(
            "photo_flatbed",
            udp_port=port,
            udp_timing=FAST,
            quirks={Quirk.NO_XADDRS_IN_HELLO},
        ) as sim,
    ):
        first = await group.messages(0.2)
        await sim.reboot()
        second = await group.messages(0.2)
    ids = [
        int(m.find(".//d:AppSequence", NS).get("InstanceId"))
        for m in (first[0], second[0])
    ]  # type: ignore[union-attr]
    assert ids[1] > ids[0]
    assert second[0].find(".//d:XAddrs", NS) is None


async def test_reboot_without_hello() -> None:
    """`reboot(hello=False)`: a new InstanceId and forgotten subscriptions, told nobody."""
    port = free_udp_port()
    async with (
        group_listener(port) as group,
        SimulatedScanner("photo_flatbed", udp_port=port, udp_timing=FAST) as sim,
    ):
        (first,) = {
            m.find(".//d:AppSequence", NS).get("InstanceId")  # type: ignore[union-attr]
            for m in await group.messages(0.2)
        }
        await sim.reboot(hello=False)
        silent = sim.sequence.instance_id
        await sim.reboot()
        heard = {
            int(m.find(".//d:AppSequence", NS).get("InstanceId"))  # type: ignore[union-attr]
            for m in await group.messages(0.2)
        }
    # Only the second reboot was announced.
    assert heard == {sim.sequence.instance_id}
    assert int(first) < silent < sim.sequence.instance_id


async def test_discovery_quirks() -> None:
    """Two ProbeMatch, `uuid:` without `urn:`, late answers."""
    port = free_udp_port()
    quirks = {Quirk.TWO_PROBE_MATCHES, Quirk.UUID_WITHOUT_URN, Quirk.LATE_PROBE_ANSWER}
    async with (
        client_socket() as (transport, replies),
        SimulatedScanner(
            "office_mfp", quirks=quirks, udp_port=port, udp_timing=FAST
        ) as sim,
    ):
        sim.settings.late_probe_delay = 0.3
        transport.sendto(probe(), (GROUP, port))
        assert await replies.messages(0.15) == []
        late = await replies.messages(0.4)
    addresses = late[0].findall(".//d:ProbeMatch/a:EndpointReference/a:Address", NS)
    assert len(addresses) == 2
    assert addresses[1].text == f"uuid:{sim.uuid}"


async def test_directed_probe_and_metadata(session: aiohttp.ClientSession) -> None:
    """HTTP probe answers ProbeMatches or 202; Get returns ThisModel/ThisDevice/Relationship."""
    async with SimulatedScanner("kyocera_m2040dn", discovery=False) as sim:
        async with session.post(sim.probe_url, data=probe()) as response:
            assert response.status == 200
            reply = etree.fromstring(await response.read())
        assert reply.findtext(".//d:XAddrs", namespaces=NS) == sim.device_url
        async with session.post(sim.probe_url, data=probe("wsdp:Nothing")) as response:
            assert response.status == 202
        get = envelope(
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
            "",
            to=sim.endpoint_address,
        )
        async with session.post(sim.device_url, data=get) as response:
            metadata = etree.fromstring(await response.read())
        async with session.get(sim.presentation_url) as response:
            assert "ECOSYS M2040dn" in await response.text()
    assert metadata.findtext(".//p:SerialNumber", namespaces=NS) == "VCF9192281"
    hosted = metadata.findall(".//p:Hosted", NS)
    assert len(hosted) == 24
    scan = [
        h
        for h in hosted
        if h.findtext("p:Types", namespaces=NS) == "scan:ScannerServiceType"
    ]
    assert (
        scan[0].findtext("a:EndpointReference/a:Address", namespaces=NS) == sim.scan_url
    )
    assert sim.scan_url.endswith("/WSDScanner")
    assert metadata.prefix == "SOAP-ENV"


async def test_metadata_strict_to(session: aiohttp.ClientSession) -> None:
    """With STRICT_WSA_TO the Get must be addressed to the device EPR."""
    async with SimulatedScanner(
        "office_mfp", discovery=False, quirks={Quirk.STRICT_WSA_TO}
    ) as sim:
        bad = envelope(
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get", "", to=sim.device_url
        )
        async with session.post(sim.device_url, data=bad) as response:
            assert response.status == 400
            assert (
                fault_subcode(etree.fromstring(await response.read()))
                == "DestinationUnreachable"
            )
        good = envelope(
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
            "",
            to=f"urn:uuid:{sim.uuid}",
        )
        async with session.post(sim.device_url, data=good) as response:
            assert response.status == 200
        async with session.post(sim.probe_url, data=b"<not-xml") as response:
            assert response.status == 400
