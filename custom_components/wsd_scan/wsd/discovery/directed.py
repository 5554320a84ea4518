"""Directed probe: a Probe POSTed to a host's well-known HTTP discovery endpoint.

DPWS (February 2006) makes the HTTP binding of Probe mandatory for devices (R1015): a
matching device answers with ProbeMatches in the HTTP response (R1021), another with 202
and an empty body (R1022). The well-known path comes from the Scan Service Definition
v1.0, Appendix B. This reaches scanners added by host name or across routers.
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Final

import aiohttp
import yarl

from .. import soap
from ..addresses import url_host
from ..exceptions import ErrorKind, WsdError
from ..models import DiscoveredDevice
from .codec import MessageKind, decode_envelope, probe_message

DIRECTED_PROBE_PATH: Final = (
    "/StableWSDiscoveryEndpoint/schemas-xmlsoap-org_ws_2005_04_discovery"
)


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
