"""Config flow for WSD Scan: find a scanner, confirm it, keep its address current.

Every path ends at the same identity: the entry's unique id is the scanner's normalised
endpoint UUID, whether the scanner was picked from a WS-Discovery probe (`user`), typed in
(`manual`, `reconfigure`), announced over mDNS (`zeroconf`) or heard in the background
(`integration_discovery`, see discovery.py). A known scanner found at a new address gets
its entry's host and XAddrs updated, which reloads the entry.

Entry data: `CONF_HOST` is how the scanner was reached (a host, `host:port` or a device
URL; a directed probe or a Get works on it) and `CONF_XADDRS` its transport addresses,
best first. Options are stored flat under the `CONF_*` keys of const.py; the callback URL
is absent unless set.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Mapping
import contextlib
from dataclasses import dataclass
from functools import partial
import logging
from typing import Any, Final, cast, override
from uuid import uuid4

import aiohttp
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_NAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import AbortFlow, section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.helpers.typing import DiscoveryInfoType
import probatio
import yarl

from . import discovery, wsd
from .const import (
    CONF_CA_FILE,
    CONF_CALLBACK_URL,
    CONF_COLOR,
    CONF_DESTINATION,
    CONF_DOCUMENT_ROOT,
    CONF_ENDPOINT,
    CONF_FILTERS,
    CONF_FORMAT,
    CONF_PAPER,
    CONF_POLL_INTERVAL,
    CONF_POST_SCAN,
    CONF_PROFILE_ID,
    CONF_PROFILES,
    CONF_RESOLUTION,
    CONF_SCAN_PROCESS_ID,
    CONF_SOURCE,
    CONF_USER_IDENTIFIER,
    CONF_VERIFY_TLS,
    CONF_XADDRS,
    DEFAULT_COLOR,
    DEFAULT_FORMAT,
    DEFAULT_PAPER,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RESOLUTION,
    DEFAULT_SOURCE,
    DOMAIN,
    Destination,
)
from .dsp_view import (
    CONF_RECEIVE_HOSTS,
    CONF_RECEIVE_POST_SCAN,
    CONF_RECEIVE_SECRET,
    CONF_ROTATE_SECRET,
    endpoint_url,
    receive_options,
)
from .post_scan import post_scan_settings, tls_setting
from .profiles import MAX_PROFILE_NAME, SETTINGS_KEYS, stored_profiles
from .wsd.discovery import DIRECTED_PROBE_PATH, directed_probe_url, same_host, url_host
from .wsd.models import normalize_uuid

_LOGGER = logging.getLogger(__name__)

#: Listening window of the user step's WS-Discovery probe (someone is waiting).
DISCOVERY_TIMEOUT: Final = 3.0
#: Time for one directed probe or one metadata Get (per address) while the flow runs.
REQUEST_TIMEOUT: Final = 5.0
#: Ports tried for the directed probe of a host found by zeroconf: the well-known
#: endpoint on 80 first (discovery.md §5; Canon, Epson), then the port mDNS advertised,
#: then where WSD servers are known to listen (5357 WSDAPI, 5358 Kyocera, 8018 HP Laser /
#: Samsung; peers.md §7).
PROBE_PORTS: Final = (80, 5357, 5358, 8018)

#: The user step's choice that leads to the manual step instead of a discovered scanner.
MANUAL: Final = "manual"
SECTION_ADVANCED: Final = "advanced"

SOURCES: Final = [str(source) for source in wsd.ScanSource]
FORMATS: Final = [str(document_format) for document_format in wsd.DocumentFormat]
COLORS: Final = [str(color) for color in wsd.ColorMode]
PAPERS: Final = ["a4", "letter", "legal", "a5", "max"]
RESOLUTIONS: Final = ["75", "100", "150", "200", "300", "600", "1200"]
MIN_POLL_INTERVAL: Final = 10
MAX_POLL_INTERVAL: Final = 3600

HOST_SCHEMA: Final = probatio.Schema({probatio.Required(CONF_HOST): str})


def _select(options: list[str], key: str) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=options, translation_key=key, mode=SelectSelectorMode.DROPDOWN
        )
    )


#: The scan settings, as the options and each profile offer them.
SETTINGS_FIELDS: Final = {
    probatio.Required(CONF_SOURCE, default=DEFAULT_SOURCE): _select(
        SOURCES, CONF_SOURCE
    ),
    probatio.Required(CONF_FORMAT, default=DEFAULT_FORMAT): _select(
        FORMATS, CONF_FORMAT
    ),
    probatio.Required(CONF_RESOLUTION, default=str(DEFAULT_RESOLUTION)): _select(
        RESOLUTIONS, CONF_RESOLUTION
    ),
    probatio.Required(CONF_COLOR, default=DEFAULT_COLOR): _select(COLORS, CONF_COLOR),
    probatio.Required(CONF_PAPER, default=DEFAULT_PAPER): _select(PAPERS, CONF_PAPER),
}

DESTINATIONS: Final = [str(destination) for destination in Destination]

PROFILE_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        **SETTINGS_FIELDS,
        probatio.Required(CONF_DESTINATION, default=Destination.MEDIA.value): _select(
            DESTINATIONS, CONF_DESTINATION
        ),
    }
)

POST_SCAN_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(CONF_ENDPOINT): TextSelector(),
        probatio.Optional(CONF_USER_IDENTIFIER): TextSelector(),
        probatio.Optional(CONF_SCAN_PROCESS_ID): TextSelector(),
        probatio.Optional(CONF_DOCUMENT_ROOT): TextSelector(),
        probatio.Optional(CONF_FILTERS): TextSelector(
            TextSelectorConfig(multiline=True, multiple=True)
        ),
        probatio.Optional(CONF_CA_FILE): TextSelector(),
        probatio.Required(CONF_VERIFY_TLS, default=True): BooleanSelector(),
    }
)

OPTIONS_SCHEMA: Final = probatio.Schema(
    {
        **SETTINGS_FIELDS,
        probatio.Required(SECTION_ADVANCED): section(
            probatio.Schema(
                {
                    probatio.Required(
                        CONF_POLL_INTERVAL, default=DEFAULT_POLL_INTERVAL
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=MIN_POLL_INTERVAL,
                            max=MAX_POLL_INTERVAL,
                            step=1,
                            mode=NumberSelectorMode.BOX,
                            unit_of_measurement="s",
                        )
                    ),
                    probatio.Optional(CONF_CALLBACK_URL): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.URL)
                    ),
                }
            ),
            {"collapsed": True},
        ),
    }
)


RECEIVE_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_RECEIVE_POST_SCAN, default=False): BooleanSelector(),
        probatio.Required(CONF_ROTATE_SECRET, default=False): BooleanSelector(),
        probatio.Optional(CONF_RECEIVE_HOSTS): TextSelector(
            TextSelectorConfig(multiple=True)
        ),
    }
)


class _CannotAdd(Exception):
    """Why a scanner cannot be added; `reason` is the translation key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Location:
    """Where a WSD device answered: its endpoint UUID (or device URL) and XAddrs."""

    host: str
    endpoint: str
    xaddrs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Scanner:
    """A scanner the flow has talked to: who it is and how to reach it."""

    host: str
    xaddrs: tuple[str, ...]
    info: wsd.DeviceInfo


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A device the user step's probe found, with its metadata when it answered."""

    device: wsd.DiscoveredDevice
    info: wsd.DeviceInfo | None

    @property
    def host(self) -> str:
        return discovery.discovered_host(self.device)

    @property
    def label(self) -> str:
        if self.info is None:
            return self.host
        return f"{self.info.name} ({self.host})"


def _reason(err: wsd.WsdError) -> str:
    """Map a library error to what the user is told."""
    if err.kind in (wsd.ErrorKind.UNREACHABLE, wsd.ErrorKind.TIMEOUT):
        return "cannot_connect"
    return "not_wsd_scanner"  # it answered, but not as a WSD scanner does


def _listable(device: wsd.DiscoveredDevice, info: wsd.DeviceInfo | None) -> bool:
    """Whether a probed device belongs in the user's list.

    The metadata settles it (a scan service); without metadata, what the device
    advertised does (a print-only candidate is left out).
    """
    if info is not None:
        return info.scan_service_url is not None
    return wsd.is_scanner(device)


def _host_part(target: str) -> str | None:
    """Return the host of a host, `host:port` or URL; None when it is none of those."""
    try:
        return url_host(directed_probe_url(target))
    except wsd.WsdError:
        return None


def _moved(old: str, host: str) -> str:
    """Return `old` (host, `host:port` or URL) with its host replaced by `host`.

    An entry keeps the form it was configured with: a port or device path the user
    entered still holds after the scanner got a new address.
    """
    try:
        url = yarl.URL(directed_probe_url(old)).with_host(host)
    except wsd.WsdError:  # the entry had no usable host
        return host
    return str(url) if "://" in old else url.raw_authority


def _address_updates(
    entry: ConfigEntry | None, host: str, xaddrs: tuple[str, ...]
) -> dict[str, Any] | None:
    """Return the entry data that changed now that the scanner answered at `host`.

    Nothing when the host part and the set of XAddrs are the same (their order may vary
    from one answer to the next; that is no reason to reload).
    """
    if entry is None or entry.source == SOURCE_IGNORE:
        return None
    updates: dict[str, Any] = {}
    old = str(entry.data.get(CONF_HOST) or "")
    new_host = _host_part(host) or host
    if not same_host(_host_part(old), new_host):
        updates[CONF_HOST] = _moved(old, new_host)
    if set(entry.data.get(CONF_XADDRS) or ()) != set(xaddrs):
        updates[CONF_XADDRS] = list(xaddrs)
    return updates or None


def _model(info: wsd.DeviceInfo) -> str:
    """Manufacturer and model for the UI, without repeating the manufacturer."""
    manufacturer, model = info.manufacturer, info.model
    if manufacturer and model and model.lower().startswith(manufacturer.lower()):
        manufacturer = None
    return " ".join(part for part in (manufacturer, model) if part) or info.name


def _callback_url(value: str) -> str | None:
    """Return the normalised callback base URL; None unless it is an http(s) URL."""
    try:
        url = yarl.URL(value.strip())
        valid = url.scheme in ("http", "https") and bool(url.host)
    except ValueError:
        return None
    if not valid or url.query_string or url.fragment:
        return None
    return str(url).rstrip("/")


async def _async_locate(session: aiohttp.ClientSession, target: str) -> _Location:
    """Find the WSD device behind a host, `host:port` or device URL (directed probe).

    A device URL that does not host the well-known probe endpoint is still accepted
    when it answers a Get (then the metadata names the device).
    """
    try:
        probe_url = directed_probe_url(target)
    except wsd.WsdError as err:
        raise _CannotAdd("invalid_host") from err
    device_url = target if "://" in target else None
    if device_url is not None:
        probe_url = str(yarl.URL(device_url).with_path(DIRECTED_PROBE_PATH))
    try:
        devices = await wsd.directed_probe(session, probe_url, timeout=REQUEST_TIMEOUT)
    except wsd.WsdError as err:
        if device_url is None:
            raise _CannotAdd(_reason(err)) from err
        devices = []
    device = next((d for d in devices if wsd.is_scanner(d)), None) or next(
        iter(devices), None
    )
    if device is None:
        if device_url is None:  # the endpoint exists, but nothing there scans (202)
            raise _CannotAdd("not_wsd_scanner")
        return _Location(target, device_url, (device_url,))
    first = (device_url,) if device_url is not None else ()
    return _Location(
        target, device.uuid, tuple(dict.fromkeys((*first, *device.xaddrs)))
    )


async def _async_describe(
    session: aiohttp.ClientSession, location: _Location
) -> _Scanner:
    """Read the device's metadata; it must host a scan service."""
    try:
        info = await wsd.get_device_info(
            session, location.endpoint, location.xaddrs, timeout=REQUEST_TIMEOUT
        )
    except wsd.WsdError as err:
        raise _CannotAdd(_reason(err)) from err
    if info.scan_service_url is None:
        raise _CannotAdd("not_wsd_scanner")
    return _Scanner(location.host, location.xaddrs, info)


async def _async_add_host(session: aiohttp.ClientSession, target: str) -> _Scanner:
    return await _async_describe(session, await _async_locate(session, target))


async def _async_locate_on_ports(
    session: aiohttp.ClientSession, host: str, advertised: int | None
) -> _Location:
    """Find WSD on a host known from mDNS, trying the likely ports in turn."""
    ports = dict.fromkeys(
        port for port in (PROBE_PORTS[0], advertised, *PROBE_PORTS[1:]) if port
    )
    reason = "cannot_connect"
    for port in ports:
        target = yarl.URL.build(scheme="http", host=host, port=port).raw_authority
        try:
            return await _async_locate(session, target)
        except _CannotAdd as err:
            _LOGGER.debug("No WSD scanner at %s: %s", target, err.reason)
            if err.reason != "cannot_connect":
                reason = "not_wsd_scanner"
    raise _CannotAdd(reason)


async def _async_try_describe(
    session: aiohttp.ClientSession, device: wsd.DiscoveredDevice
) -> wsd.DeviceInfo | None:
    """Return a probed device's metadata, None unless it comes within REQUEST_TIMEOUT."""
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            return await wsd.get_device_info(
                session, device.uuid, device.xaddrs, timeout=REQUEST_TIMEOUT
            )
    except (wsd.WsdError, TimeoutError) as err:
        _LOGGER.debug("No metadata from %s: %s", device.uuid, err or "timeout")
        return None


async def _async_attempt[T](work: Awaitable[T]) -> tuple[T | None, str | None]:
    """Run `work`; return its result, or the translation key of why it failed."""
    try:
        return await work, None
    except _CannotAdd as err:
        return None, err.reason
    except Exception:
        _LOGGER.exception("Unexpected error while talking to the scanner")
        return None, "unknown"


class WsdScanConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a WSD scanner."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing found."""
        self._discovered: dict[str, _Candidate] = {}
        self._scanner: _Scanner | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> WsdScanOptionsFlow:
        """Return the options flow."""
        return WsdScanOptionsFlow()

    @property
    def _session(self) -> aiohttp.ClientSession:
        return async_get_clientsession(self.hass)

    # --- user: pick a scanner found by WS-Discovery, or enter a host -------------------

    @override
    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """List the scanners WS-Discovery finds, plus the choice to enter a host."""
        if user_input is None:
            await self._async_discover()
            if not self._discovered:
                return await self.async_step_manual()
            return self._async_show_user_form()
        choice = user_input[CONF_DEVICE]
        if choice == MANUAL:
            return await self.async_step_manual()
        candidate = self._discovered[choice]
        await self.async_set_unique_id(choice, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        device = candidate.device
        location = _Location(candidate.host, device.uuid, device.xaddrs)
        if candidate.info is not None:
            scanner: _Scanner | None = _Scanner(
                location.host, location.xaddrs, candidate.info
            )
        else:
            scanner, reason = await _async_attempt(
                _async_describe(self._session, location)
            )
            if scanner is None:
                return self._async_show_user_form({"base": str(reason)})
        self._scanner = scanner
        return await self.async_step_confirm()

    async def _async_discover(self) -> None:
        """Probe on Home Assistant's adapters; read each answer's metadata meanwhile."""
        self._discovered = {}
        interfaces = await discovery.async_get_interfaces(self.hass)
        if not interfaces:
            return
        configured = self._async_current_ids(include_ignore=False)
        found: dict[
            str, tuple[wsd.DiscoveredDevice, asyncio.Task[wsd.DeviceInfo | None]]
        ] = {}
        try:
            async with contextlib.aclosing(
                cast(  # wsd.probe is an async generator (closed early: sockets too)
                    "AsyncGenerator[wsd.DiscoveredDevice]",
                    wsd.probe(
                        interfaces,
                        timeout=DISCOVERY_TIMEOUT,
                        include_candidates=True,
                        multicast=discovery.get_multicast(),
                    ),
                )
            ) as devices:
                async for device in devices:
                    if device.uuid in configured:
                        continue
                    found[device.uuid] = (
                        device,
                        self.hass.async_create_task(
                            _async_try_describe(self._session, device),
                            f"{DOMAIN} metadata of {device.uuid}",
                            eager_start=True,
                        ),
                    )
        except wsd.WsdError as err:
            _LOGGER.debug("WS-Discovery probe on %s failed: %s", interfaces, err)
        infos = await asyncio.gather(*(task for _, task in found.values()))
        for (uuid, (device, _)), info in zip(found.items(), infos, strict=True):
            if _listable(device, info):
                self._discovered[uuid] = _Candidate(device, info)

    @callback
    def _async_show_user_form(
        self, errors: dict[str, str] | None = None
    ) -> ConfigFlowResult:
        candidates = sorted(
            self._discovered.items(), key=lambda item: item[1].label.lower()
        )
        options = [
            SelectOptionDict(value=uuid, label=candidate.label)
            for uuid, candidate in candidates
        ]
        # Labelled by the translation (selector.device.options.manual); this is its fallback.
        options.append(SelectOptionDict(value=MANUAL, label="Enter a host"))
        schema = probatio.Schema(
            {
                probatio.Required(CONF_DEVICE): SelectSelector(
                    SelectSelectorConfig(
                        options=options,
                        translation_key=CONF_DEVICE,
                        mode=SelectSelectorMode.LIST,
                    )
                )
            }
        )
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    async def async_step_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a scanner by host, `host:port` or device URL (directed probe)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            host = user_input[CONF_HOST].strip()
            scanner, reason = await _async_attempt(_async_add_host(self._session, host))
            if scanner is not None:
                await self.async_set_unique_id(
                    scanner.info.uuid, raise_on_progress=False
                )
                self._abort_if_unique_id_configured()
                self._scanner = scanner
                return await self.async_step_confirm()
            errors[CONF_HOST if reason == "invalid_host" else "base"] = str(reason)
        return self.async_show_form(
            step_id="manual",
            data_schema=self.add_suggested_values_to_schema(HOST_SCHEMA, user_input),
            errors=errors,
        )

    # --- discovery: zeroconf and our own WS-Discovery -----------------------------------

    @override
    async def async_step_zeroconf(
        self, discovery_info: ZeroconfServiceInfo
    ) -> ConfigFlowResult:
        """Offer a scanner announced over mDNS once a directed probe confirms WSD."""
        host = discovery_info.host
        self._async_abort_known_host(host)
        location, reason = await _async_attempt(
            _async_locate_on_ports(self._session, host, discovery_info.port)
        )
        if location is None:
            return self.async_abort(reason=str(reason))
        return await self._async_discovered(location)

    @override
    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """Offer a scanner heard by WS-Discovery (discovery.py)."""
        return await self._async_discovered(
            _Location(
                host=discovery_info["host"],
                endpoint=normalize_uuid(discovery_info["uuid"]),
                xaddrs=tuple(discovery_info["xaddrs"]),
            )
        )

    @callback
    def _async_abort_known_host(self, host: str) -> None:
        """Abort before probing a host an entry already uses (mDNS repeats itself)."""
        for entry in self._async_current_entries(include_ignore=False):
            if same_host(_host_part(str(entry.data.get(CONF_HOST) or "")), host):
                if entry.state is ConfigEntryState.SETUP_RETRY:  # it is back
                    self.hass.config_entries.async_schedule_reload(entry.entry_id)
                raise AbortFlow("already_configured")

    async def _async_discovered(self, location: _Location) -> ConfigFlowResult:
        """Update a known scanner's address, or confirm a new one."""
        entry = await self.async_set_unique_id(normalize_uuid(location.endpoint))
        self._abort_if_unique_id_configured(
            updates=_address_updates(entry, location.host, location.xaddrs)
        )
        scanner, reason = await _async_attempt(_async_describe(self._session, location))
        if scanner is None:
            return self.async_abort(reason=str(reason))
        self._scanner = scanner
        self._set_confirm_only()
        return await self.async_step_confirm()

    # --- confirm -----------------------------------------------------------------------

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show who the scanner is; add it."""
        scanner = self._scanner
        assert scanner is not None
        info = scanner.info
        if user_input is not None:
            return self.async_create_entry(
                title=info.name,
                data={CONF_HOST: scanner.host, CONF_XADDRS: list(scanner.xaddrs)},
            )
        self.context["title_placeholders"] = {"name": info.name}
        return self.async_show_form(
            step_id="confirm",
            description_placeholders={
                "name": info.name,
                "model": _model(info),
                "host": scanner.host,
            },
        )

    # --- reconfigure -------------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the host of a configured scanner; it must stay the same device."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            host = user_input[CONF_HOST].strip()
            scanner, reason = await _async_attempt(_async_add_host(self._session, host))
            if scanner is not None:
                await self.async_set_unique_id(
                    scanner.info.uuid, raise_on_progress=False
                )
                self._abort_if_unique_id_mismatch()
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={
                        CONF_HOST: scanner.host,
                        CONF_XADDRS: list(scanner.xaddrs),
                    },
                )
            errors[CONF_HOST if reason == "invalid_host" else "base"] = str(reason)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                HOST_SCHEMA, user_input or {CONF_HOST: entry.data.get(CONF_HOST)}
            ),
            errors=errors,
            description_placeholders={"name": entry.title},
        )


class WsdScanOptionsFlow(OptionsFlowWithReload):
    """Default scan settings, the polling fallback, the callback URL and panel profiles."""

    _profile_id: str | None = None
    _receive_options: dict[str, Any]

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer what can be changed."""
        menu = ["settings", "post_scan", "receive", "add_profile"]
        if stored_profiles(self.config_entry.options):
            menu += ["edit_profile", "remove_profile"]
        return self.async_show_menu(step_id="init", menu_options=menu)

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the default settings (a change reloads the entry)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            advanced = user_input[SECTION_ADVANCED]
            options: dict[str, Any] = {
                **_settings(user_input),
                CONF_POLL_INTERVAL: int(advanced[CONF_POLL_INTERVAL]),
            }
            if CONF_PROFILES in self.config_entry.options:
                options[CONF_PROFILES] = self.config_entry.options[CONF_PROFILES]
            if raw_url := (advanced.get(CONF_CALLBACK_URL) or "").strip():
                if (url := _callback_url(raw_url)) is None:
                    errors["base"] = "invalid_callback_url"
                else:
                    options[CONF_CALLBACK_URL] = url
            if not errors:
                return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="settings",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA, user_input or _sectioned(self.config_entry.options)
            ),
            errors=errors,
        )

    async def async_step_post_scan(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the post-scan endpoint (no endpoint: none)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            config = _post_scan_config(user_input)
            options = dict(self.config_entry.options)
            if CONF_ENDPOINT not in config:
                options.pop(CONF_POST_SCAN, None)
                return self.async_create_entry(data=options)
            errors = await _post_scan_errors(self.hass, config)
            if not errors:
                return self.async_create_entry(data={**options, CONF_POST_SCAN: config})
        return self.async_show_form(
            step_id="post_scan",
            data_schema=self.add_suggested_values_to_schema(
                POST_SCAN_SCHEMA,
                user_input or self.config_entry.options.get(CONF_POST_SCAN, {}),
            ),
            errors=errors,
        )

    async def async_step_receive(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Turn receiving post-scan jobs on or off; make or rotate the URL's secret."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                options = receive_options(self.config_entry.options, user_input)
            except ValueError:
                errors[CONF_RECEIVE_HOSTS] = "invalid_receive_hosts"
            else:
                if not options[CONF_RECEIVE_POST_SCAN]:
                    return self.async_create_entry(data=options)
                self._receive_options = options
                return await self.async_step_receive_url()
        stored = self.config_entry.options
        secret = stored.get(CONF_RECEIVE_SECRET)
        return self.async_show_form(
            step_id="receive",
            data_schema=self.add_suggested_values_to_schema(
                RECEIVE_SCHEMA,
                user_input
                or {
                    CONF_RECEIVE_POST_SCAN: stored.get(CONF_RECEIVE_POST_SCAN, False),
                    CONF_RECEIVE_HOSTS: stored.get(CONF_RECEIVE_HOSTS, []),
                },
            ),
            errors=errors,
            description_placeholders={
                "url": endpoint_url(self.hass, secret) if secret else "-"
            },
        )

    async def async_step_receive_url(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the endpoint's URL to give WS-DSP clients, then save."""
        if user_input is not None:
            return self.async_create_entry(data=self._receive_options)
        return self.async_show_form(
            step_id="receive_url",
            description_placeholders={
                "url": endpoint_url(
                    self.hass, self._receive_options[CONF_RECEIVE_SECRET]
                )
            },
        )

    async def async_step_add_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a profile."""
        self._profile_id = None
        return await self.async_step_profile()

    async def async_step_edit_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the profile to change."""
        if user_input is not None:
            self._profile_id = user_input[CONF_PROFILE_ID]
            return await self.async_step_profile()
        return self.async_show_form(
            step_id="edit_profile",
            data_schema=probatio.Schema(
                {probatio.Required(CONF_PROFILE_ID): self._profile_selector()}
            ),
        )

    async def async_step_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save one profile: its name on the panel and its scan settings."""
        profiles = stored_profiles(self.config_entry.options)
        current = next(
            (p for p in profiles if p[CONF_PROFILE_ID] == self._profile_id), None
        )
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            others = [p for p in profiles if p is not current]
            if not name or len(name) > MAX_PROFILE_NAME:
                errors[CONF_NAME] = "invalid_profile_name"
            elif any(p[CONF_NAME].casefold() == name.casefold() for p in others):
                errors[CONF_NAME] = "duplicate_profile_name"
            else:
                profile = {
                    CONF_PROFILE_ID: self._profile_id or uuid4().hex,
                    CONF_NAME: name,
                    **_settings(user_input),
                    CONF_DESTINATION: user_input[CONF_DESTINATION],
                }
                if current is None:
                    profiles.append(profile)
                else:
                    profiles[profiles.index(current)] = profile
                return self._save_profiles(profiles)
        shown = user_input or (_as_shown(current) if current is not None else None)
        return self.async_show_form(
            step_id="profile",
            data_schema=self.add_suggested_values_to_schema(PROFILE_SCHEMA, shown),
            errors=errors,
        )

    async def async_step_remove_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Remove profiles (their entries leave the scanner's panel)."""
        if user_input is not None:
            removed = set(user_input[CONF_PROFILES])
            return self._save_profiles(
                [
                    profile
                    for profile in stored_profiles(self.config_entry.options)
                    if profile[CONF_PROFILE_ID] not in removed
                ]
            )
        return self.async_show_form(
            step_id="remove_profile",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_PROFILES): self._profile_selector(
                        multiple=True
                    )
                }
            ),
        )

    def _profile_selector(self, *, multiple: bool = False) -> SelectSelector:
        return SelectSelector(
            SelectSelectorConfig(
                options=[
                    SelectOptionDict(value=p[CONF_PROFILE_ID], label=p[CONF_NAME])
                    for p in stored_profiles(self.config_entry.options)
                ],
                multiple=multiple,
                mode=SelectSelectorMode.LIST,
            )
        )

    def _save_profiles(self, profiles: list[dict[str, Any]]) -> ConfigFlowResult:
        return self.async_create_entry(
            data={**self.config_entry.options, CONF_PROFILES: profiles}
        )


def _post_scan_config(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return what the post-scan form was given: trimmed, empty fields left out."""
    config = {
        key: value.strip() if isinstance(value, str) else value
        for key, value in user_input.items()
        if key != CONF_FILTERS
    }
    config = {key: value for key, value in config.items() if value != ""}
    if filters := [
        entry for entry in user_input.get(CONF_FILTERS, []) if entry.strip()
    ]:
        config[CONF_FILTERS] = filters
    return config


async def _post_scan_errors(
    hass: HomeAssistant, config: Mapping[str, Any]
) -> dict[str, str]:
    """Check a post-scan configuration; return the form's errors."""
    if not _post_scan_endpoint_valid(config[CONF_ENDPOINT]):
        return {CONF_ENDPOINT: "invalid_endpoint"}
    try:
        post_scan_settings(config, "scan")
    except wsd.WsdError:
        return {CONF_FILTERS: "invalid_filter"}
    try:
        await hass.async_add_executor_job(partial(tls_setting, config))
    except wsd.WsdError:
        return {CONF_CA_FILE: "invalid_ca_file"}
    return {}


def _post_scan_endpoint_valid(value: str) -> bool:
    """Whether `value` is an http(s) URL, or a host the directed probe can ask."""
    if "://" in value:
        return _callback_url(value) is not None
    try:
        directed_probe_url(value)
    except wsd.WsdError:
        return False
    return True


def _settings(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the scan settings of a submitted form, as stored."""
    return {
        CONF_SOURCE: user_input[CONF_SOURCE],
        CONF_FORMAT: user_input[CONF_FORMAT],
        CONF_RESOLUTION: int(user_input[CONF_RESOLUTION]),
        CONF_COLOR: user_input[CONF_COLOR],
        CONF_PAPER: user_input[CONF_PAPER],
    }


def _as_shown(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Return stored settings as the forms show them (a resolution is a choice of text)."""
    shown = dict(stored)
    if CONF_RESOLUTION in shown:
        shown[CONF_RESOLUTION] = str(shown[CONF_RESOLUTION])
    return shown


def _sectioned(options: Mapping[str, Any]) -> dict[str, Any]:
    """Turn stored (flat) options into the form's shape."""
    shown = _as_shown({key: options[key] for key in SETTINGS_KEYS if key in options})
    shown[SECTION_ADVANCED] = {
        key: options[key]
        for key in (CONF_POLL_INTERVAL, CONF_CALLBACK_URL)
        if key in options
    }
    return shown
