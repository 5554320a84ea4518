"""WS-Discovery on Home Assistant's side: which interfaces to use, and background discovery.

Four ways lead to a WSD scanner, and all of them end in the config flow with the same
unique id (the scanner's normalised endpoint UUID):

* the config flow's user step probes on demand (config_flow.py);
* zeroconf (`_uscan._tcp`, `_uscans._tcp` in manifest.json) starts flows on its own;
* this module listens for Hello announcements, and
* repeats a WS-Discovery search every `DISCOVERY_INTERVAL`; both start an
  `integration_discovery` flow for each scanner heard of.

`async_setup_discovery` is called from the integration's `async_setup`. Home Assistant runs
`async_setup` only once the integration is configured (an entry exists, or YAML names it),
so before the first scanner is added the background part is idle. That is fine: zeroconf
and the user step cover the first discovery. From then on this module finds further
scanners, and the new address of a known one (a Hello after a DHCP change updates its
entry through the flow's unique-id rule).

Tests put discovery on loopback by patching `async_get_interfaces` (to `["127.0.0.1"]`)
and `get_multicast` (to a per-test UDP port).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
import contextlib
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
import logging
from typing import Final, TypedDict, cast

from homeassistant.components import network
from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util.hass_dict import HassKey
from homeassistant.util.signal_type import SignalType

from . import wsd
from .const import DOMAIN
from .wsd.discovery import url_host
from .wsd.models import normalize_uuid

_LOGGER = logging.getLogger(__name__)

#: How often the background search repeats. Hello covers devices that announce
#: themselves; the search finds those that only answer (and those that were off when
#: Home Assistant started).
DISCOVERY_INTERVAL: Final = timedelta(minutes=15)
#: Listening window of a background search (nobody waits for it, so DPWS' full 4 s).
SEARCH_TIMEOUT: Final = 4.0

#: Every Hello and Bye heard, for whoever cares (a runtime that re-subscribes after a
#: reboot, `event.rebooted`, or marks a scanner unavailable on Bye).
SIGNAL_DISCOVERY_EVENT: Final[SignalType[wsd.DiscoveryEvent]] = SignalType(
    f"{DOMAIN}_discovery_event"
)

DATA_DISCOVERY: Final[HassKey[WsdDiscovery]] = HassKey(f"{DOMAIN}_discovery")


class WsdDiscoveryData(TypedDict):
    """What an `integration_discovery` flow receives."""

    uuid: str
    xaddrs: list[str]
    host: str


async def async_get_interfaces(hass: HomeAssistant) -> list[str]:
    """Return the local addresses to run WS-Discovery through.

    The IPv4 addresses and the scoped IPv6 link-local addresses (`fe80::…%<scope>`) of
    the adapters enabled in Settings → System → Network. WS-Discovery's IPv6 group
    (ff02::c) is link-scoped, so one link-local address per interface is all IPv6 needs.
    Loopback counts only when the user enabled the loopback adapter itself (Home
    Assistant never does): that is where `scripts/develop` runs its simulated scanner.
    """
    addresses: list[str] = []
    for adapter in await network.async_get_adapters(hass):
        if not adapter["enabled"]:
            continue
        addresses.extend(
            ipv4["address"]
            for ipv4 in adapter["ipv4"]
            if adapter["name"] == "lo" or not IPv4Address(ipv4["address"]).is_loopback
        )
        addresses.extend(
            f"{ipv6['address']}%{ipv6['scope_id']}"
            for ipv6 in adapter["ipv6"]
            if IPv6Address(ipv6["address"]).is_link_local and ipv6["scope_id"]
        )
    return list(dict.fromkeys(addresses))


def get_multicast() -> wsd.Multicast:
    """Return where WS-Discovery multicast goes (the standard group and port 3702)."""
    return wsd.Multicast()


def discovered_host(device: wsd.DiscoveredDevice) -> str:
    """Return the address a discovered device answered from (else its first XAddr's)."""
    return device.source_address or url_host(device.xaddrs[0]) or ""


def discovery_data(device: wsd.DiscoveredDevice) -> WsdDiscoveryData:
    """Return the `integration_discovery` data of a device that has XAddrs."""
    return WsdDiscoveryData(
        uuid=device.uuid, xaddrs=list(device.xaddrs), host=discovered_host(device)
    )


async def async_setup_discovery(hass: HomeAssistant) -> None:
    """Start listening for Hello and searching periodically, until Home Assistant stops.

    Idempotent. Leaves no task, timer or socket behind once `EVENT_HOMEASSISTANT_STOP`
    has been handled.
    """
    if DATA_DISCOVERY in hass.data:
        return
    discovery = hass.data[DATA_DISCOVERY] = WsdDiscovery(hass)
    await discovery.async_start()


class WsdDiscovery:
    """The background part of discovery: one Hello listener and a periodic search."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Prepare; nothing runs before `async_start`."""
        self._hass = hass
        self._multicast = get_multicast()
        self._interfaces: list[str] | None = None
        self._listener: wsd.DiscoveryListener | None = None
        self._search: asyncio.Task[None] | None = None
        self._cancel_interval: Callable[[], None] | None = None
        self._cancel_stop: Callable[[], None] | None = None
        self._stopped = False

    @property
    def listening(self) -> bool:
        """Whether Hello announcements are being heard on at least one interface."""
        return self._listener is not None and self._listener.listening

    @property
    def searching(self) -> bool:
        """Whether a search is running."""
        return self._search is not None and not self._search.done()

    async def async_start(self) -> None:
        """Listen at once, search now in the background and every `DISCOVERY_INTERVAL`."""
        self._cancel_stop = self._hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._async_on_stop
        )
        await self._async_listen(await async_get_interfaces(self._hass))
        self._cancel_interval = async_track_time_interval(
            self._hass,
            self._async_on_interval,
            DISCOVERY_INTERVAL,
            name=f"{DOMAIN} discovery",
        )
        self.async_schedule_search()

    async def async_stop(self) -> None:
        """Stop the timer, the search and the listener."""
        self._stopped = True
        self._hass.data.pop(DATA_DISCOVERY, None)
        for cancel in (self._cancel_interval, self._cancel_stop):
            if cancel is not None:
                cancel()
        self._cancel_interval = self._cancel_stop = None
        if self._search is not None:
            self._search.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._search
            self._search = None
        await self._async_stop_listener()

    async def _async_on_stop(self, _event: Event) -> None:
        self._cancel_stop = None  # a fired listen_once is gone already
        await self.async_stop()

    @callback
    def _async_on_interval(self, _now: datetime) -> None:
        self.async_schedule_search()

    @callback
    def async_schedule_search(self) -> None:
        """Start a search in the background unless one is running."""
        if self._stopped or self.searching:
            return
        self._search = self._hass.async_create_background_task(
            self.async_search(), f"{DOMAIN} discovery search", eager_start=True
        )

    async def async_search(self) -> None:
        """Probe once on the current interfaces; start a flow for each scanner found.

        The adapters are read again each time: the listener follows when they changed
        (Home Assistant got a new address, the user enabled another adapter).
        """
        interfaces = await async_get_interfaces(self._hass)
        await self._async_listen(interfaces)
        answered: set[str] = set()
        try:
            async with contextlib.aclosing(
                cast(
                    "AsyncGenerator[wsd.DiscoveredDevice]",
                    wsd.probe(
                        interfaces, timeout=SEARCH_TIMEOUT, multicast=self._multicast
                    ),
                )
            ) as devices:
                async for device in devices:
                    answered.add(normalize_uuid(device.uuid))
                    self._async_found(device)
        except wsd.WsdError as err:
            _LOGGER.debug("WS-Discovery search on %s failed: %s", interfaces, err)
            return
        # A scanner offered earlier that no longer answers is gone: withdraw its card.
        self._async_withdraw(lambda uuid: uuid not in answered)

    async def _async_listen(self, interfaces: list[str]) -> None:
        """(Re)start the Hello listener on `interfaces` unless it already runs there."""
        if interfaces == self._interfaces:
            return
        await self._async_stop_listener()
        self._interfaces = interfaces
        if not interfaces:
            return
        listener = wsd.DiscoveryListener(
            interfaces, self._async_on_event, multicast=self._multicast
        )
        try:
            await listener.start()
        except wsd.WsdError as err:
            _LOGGER.warning("Not listening for WSD scanners' announcements: %s", err)
            return
        self._listener = listener

    async def _async_stop_listener(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.stop()

    @callback
    def _async_on_event(self, event: wsd.DiscoveryEvent) -> None:
        async_dispatcher_send(self._hass, SIGNAL_DISCOVERY_EVENT, event)
        if event.type is wsd.DiscoveryEventType.HELLO:
            self._async_found(event.device)
        else:  # Bye: the scanner leaves the network
            gone = normalize_uuid(event.device.uuid)
            self._async_withdraw(lambda uuid: uuid == gone)

    @callback
    def _async_withdraw(self, is_gone: Callable[[str], bool]) -> None:
        """Abort the discovered (not yet added) scanners `is_gone` picks by UUID."""
        flows = self._hass.config_entries.flow.async_progress_by_handler(
            DOMAIN, match_context={"source": SOURCE_INTEGRATION_DISCOVERY}
        )
        for flow in flows:
            unique_id = flow["context"].get("unique_id")
            if unique_id is not None and is_gone(unique_id):
                _LOGGER.debug("Discovered scanner %s is gone", unique_id)
                self._hass.config_entries.flow.async_abort(flow["flow_id"])

    @callback
    def _async_found(self, device: wsd.DiscoveredDevice) -> None:
        if not device.xaddrs:  # a Hello whose Resolve went unanswered
            return
        discovery_flow.async_create_flow(
            self._hass,
            DOMAIN,
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data=discovery_data(device),
        )
