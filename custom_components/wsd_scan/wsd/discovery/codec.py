"""WS-Discovery messages: decoding what devices send, building what a client sends.

Message shapes from WS-Discovery (April 2005) section 5 (Probe, ProbeMatches, Resolve,
ResolveMatches) and section 4 (Hello, Bye); devices from the Devices Profile for Web
Services (DPWS, February 2006). Every message is read with the hardened parser of `xml`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from ..addresses import order_addresses
from ..exceptions import ErrorKind, WsdError
from ..models import AppSequence, DiscoveredDevice, normalize_uuid
from ..xml import (
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
    parse_envelope,
    qname_values,
    sub,
    text,
)

#: One SOAP envelope per datagram, < 64 KiB (SOAP-over-UDP, section 3.2).
MAX_DATAGRAM: Final = 65_536

PRINT: Final = "http://schemas.microsoft.com/windows/2006/08/wdp/print"
DEVICE_TYPE: Final = (WSDP, "Device")
SCAN_DEVICE_TYPE: Final = (SCAN, "ScanDeviceType")
PRINT_DEVICE_TYPE: Final = (PRINT, "PrintDeviceType")

ACTION_PROBE: Final = f"{WSD}/Probe"
ACTION_RESOLVE: Final = f"{WSD}/Resolve"

# Discovery messages declare only what they use (like Windows): they travel in datagrams.
_UDP_NSMAP: Final = {"soap": SOAP, "wsa": WSA, "wsd": WSD, "wsdp": WSDP}


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
    (`metadata.get_device_info(...).scan_service_url`) settles it.
    """
    return is_scanner(device) or not device.types or PRINT_DEVICE_TYPE in device.types


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
                merge_devices(merged[device.uuid][1], device),
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


def merge_devices(
    first: DiscoveredDevice, second: DiscoveredDevice
) -> DiscoveredDevice:
    """Return what two answers of one endpoint say together (types, XAddrs, version)."""
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


def resolve_for(address: str, message_id: str) -> bytes:
    """Build a Resolve for `address` with a given MessageID (`resolve_message`)."""
    return resolve_message(address, message_id=message_id)


def _endpoint_address(address: str) -> str:
    """`urn:uuid:` for a bare UUID; any other address form is kept verbatim."""
    value = address.strip()
    return value if ":" in value else f"urn:uuid:{value}"
