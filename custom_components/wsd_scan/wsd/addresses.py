"""Addresses: hosts compared and normalised, XAddrs filtered and ordered for trying."""

from __future__ import annotations

from collections.abc import Iterable
import ipaddress
from urllib.parse import urlsplit


def _host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None


def normalize_host(host: str) -> str:
    """Return `host` in one form for comparison.

    Brackets, an IPv6 zone and case are dropped, an IP address is written canonically,
    and an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, how a dual-stack socket reports
    an IPv4 peer) becomes its IPv4 address.
    """
    bare = host.strip().strip("[]")
    address = _host_ip(bare)
    if address is None:
        return bare.lower()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def same_host(first: str | None, second: str | None) -> bool:
    """Whether two host strings name the same address (`normalize_host`)."""
    if first is None or second is None:
        return False
    return normalize_host(first) == normalize_host(second)


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
    interfaces or unreachable ones: HP Laser MFP 135w, sane-airscan issue #107),
    link-local addresses without a usable zone last; otherwise the device's order is
    kept.
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
