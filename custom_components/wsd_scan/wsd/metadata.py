"""DPWS metadata: WS-Transfer Get to a device XAddr, decoded into `DeviceInfo`.

Protocol reference: DPWS 1.1 §5 (Metadata Exchange). The scan service is the Hosted service
whose Types hold the QName `{…/2006/08/wdp/scan}ScannerServiceType` (prefixes resolved, so
Kyocera's proprietary `kmscn:scan_operation` is not mistaken for it); its PnP-X
CompatibleId is the fallback. Sections are found by their element, not their Dialect
string (the Scan Service spec's own sample misspells it), and several Relationship sections
are merged (DPWS R2029).
"""

from __future__ import annotations

from collections.abc import Iterable
import logging
from ssl import SSLContext
from typing import Final
from urllib.parse import urljoin, urlsplit

import aiohttp

from . import soap
from .addresses import order_addresses, url_host
from .exceptions import ErrorKind, WsdError, most_telling
from .models import DeviceInfo, HostedService, normalize_uuid
from .xml import (
    ANONYMOUS,
    SCAN,
    WXF,
    Element,
    Envelope,
    build_envelope,
    findall,
    qname_values,
    text,
)

_LOGGER = logging.getLogger(__name__)

ACTION_GET: Final = f"{WXF}/Get"
SCANNER_SERVICE_TYPE: Final = (SCAN, "ScannerServiceType")
_SCANNER_COMPATIBLE_ID: Final = f"{SCAN}/ScannerServiceType"
#: DPWS MAX_FIELD_SIZE: names longer than this are cut, not shown whole in the UI.
MAX_FIELD_SIZE: Final = 256
#: Per-address time for one Get; the next XAddr is tried after it.
METADATA_TIMEOUT: Final = 10.0


def get_request(endpoint: str) -> bytes:
    """Build the Get of a device's metadata; `wsa:To` is its endpoint address (DPWS)."""
    address = endpoint.strip()
    return build_envelope(
        ACTION_GET,
        address if ":" in address else f"urn:uuid:{address}",
        reply_to=ANONYMOUS,
    )


async def get_device_info(
    session: aiohttp.ClientSession,
    endpoint: str,
    xaddrs: Iterable[str],
    *,
    timeout: float = METADATA_TIMEOUT,
    ssl: SSLContext | bool = True,
) -> DeviceInfo:
    """Fetch and decode a device's metadata, trying its XAddrs in order until one answers.

    `endpoint` is the device's endpoint address or bare UUID (`DiscoveredDevice.uuid`),
    or, for a device known only by URL, that URL (the identity then comes from the
    metadata's `wsdp:Host`); `xaddrs` are its transport addresses, best first (`DiscoveredDevice.xaddrs` already
    puts the responder's address first). Non-http(s) addresses are skipped. When every
    address fails, the most telling error is raised: an answer that made no sense (fault,
    protocol) before a silent or unreachable address. `ssl` is the TLS setting for https
    addresses (`soap.post`).
    """
    urls = order_addresses(xaddrs)
    if not urls:
        raise WsdError(ErrorKind.INVALID_ARGUMENT, "the device has no http(s) address")
    errors: list[WsdError] = []
    for url in urls:
        try:
            return await _get(session, url, endpoint, timeout, ssl)
        except WsdError as err:
            _LOGGER.debug("No metadata from %s: %s", url, err)
            errors.append(err)
    raise most_telling(errors)


async def _get(
    session: aiohttp.ClientSession,
    url: str,
    endpoint: str,
    timeout: float,
    ssl: SSLContext | bool,
) -> DeviceInfo:
    envelope = await soap.post(
        session, url, get_request(endpoint), timeout=timeout, ssl=ssl
    )
    if envelope is None:
        raise WsdError(ErrorKind.PROTOCOL, f"{url} answered Get without metadata")
    return parse_device_info(envelope, endpoint, source_url=url)


def parse_device_info(
    envelope: Envelope, endpoint: str | None = None, *, source_url: str | None = None
) -> DeviceInfo:
    """Decode a GetResponse into `DeviceInfo`.

    The identity is `endpoint` (normalised); the `wsdp:Host` endpoint address when no
    endpoint is given or it is only a URL (a device reached by address alone). `source_url` is the XAddr that answered: service addresses on its host come first,
    link-local ones get its zone, and a relative PresentationUrl is resolved against it.
    """
    body = envelope.body
    host = next(iter(findall(body, ".//wsdp:Relationship/wsdp:Host")), None)
    host_address = text(host, "wsa:EndpointReference/wsa:Address")
    identity = (
        host_address
        if host_address and (endpoint is None or "://" in endpoint)
        else endpoint
    )
    if not identity or not normalize_uuid(identity):
        raise WsdError(ErrorKind.PROTOCOL, "metadata without the device's identity")
    model = next(iter(findall(body, ".//wsdp:ThisModel")), None)
    device = next(iter(findall(body, ".//wsdp:ThisDevice")), None)
    if model is None and device is None and not findall(body, ".//wsdp:Relationship"):
        raise WsdError(ErrorKind.PROTOCOL, "the answer to Get holds no DPWS metadata")
    hosted = findall(body, ".//wsdp:Relationship/wsdp:Hosted")
    services = tuple(_hosted(node, source_url) for node in hosted)
    scan_service = next(
        (service for service in services if SCANNER_SERVICE_TYPE in service.types),
        None,
    ) or next(
        (
            service
            for service, node in zip(services, hosted, strict=True)
            if _SCANNER_COMPATIBLE_ID in _compatible_ids(node)
        ),
        None,
    )
    return DeviceInfo(
        uuid=normalize_uuid(identity),
        manufacturer=_field(model, "wsdp:Manufacturer"),
        model=_field(model, "wsdp:ModelName"),
        model_number=_field(model, "wsdp:ModelNumber"),
        friendly_name=_field(device, "wsdp:FriendlyName"),
        serial_number=_field(device, "wsdp:SerialNumber"),
        firmware_version=_field(device, "wsdp:FirmwareVersion"),
        presentation_url=_web_url(_field(model, "wsdp:PresentationUrl"), source_url),
        manufacturer_url=_web_url(_field(model, "wsdp:ManufacturerUrl"), None),
        scan_service_url=(
            scan_service.addresses[0]
            if scan_service is not None and scan_service.addresses
            else None
        ),
        services=services,
    )


def _hosted(hosted: Element, source_url: str | None) -> HostedService:
    addresses = [
        address
        for reference in findall(hosted, "wsa:EndpointReference")
        if (address := text(reference, "wsa:Address"))
    ]
    return HostedService(
        service_id=_field(hosted, "wsdp:ServiceId"),
        types=frozenset(qname_values(hosted, "wsdp:Types")),
        addresses=_service_addresses(addresses, source_url),
    )


def _service_addresses(addresses: list[str], source_url: str | None) -> tuple[str, ...]:
    """Order a service's addresses: on the host that answered Get first.

    The device is known to be reachable there; other addresses may belong to another
    interface of the device (Samsung M288x lists 192.168.3.1) or be unroutable.
    """
    if source_url is None:
        return order_addresses(addresses)
    return order_addresses(
        addresses, source=url_host(source_url), zone=_zone(source_url)
    )


def _zone(url: str) -> str | None:
    """Return the zone of an IPv6 URL (`http://[fe80::1%25eth0]/` → `eth0`)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    _, percent, zone = host.partition("%")
    return zone.removeprefix("25") if percent and zone else None


def _compatible_ids(hosted: Element) -> set[str]:
    return {
        value
        for node in findall(hosted, "pnpx:CompatibleId")
        for value in (node.text or "").split()
    }


def _field(parent: Element | None, path: str) -> str | None:
    """Return the first non-empty value at `path`, cut to DPWS MAX_FIELD_SIZE characters.

    Localised fields (FriendlyName, ModelName, Manufacturer) may repeat with `xml:lang`;
    the first one is the device's default.
    """
    if parent is None:
        return None
    for node in findall(parent, path):
        if value := text(node):
            return " ".join(value.split())[:MAX_FIELD_SIZE]
    return None


def _web_url(value: str | None, base: str | None) -> str | None:
    """Return an http(s) URL for the UI (relative ones resolved against `base`)."""
    if value is None:
        return None
    try:
        url = urljoin(base, value) if base and not urlsplit(value).scheme else value
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return None
    return url if valid else None
